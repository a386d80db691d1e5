#include "src/fit/profile_fit.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

namespace refinery {

using likelihood::Constraint;
using likelihood::LikelihoodModel;
using likelihood::ModelSpec;

double chi2_level(double cl) {
  double lo = 0.0, hi = 40.0;
  for (int i = 0; i < 200; ++i) {
    const double z = 0.5 * (lo + hi);
    (std::erf(z / std::sqrt(2.0)) < cl ? lo : hi) = z;
  }
  const double z = 0.5 * (lo + hi);
  return z * z;
}

namespace {

FitResult run_fit(const LikelihoodModel& model, Eigen::VectorXd x0, const std::vector<bool>& fixed,
                  const FitOptions& options) {
  const ModelSpec& spec = model.spec();
  const int D = spec.n_params();
  Eigen::VectorXd lower(D), upper(D);
  for (int i = 0; i < D; ++i) {
    lower[i] = spec.parameters[i].lower;
    upper[i] = spec.parameters[i].upper;
  }
  Objective f = [&](const Eigen::VectorXd& x, Eigen::VectorXd* g, Eigen::MatrixXd* h) {
    return model.evaluate(x, g, h);
  };
  MinimizerResult m = minimize(f, x0, lower, upper, fixed, options.minimizer);
  FitResult r;
  r.x = m.x;
  r.nll = m.f;
  r.edm = m.edm;
  r.iterations = m.iterations;
  r.evaluations = m.evaluations;
  r.converged = m.usable();
  r.at_bound = m.at_bound;
  r.error = Eigen::VectorXd::Zero(D);
  r.covariance = Eigen::MatrixXd::Zero(D, D);
  if (!r.converged) {
    r.status = "failed: " + m.message;
    return r;
  }
  std::string bound_names;
  for (int i = 0; i < D; ++i)
    if (!fixed[i] && i < int(m.at_bound.size()) && m.at_bound[i])
      bound_names += (bound_names.empty() ? "" : ", ") + spec.parameters[i].name;
  r.status = bound_names.empty() ? "converged" : "converged at bound (" + bound_names + ")";
  Eigen::VectorXd g;
  model.evaluate(r.x, &g, &r.hessian);
  std::vector<int> free;
  for (int i = 0; i < D; ++i)
    if (!fixed[i] && !(i < int(m.at_bound.size()) && m.at_bound[i])) free.push_back(i);
  const int n = int(free.size());
  Eigen::MatrixXd hf(n, n);
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b) hf(a, b) = r.hessian(free[a], free[b]);
  Eigen::LDLT<Eigen::MatrixXd> ldlt(hf);
  if (n > 0 && ldlt.info() == Eigen::Success && ldlt.isPositive() && (ldlt.vectorD().array() > 0).all()) {
    Eigen::MatrixXd cov = ldlt.solve(Eigen::MatrixXd::Identity(n, n));
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < n; ++b) r.covariance(free[a], free[b]) = cov(a, b);
    for (int a = 0; a < n; ++a) r.error[free[a]] = std::sqrt(std::max(cov(a, a), 0.0));
    r.covariance_ok = true;
  } else if (n > 0) {
    r.status += "; Hessian not positive definite: no covariance";
  }
  return r;
}

std::vector<bool> fixed_of(const ModelSpec& spec, const FitOptions& options) {
  std::vector<bool> fixed = options.fixed;
  fixed.resize(spec.n_params(), false);
  return fixed;
}

}  // namespace

FitResult fit_model(const LikelihoodModel& model, const FitOptions& options, Eigen::VectorXd x0) {
  if (x0.size() == 0) x0 = model.spec().nominal();
  return run_fit(model, x0, fixed_of(model.spec(), options), options);
}

FitResult fit_at_poi(const LikelihoodModel& model, double mu, const Eigen::VectorXd& start,
                     const FitOptions& options) {
  std::vector<bool> fixed = fixed_of(model.spec(), options);
  fixed[0] = true;
  Eigen::VectorXd x0 = start;
  x0[0] = mu;
  return run_fit(model, x0, fixed, options);
}

