#include "src/stats/fit.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>

namespace refinery::stats {

const char* fit_status_name(FitStatus s) {
  switch (s) {
    case FitStatus::kConverged: return "converged";
    case FitStatus::kConvergedAtBound: return "converged_at_bound";
    case FitStatus::kFailed: break;
  }
  return "failed";
}

namespace {

// Inverse of the Hessian restricted to `free`, scattered into covariance;
// false when that block is not positive definite.
bool invert(const Eigen::MatrixXd& hessian, const std::vector<int>& free, Eigen::MatrixXd* covariance) {
  const int n = static_cast<int>(free.size()), D = static_cast<int>(hessian.rows());
  covariance->setZero(D, D);
  if (n == 0) return true;
  Eigen::MatrixXd hf(n, n);
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b) hf(a, b) = hessian(free[a], free[b]);
  if (!hf.allFinite()) return false;
  Eigen::LDLT<Eigen::MatrixXd> ldlt(hf);
  if (ldlt.info() != Eigen::Success || !ldlt.isPositive() || !(ldlt.vectorD().array() > 0).all()) return false;
  const Eigen::MatrixXd c = ldlt.solve(Eigen::MatrixXd::Identity(n, n));
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b) (*covariance)(free[a], free[b]) = c(a, b);
  return true;
}

}  // namespace

FitResult fit(const Model& model, const FitOptions& options) {
  const int D = model.size();
  FitResult r;
  r.names = model.names();
  Eigen::VectorXd lower = model.lower(), upper = model.upper();
  Eigen::VectorXd x0 = options.start.size() == D ? options.start : model.init();
  r.held = model.fixed();
  for (const auto& [i, v] : options.hold) {
    r.held[i] = true;
    x0[i] = v;
    lower[i] = std::min(lower[i], v);
    upper[i] = std::max(upper[i], v);
  }
  for (int i = 0; i < D; ++i)
    if (!r.held[i]) x0[i] = std::clamp(x0[i], lower[i], upper[i]);
  MinimizerOptions mo = options.minimizer;
  for (int i : model.multimodal_parameters())
    if (std::find(mo.multimodal.begin(), mo.multimodal.end(), i) == mo.multimodal.end()) mo.multimodal.push_back(i);
  for (const auto& b : model.breakpoints())
    if (std::find(mo.breakpoints.begin(), mo.breakpoints.end(), b) == mo.breakpoints.end()) mo.breakpoints.push_back(b);
  Objective f = [&](const Eigen::VectorXd& x, Eigen::VectorXd* g, Eigen::MatrixXd* h) { return model.nll(x, g, h); };
  MinimizerResult m = minimize(f, x0, lower, upper, r.held, mo);
  r.x = m.x;
  r.nll = m.f;
  r.edm = m.edm;
  r.iterations = m.iterations;
  r.evaluations = m.evaluations;
  r.attempts = m.attempts;
  r.at_bound = m.at_bound;
  r.at_bound.resize(D, false);
  r.error = Eigen::VectorXd::Zero(D);
  r.covariance = Eigen::MatrixXd::Zero(D, D);
  if (!m.usable()) {
    r.status = FitStatus::kFailed;
    r.reason = m.message.empty() ? "the minimiser did not converge" : m.message;
    return r;
  }
  std::string bound_names;
  for (int i = 0; i < D; ++i)
    if (!r.held[i] && r.at_bound[i]) bound_names += (bound_names.empty() ? "" : ", ") + r.names[i];
  r.status = bound_names.empty() ? FitStatus::kConverged : FitStatus::kConvergedAtBound;
  if (!bound_names.empty()) r.reason = "at a bound: " + bound_names;
  if (!options.covariance) return r;
  Eigen::VectorXd g;
  model.nll(r.x, &g, &r.hessian);
  std::vector<int> free, inner;
  for (int i = 0; i < D; ++i) {
    if (r.held[i]) continue;
    free.push_back(i);
    if (!r.at_bound[i]) inner.push_back(i);
  }
  r.covariance_ok = invert(r.hessian, free, &r.covariance) ||
                    (inner.size() < free.size() && invert(r.hessian, inner, &r.covariance));
  if (r.covariance_ok) {
    for (int i = 0; i < D; ++i) r.error[i] = std::sqrt(std::max(r.covariance(i, i), 0.0));
  } else if (!free.empty()) {
    r.reason += std::string(r.reason.empty() ? "" : "; ") + "Hessian not positive definite: no covariance";
  }
  return r;
}

