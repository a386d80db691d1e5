#include "src/stats/hypotest.h"

#include <cmath>
#include <functional>
#include <iomanip>
#include <sstream>

#include "src/core/error.h"
#include "src/stats/probability.h"

namespace refinery::stats {

namespace {

// Brent's root finder on [a, b] with f(a), f(b) of opposite signs.
double brent(const std::function<double(double)>& f, double a, double b, double fa, double fb,
             double tol = 1e-7) {
  double c = a, fc = fa, d = b - a, e = d;
  for (int it = 0; it < 200; ++it) {
    if ((fb > 0) == (fc > 0)) c = a, fc = fa, d = e = b - a;
    if (std::abs(fc) < std::abs(fb)) {
      a = b, b = c, c = a;
      fa = fb, fb = fc, fc = fa;
    }
    const double tol1 = 2e-16 * std::abs(b) + 0.5 * tol, xm = 0.5 * (c - b);
    if (std::abs(xm) <= tol1 || fb == 0) return b;
    if (std::abs(e) >= tol1 && std::abs(fa) > std::abs(fb)) {
      double s = fb / fa, p, q;
      if (a == c) {
        p = 2 * xm * s, q = 1 - s;
      } else {
        double qq = fa / fc, r = fb / fc;
        p = s * (2 * xm * qq * (qq - r) - (b - a) * (r - 1));
        q = (qq - 1) * (r - 1) * (s - 1);
      }
      if (p > 0) q = -q;
      p = std::abs(p);
      if (2 * p < std::min(3 * xm * q - std::abs(tol1 * q), std::abs(e * q))) {
        e = d, d = p / q;
      } else {
        d = xm, e = d;
      }
    } else {
      d = xm, e = d;
    }
    a = b, fa = fb;
    b += std::abs(d) > tol1 ? d : (xm > 0 ? tol1 : -tol1);
    fb = f(b);
  }
  return b;
}

}  // namespace

TestStat parse_test_stat(const std::string& name) {
  if (name == "qtilde") return TestStat::kQtilde;
  if (name == "q") return TestStat::kQ;
  if (name == "q0") return TestStat::kQ0;
  throw InputError("", "--test-stat", "unknown test statistic '" + name + "' (known: qtilde, q, q0)");
}

void check_poi_value(const Model& model, int poi, double value, const std::string& flag) {
  const Parameter& p = model.parameters().at(poi);
  std::ostringstream text;
  text << std::setprecision(10) << value;
  if (!std::isfinite(value)) throw InputError("", flag, "value " + text.str() + " is not a finite number");
  if (value < p.lower || value > p.upper) {
    std::ostringstream b;
    b << std::setprecision(10) << "[" << p.lower << ", " << p.upper << "]";
    throw InputError("", flag, "value " + text.str() + " lies outside the bounds " + b.str() + " of the POI '" +
                                   p.name + "' (widen them with --poi-bounds LO,HI)");
  }
}

AsymptoticCalculator::AsymptoticCalculator(const Model& model, int poi, TestStat stat, const FitOptions& options)
    : model_(model), poi_(poi), stat_(stat), options_(options) {
  options_.covariance = false;
  free_data_ = fit(model, options_);
  record(free_data_, "free fit to the data");
  // Asimov data: background-only (mu = 0, or the POI's lower bound where
  // that is above 0) for q and q~, signal (mu = 1) for q0, with the
  // nuisances at their conditional fit to the observed data.
  const double asimov_mu = stat == TestStat::kQ0 ? 1.0 : std::max(0.0, model.parameters()[poi].lower);
  FitResult cond = fit_at(model, poi, asimov_mu, free_data_.x, options_);
  record(cond, "conditional fit for the Asimov data");
  asimov_ = model.asimov(cond.x);
  FitOptions from_cond = options_;
  from_cond.start = cond.x;
  free_asimov_ = fit(*asimov_, from_cond);
  record(free_asimov_, "free fit to the Asimov data");
  warm_data_ = free_data_.x;
  warm_asimov_ = free_asimov_.x;
}

void AsymptoticCalculator::record(const FitResult& f, const char* which) {
  if (f.ok()) return;
  if (converged_) message_ = std::string(which) + ": " + f.reason;
  converged_ = false;
}

double test_statistic(const Model& data, int poi, TestStat stat, double mu, const FitResult& free_fit,
                      const Eigen::VectorXd& start, const FitOptions& options, FitResult* cond) {
  const double muhat = free_fit.x[poi];
  *cond = fit_at(data, poi, mu, start, options);
  const double t = std::max(0.0, cond->twice_nll() - free_fit.twice_nll());
  if (stat == TestStat::kQ0) return muhat < mu ? 0.0 : t;  // mu = 0 here: q0 = 0 for muhat < 0
  return muhat > mu ? 0.0 : t;
}

double AsymptoticCalculator::test_statistic(const Model& data, const FitResult& free_fit, double mu,
                                            Eigen::VectorXd* warm) {
  FitResult cond;
  const double t = stats::test_statistic(data, poi_, stat_, mu, free_fit, *warm, options_, &cond);
  record(cond, "conditional fit");
  *warm = cond.x;
  return t;
}

HypotestResult AsymptoticCalculator::hypotest(double mu) {
  HypotestResult r;
  r.mu = mu;
  if (stat_ == TestStat::kQ0) {
    r.q_obs = test_statistic(model_, free_data_, 0.0, &warm_data_);
    r.q_asimov = test_statistic(*asimov_, free_asimov_, 0.0, &warm_asimov_);
    const double sq = std::sqrt(r.q_obs), sqa = std::sqrt(r.q_asimov);
    r.clsb = normal_sf(sq);  // p0
    r.clb = 1.0;
    r.cls = r.clsb;
    // Expected p0 where the data follow the signal hypothesis, at its
    // +2, +1, 0, -1, -2 sigma quantiles: ascending, pyhf's order.
    const double ns[5] = {2, 1, 0, -1, -2};
    for (int k = 0; k < 5; ++k) r.cls_exp[k] = normal_sf(sqa + ns[k]);
    r.converged = converged_;
    r.message = message_;
    return r;
  }
  r.q_obs = test_statistic(model_, free_data_, mu, &warm_data_);
  r.q_asimov = test_statistic(*asimov_, free_asimov_, mu, &warm_asimov_);
  const double sq = std::sqrt(r.q_obs), sqa = std::sqrt(r.q_asimov);
  // The observed statistic mapped to the standard-normal scale of the
  // background-only distribution (Cowan et al. eqs. 65-66 for q~).
  double t = sq - sqa;
  if (stat_ == TestStat::kQtilde && sq > sqa && sqa > 0) t = (r.q_obs - r.q_asimov) / (2.0 * sqa);
  r.clsb = normal_sf(t + sqa);
  r.clb = normal_sf(t);
  r.cls = r.clb > 0 ? r.clsb / r.clb : 1.0;
  // Expected: the background-only median and +-1, +-2 sigma quantiles.
  const double ns[5] = {2, 1, 0, -1, -2};
  for (int k = 0; k < 5; ++k) r.cls_exp[k] = normal_sf(ns[k] + sqa) / normal_sf(ns[k]);
  r.converged = converged_;
  r.message = message_;
  return r;
}

AsymptoticCalculator::Limits AsymptoticCalculator::upper_limits(double level) {
  const Parameter& p = model_.parameters()[poi_];
  const double lo = std::max(p.lower, 0.0), hi = p.upper;
  Limits out{};
  for (int which = -1; which < 5; ++which) {
    auto g = [&](double mu) {
      HypotestResult h = hypotest(mu);
      return (which < 0 ? h.cls : h.cls_exp[which]) - level;
    };
    // Bracket: CLs is 1 at mu -> 0+ and falls with mu; step up the range on
    // a growing grid first so Brent starts from a sign change.
    double a = lo + 1e-6 * (hi - lo), fa = g(a);
    double b = a, fb = fa;
    for (double step = (hi - lo) / 64.0; b < hi;) {
      a = b, fa = fb;
      b = std::min(hi, b + step);
      fb = g(b);
      if (fb < 0) break;
      step *= 1.5;
    }
    double root = (fa > 0 && fb < 0) ? brent(g, a, b, fa, fb, 1e-6 * std::max(1.0, b))
                                     : std::numeric_limits<double>::quiet_NaN();
    if (which < 0) out.observed = root;
    else out.expected[which] = root;
  }
  return out;
}

}  // namespace refinery::stats