nlohmann::json FitResult::to_json(const ModelSpec& spec) const {
  nlohmann::json j;
  j["status"] = status;
  j["converged"] = converged;
  j["nll"] = nll;
  j["edm"] = edm;
  j["iterations"] = iterations;
  j["evaluations"] = evaluations;
  nlohmann::json pars = nlohmann::json::array();
  for (int i = 0; i < spec.n_params(); ++i)
    pars.push_back({{"name", spec.parameters[i].name},
                    {"value", x[i]},
                    {"error", error[i]},
                    {"at_bound", i < int(at_bound.size()) && at_bound[i]}});
  j["parameters"] = pars;
  const int D = spec.n_params();
  nlohmann::json corr = nlohmann::json::array();
  for (int a = 0; a < D; ++a) {
    nlohmann::json row = nlohmann::json::array();
    for (int b = 0; b < D; ++b) {
      const double d = error[a] * error[b];
      row.push_back(d > 0 ? covariance(a, b) / d : (a == b ? 1.0 : 0.0));
    }
    corr.push_back(row);
  }
  j["correlation"] = corr;
  return j;
}

// ---------------------------------------------------------------------------
namespace {

// One side of the interval: direction +1 (upper) or -1 (lower).
Crossing find_crossing(const LikelihoodModel& model, const FitResult& best, double level, int direction,
                       const FitOptions& options) {
  const auto& poi = model.spec().parameters[0];
  const double mu_hat = best.x[0];
  const double bound = direction > 0 ? poi.upper : poi.lower;
  const double target = std::sqrt(level);
  double sigma = best.error[0] > 0 ? best.error[0] : std::max(0.1 * std::abs(mu_hat), 0.1);
  Crossing c;
  // Points (mu, sqrt t) known so far; sqrt t is close to linear in mu.
  double mu_a = mu_hat, q_a = 0.0;
  Eigen::VectorXd warm = best.x;
  double mu = mu_hat + direction * sigma * target;
  for (int step = 0; step < options.max_crossing_steps; ++step) {
    if (direction * (mu - bound) >= 0) mu = bound;
    FitResult r = fit_at_poi(model, mu, warm, options);
    ++c.fits;
    if (!r.converged) {
      c.status = "profile fit failed at mu = " + std::to_string(mu) + ": " + r.status;
      c.value = mu;
      return c;
    }
    const double t = std::max(2.0 * (r.nll - best.nll), 0.0);
    const double q = std::sqrt(t);
    if (std::abs(t - level) < options.crossing_tolerance) {
      c.value = mu;
      c.found = true;
      c.status = "found";
      return c;
    }
    if (mu == bound && t < level) {
      c.value = bound;
      c.at_bound = true;
      c.status = "t(mu) below the level at the POI's bound";
      return c;
    }
    warm = r.x;
    // Secant on sqrt(t) - sqrt(level) through the last two points.
    double next;
    if (std::abs(q - q_a) > 1e-12) next = mu + (target - q) * (mu - mu_a) / (q - q_a);
    else next = mu + direction * sigma;
    // Keep the step on the correct side and not wildly long.
    if (direction * (next - mu_hat) <= 0) next = 0.5 * (mu + mu_hat);
    mu_a = mu;
    q_a = q;
    mu = next;
  }
  c.value = mu;
  c.status = "no crossing within " + std::to_string(options.max_crossing_steps) + " profile fits";
  return c;
}

}  // namespace

Interval profile_interval(const LikelihoodModel& model, const FitResult& best, double level,
                          const FitOptions& options) {
  Interval in;
  in.level = level;
  in.cl = std::erf(std::sqrt(level) / std::sqrt(2.0));
  in.lower = find_crossing(model, best, level, -1, options);
  in.upper = find_crossing(model, best, level, +1, options);
  return in;
}

nlohmann::json Interval::to_json() const {
  auto side = [](const Crossing& c) {
    return nlohmann::json{{"value", c.value}, {"found", c.found}, {"at_bound", c.at_bound}, {"status", c.status}, {"fits", c.fits}};
  };
  return {{"level", level}, {"cl", cl}, {"lower", side(lower)}, {"upper", side(upper)}, {"width", upper.value - lower.value}};
}

