#include "src/fit/newton_minimizer.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace refinery {

bool MinimizerOptions::IsValid(std::string* error) const {
  if (!(edm_tolerance > 0)) return *error = "edm_tolerance must be positive", false;
  if (max_iterations < 1) return *error = "max_iterations must be >= 1", false;
  return true;
}

namespace {
// Gradient and Hessian restricted to the free parameters.
void restrict_to(const std::vector<int>& free, const Eigen::VectorXd& g, const Eigen::MatrixXd& H, Eigen::VectorXd* gf,
                 Eigen::MatrixXd* Hf) {
  const int m = static_cast<int>(free.size());
  gf->resize(m);
  Hf->resize(m, m);
  for (int a = 0; a < m; ++a) {
    (*gf)[a] = g[free[a]];
    for (int b = 0; b < m; ++b) (*Hf)(a, b) = H(free[a], free[b]);
  }
}
}  // namespace

MinimizerResult minimize(const Objective& f, Eigen::VectorXd x, const Eigen::VectorXd& lower,
                         const Eigen::VectorXd& upper, const std::vector<bool>& fixed,
                         const MinimizerOptions& opt) {
  const int n = static_cast<int>(x.size());
  MinimizerResult r;
  x = x.cwiseMax(lower).cwiseMin(upper);
  Eigen::VectorXd g(n);
  Eigen::MatrixXd H(n, n);
  double fx = f(x, &g, &H);
  ++r.evaluations;
  if (!std::isfinite(fx)) {
    r.x = x;
    r.f = fx;
    r.message = "objective not finite at the starting point (non-positive expected yield?)";
    return r;
  }
  double lambda = 0.0;  // Levenberg damping, adapted
  for (r.iterations = 0; r.iterations < opt.max_iterations; ++r.iterations) {
    // Free set: not fixed, and not pushed against a bound by the gradient.
    std::vector<int> free;
    for (int i = 0; i < n; ++i) {
      if (fixed[i]) continue;
      const bool at_lo = x[i] <= lower[i] && g[i] > 0, at_hi = x[i] >= upper[i] && g[i] < 0;
      if (!at_lo && !at_hi) free.push_back(i);
    }
    const int m = static_cast<int>(free.size());
    Eigen::VectorXd gf;
    Eigen::MatrixXd Hf;
    restrict_to(free, g, H, &gf, &Hf);
    Eigen::VectorXd d;
    double edm = 0.0;
    for (int attempt = 0; attempt < 60; ++attempt) {
      Eigen::MatrixXd Hd = Hf;
      if (lambda > 0) Hd.diagonal().array() += lambda * (1.0 + Hf.diagonal().array().abs());
      Eigen::LDLT<Eigen::MatrixXd> ldlt(Hd);
      if (ldlt.info() == Eigen::Success && ldlt.isPositive() && (ldlt.vectorD().array() > 0).all()) {
        d = -ldlt.solve(gf);
        edm = -0.5 * gf.dot(d);
        if (std::isfinite(edm) && edm >= 0) break;
      }
      lambda = lambda == 0 ? 1e-8 : lambda * 10.0;
      d.resize(0);
    }
    if (d.size() != m) {
      r.message = "Hessian could not be regularised";
      break;
    }
    r.edm = edm;
    // The NLL itself is known to ~1 ulp: an EDM below ~10 ulp of |f| cannot
    // be resolved (large unbinned fits, |f| ~ 1e5: ~2e-10), so the
    // tolerance is never tighter than that.
    const double resolvable = 10.0 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::abs(fx));
    if (edm < std::max(opt.edm_tolerance, resolvable)) {
      r.status = MinimizerStatus::kConverged;
      r.message = "converged: EDM " + std::to_string(edm);
      break;
    }
    // Backtracking line search on the projected step.
    double step = 1.0;
    bool moved = false;
    while (step >= opt.min_step) {
      Eigen::VectorXd xn = x;
      for (int a = 0; a < m; ++a) xn[free[a]] = std::clamp(x[free[a]] + step * d[a], lower[free[a]], upper[free[a]]);
      double fn = f(xn, nullptr, nullptr);
      ++r.evaluations;
      const double decrease = g.dot(xn - x);
      if (std::isfinite(fn) && fn <= fx + 1e-4 * decrease) {
        x = xn;
        fx = fn;
        moved = true;
        break;
      }
      step *= 0.5;
    }
    if (!moved) {
      // No decrease along the Newton direction: the minimum is reached to
      // machine precision if the EDM is tiny, else the problem is ill-posed.
      if (edm < 1e-6) {
        r.status = MinimizerStatus::kConverged;
        r.message = "converged at machine precision: EDM " + std::to_string(edm);
      } else {
        r.message = "line search failed: EDM " + std::to_string(edm);
      }
      break;
    }
    lambda = step == 1.0 ? lambda * 0.1 : lambda;
    if (lambda < 1e-12) lambda = 0.0;
    fx = f(x, &g, &H);
    ++r.evaluations;
  }
  if (r.iterations >= opt.max_iterations) r.message = "maximum number of iterations reached";
  // Polish: one full Newton step from the converged point, judged by the
  // EDM (gradient and Hessian are accurate to far below the NLL value's
  // rounding, which limits any comparison of values). Quadratic convergence
  // takes an EDM of 1e-10 to ~1e-20: parameters then sit at the minimum to
  // ~1e-10 of their errors.
  if (r.status == MinimizerStatus::kConverged && std::isfinite(fx)) {
    std::vector<int> free;
    for (int i = 0; i < n; ++i)
      if (!fixed[i] && !(x[i] <= lower[i] && g[i] > 0) && !(x[i] >= upper[i] && g[i] < 0)) free.push_back(i);
    const int m = static_cast<int>(free.size());
    Eigen::VectorXd gf;
    Eigen::MatrixXd Hf;
    restrict_to(free, g, H, &gf, &Hf);
    Eigen::LDLT<Eigen::MatrixXd> ldlt(Hf);
    if (m > 0 && ldlt.info() == Eigen::Success && ldlt.isPositive() && (ldlt.vectorD().array() > 0).all()) {
      const Eigen::VectorXd d = -ldlt.solve(gf);
      Eigen::VectorXd xn = x;
      for (int a = 0; a < m; ++a) xn[free[a]] = std::clamp(x[free[a]] + d[a], lower[free[a]], upper[free[a]]);
      Eigen::VectorXd gn(n);
      Eigen::MatrixXd Hn(n, n);
      const double fn = f(xn, &gn, &Hn);
      ++r.evaluations;
      Eigen::VectorXd gnf;
      Eigen::MatrixXd Hnf;
      restrict_to(free, gn, Hn, &gnf, &Hnf);
      Eigen::LDLT<Eigen::MatrixXd> ln(Hnf);
      const double edm_n = ln.info() == Eigen::Success ? 0.5 * gnf.dot(ln.solve(gnf)) : r.edm;
      if (std::isfinite(fn) && std::isfinite(edm_n) && edm_n >= 0 && edm_n < r.edm) {
        x = xn;
        fx = fn;
        r.edm = edm_n;
      }
    }
  }
  r.x = x;
  r.f = fx;
  r.at_bound.resize(n);
  for (int i = 0; i < n; ++i) r.at_bound[i] = !fixed[i] && (x[i] <= lower[i] || x[i] >= upper[i]);
  return r;
}

}  // namespace refinery