FitResult fit_at(const Model& model, int index, double value, const Eigen::VectorXd& start, FitOptions options) {
  options.hold.push_back({index, value});
  options.start = start;
  return fit(model, options);
}

std::string FitResult::brief() const {
  std::ostringstream s;
  s << std::setprecision(10) << fit_status_name(status);
  if (!reason.empty()) s << " (" << reason << ")";
  s << ": nll = " << nll << ", edm = " << std::setprecision(3) << edm << ", " << iterations << " iterations";
  return s.str();
}

std::string FitResult::report() const {
  std::ostringstream s;
  s << brief() << "\n";
  size_t width = 9;
  for (const auto& n : names) width = std::max(width, n.size());
  s << std::left << std::setw(int(width) + 2) << "parameter" << std::right << std::setw(16) << "value"
    << std::setw(14) << "error" << "\n";
  for (int i = 0; i < x.size(); ++i) {
    s << std::left << std::setw(int(width) + 2) << names[i] << std::right << std::setprecision(8) << std::setw(16)
      << x[i] << std::setprecision(4) << std::setw(14) << error[i];
    if (held[i]) s << "  fixed";
    else if (at_bound[i]) s << "  at bound";
    s << "\n";
  }
  if (!attempts.empty()) {
    s << "minimiser attempts:\n";
    for (const auto& a : attempts)
      s << "  " << a.strategy << ": " << (a.converged ? "converged" : "failed") << std::setprecision(12)
        << ", f = " << a.f << std::setprecision(3) << ", edm = " << a.edm << ", " << a.iterations << " iterations"
        << (a.message.empty() ? "" : " (" + a.message + ")") << "\n";
  }
  return s.str();
}

nlohmann::json FitResult::to_json() const {
  nlohmann::json j;
  j["status"] = fit_status_name(status);
  j["reason"] = reason;
  j["converged"] = ok();
  j["nll"] = std::isfinite(nll) ? nlohmann::json(nll) : nlohmann::json(nullptr);
  j["twice_nll"] = std::isfinite(nll) ? nlohmann::json(2.0 * nll) : nlohmann::json(nullptr);
  j["edm"] = edm;
  j["iterations"] = iterations;
  j["evaluations"] = evaluations;
  nlohmann::json tries = nlohmann::json::array();
  for (const auto& a : attempts)
    tries.push_back({{"strategy", a.strategy}, {"converged", a.converged}, {"nll", a.f}, {"edm", a.edm},
                     {"iterations", a.iterations}, {"message", a.message}});
  j["attempts"] = tries;
  nlohmann::json pars = nlohmann::json::array();
  for (int i = 0; i < x.size(); ++i)
    pars.push_back({{"name", names[i]}, {"value", x[i]}, {"error", error[i]}, {"fixed", bool(held[i])},
                    {"at_bound", bool(at_bound[i])}});
  j["parameters"] = pars;
  const int D = static_cast<int>(x.size());
  nlohmann::json corr = nlohmann::json::array();
  for (int a = 0; a < D && covariance_ok; ++a) {
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

Eigen::VectorXd constraint_slopes(const Model& model, const FitResult& fit, int poi) {
  const int D = model.size();
  Eigen::VectorXd out = Eigen::VectorXd::Constant(D, std::numeric_limits<double>::quiet_NaN());
  if (!fit.ok() || !fit.covariance_ok || fit.covariance.rows() != D || fit.x.size() != D || poi < 0 || poi >= D)
    return out;
  Eigen::MatrixXd p = Eigen::MatrixXd::Zero(D, D);
  model.constraint_nll(fit.x, nullptr, &p);
  out = -(fit.covariance.row(poi) * p).transpose();
  return out;
}

}  // namespace refinery::stats