std::vector<ScanPoint> profile_scan(const LikelihoodModel& model, const FitResult& best, const std::vector<double>& mus,
                                    const FitOptions& options) {
  std::vector<ScanPoint> out(mus.size());
  std::vector<size_t> up, down;
  for (size_t i = 0; i < mus.size(); ++i) (mus[i] >= best.x[0] ? up : down).push_back(i);
  std::sort(up.begin(), up.end(), [&](size_t a, size_t b) { return mus[a] < mus[b]; });
  std::sort(down.begin(), down.end(), [&](size_t a, size_t b) { return mus[a] > mus[b]; });
  for (const auto* side : {&up, &down}) {
    Eigen::VectorXd warm = best.x;
    for (size_t i : *side) {
      FitResult r = fit_at_poi(model, mus[i], warm, options);
      out[i] = {mus[i], 2.0 * (r.nll - best.nll), r.nll, r.converged, r.x};
      if (r.converged) warm = r.x;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
Impacts compute_impacts(const LikelihoodModel& model, const FitResult& best, const FitOptions& options) {
  const ModelSpec& spec = model.spec();
  const std::vector<bool> base_fixed = fixed_of(spec, options);
  Impacts out;
  out.mu_hat = best.x[0];
  out.mu_error = best.error[0];
  auto shifted = [&](int i, double value) {
    FitOptions o = options;
    o.fixed = base_fixed;
    o.fixed[i] = true;
    Eigen::VectorXd x0 = best.x;
    x0[i] = std::clamp(value, spec.parameters[i].lower, spec.parameters[i].upper);
    FitResult r = fit_model(model, o, x0);
    return r.converged ? r.x[0] - best.x[0] : NAN;
  };
  for (int i = 1; i < spec.n_params(); ++i) {
    if (base_fixed[i]) continue;
    const auto& p = spec.parameters[i];
    Impact im;
    im.name = p.name;
    im.nu_hat = best.x[i];
    im.nu_error = best.error[i];
    if (p.constraint == Constraint::kGaussian) {
      im.prefit_error = p.width;
      im.prefit_up = shifted(i, best.x[i] + p.width);
      im.prefit_down = shifted(i, best.x[i] - p.width);
    } else if (p.constraint == Constraint::kLogNormal) {
      im.prefit_error = p.width;  // in log(nu)
      im.prefit_up = shifted(i, best.x[i] * std::exp(p.width));
      im.prefit_down = shifted(i, best.x[i] * std::exp(-p.width));
    }
    im.postfit_up = shifted(i, best.x[i] + best.error[i]);
    im.postfit_down = shifted(i, best.x[i] - best.error[i]);
    out.ranked.push_back(im);
  }
  std::sort(out.ranked.begin(), out.ranked.end(), [](const Impact& a, const Impact& b) {
    return std::max(std::abs(a.postfit_up), std::abs(a.postfit_down)) >
           std::max(std::abs(b.postfit_up), std::abs(b.postfit_down));
  });
  FitOptions stat = options;
  stat.fixed.assign(spec.n_params(), true);
  stat.fixed[0] = false;
  FitResult r = fit_model(model, stat, best.x);
  out.stat_only_error = r.error[0];
  return out;
}

nlohmann::json Impacts::to_json() const {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& i : ranked)
    rows.push_back({{"name", i.name}, {"nu_hat", i.nu_hat}, {"nu_error", i.nu_error}, {"prefit_error", i.prefit_error},
                    {"prefit_up", i.prefit_up}, {"prefit_down", i.prefit_down}, {"postfit_up", i.postfit_up},
                    {"postfit_down", i.postfit_down}});
  return {{"mu_hat", mu_hat}, {"mu_error", mu_error}, {"stat_only_error", stat_only_error},
          {"syst_error", std::sqrt(std::max(mu_error * mu_error - stat_only_error * stat_only_error, 0.0))},
          {"impacts", rows}};
}

std::string Impacts::table() const {
  std::ostringstream s;
  s << std::setprecision(4);
  s << "mu_hat = " << mu_hat << " +- " << mu_error << " (stat only " << stat_only_error << ")\n";
  s << std::left << std::setw(14) << "nuisance" << std::right << std::setw(10) << "nu_hat" << std::setw(10) << "error"
    << std::setw(11) << "pre +" << std::setw(11) << "pre -" << std::setw(11) << "post +" << std::setw(11) << "post -"
    << "\n";
  for (const auto& i : ranked)
    s << std::left << std::setw(14) << i.name << std::right << std::setw(10) << i.nu_hat << std::setw(10) << i.nu_error
      << std::setw(11) << i.prefit_up << std::setw(11) << i.prefit_down << std::setw(11) << i.postfit_up
      << std::setw(11) << i.postfit_down << "\n";
  return s.str();
}

}  // namespace refinery
