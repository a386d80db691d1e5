// Maximum-likelihood fits, profile-likelihood scans and intervals, and
// impacts on a LikelihoodModel (design.md section 6).
//   fit:       bounded Newton on the exact Hessian (newton_minimizer.h);
//              covariance = inverse Hessian over the free parameters.
//   profile:   t(mu) = 2 [NLL(mu, nu_hathat(mu)) - NLL(mu_hat, nu_hat)], the
//              nuisances re-minimised at every mu (warm-started).
//   interval:  MINOS-like: the crossings t(mu) = level found by secant steps
//              on sqrt(t) (close to linear in mu), each a full profile fit.
//   impacts:   each nuisance fixed at nu_hat +- its pre-fit and post-fit
//              error, refit, shift of mu_hat; stat-only error with every
//              nuisance fixed at nu_hat.
#pragma once
#include <Eigen/Dense>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/fit/newton_minimizer.h"
#include "src/likelihood/likelihood_model.h"

namespace refinery {

struct FitOptions {
  MinimizerOptions minimizer;
  // Parameters held at their start value (by index).
  std::vector<bool> fixed;
  // Scan/interval tolerance on t(mu) at a crossing.
  double crossing_tolerance = 1e-4;
  int max_crossing_steps = 30;
};

struct FitResult {
  Eigen::VectorXd x, error;  // error: sqrt of the covariance diagonal (0 when fixed)
  Eigen::MatrixXd covariance, hessian;
  double nll = 0.0, edm = 0.0;
  int iterations = 0, evaluations = 0;
  std::string status;    // "converged", "converged at bound (names)", "failed: reason"
  bool converged = false;
  bool covariance_ok = false;
  std::vector<bool> at_bound;
  nlohmann::json to_json(const likelihood::ModelSpec& spec) const;
};

// MLE from x0 (default: the model's nominal point).
FitResult fit_model(const likelihood::LikelihoodModel& model, const FitOptions& options,
                    Eigen::VectorXd x0 = Eigen::VectorXd());

// Conditional fit with the POI fixed at mu, starting from `start`.
FitResult fit_at_poi(const likelihood::LikelihoodModel& model, double mu, const Eigen::VectorXd& start,
                     const FitOptions& options);

struct Crossing {
  double value = 0.0;   // mu at t(mu) = level
  bool found = false;     // t(value) = level
  bool at_bound = false;  // t stays below the level up to the POI's bound: value = bound
  bool usable() const { return found || at_bound; }
  std::string status;
  int fits = 0;
};
struct Interval {
  double level = 1.0;   // t(mu) threshold: 1 (68.27%), 3.8415 (95%)
  double cl = 0.6827;
  Crossing lower, upper;
  nlohmann::json to_json() const;
};
// Fully profiled interval {mu : t(mu) <= level} around the MLE `best`.
Interval profile_interval(const likelihood::LikelihoodModel& model, const FitResult& best, double level,
                          const FitOptions& options);

struct ScanPoint {
  double mu, t, nll;
  bool converged;
  Eigen::VectorXd x;
};
// t(mu) at the given points, nuisances re-minimised at each, warm-started
// from the neighbour (points are visited outward from the MLE).
std::vector<ScanPoint> profile_scan(const likelihood::LikelihoodModel& model, const FitResult& best,
                                    const std::vector<double>& mus, const FitOptions& options);

struct Impact {
  std::string name;
  double prefit_up = 0, prefit_down = 0, postfit_up = 0, postfit_down = 0;  // shift of mu_hat
  double nu_hat = 0, nu_error = 0, prefit_error = 0;
};
struct Impacts {
  std::vector<Impact> ranked;  // by max |post-fit shift|, largest first
  double mu_hat = 0, mu_error = 0, stat_only_error = 0;
  nlohmann::json to_json() const;
  std::string table() const;
};
Impacts compute_impacts(const likelihood::LikelihoodModel& model, const FitResult& best, const FitOptions& options);

// Quantile of t for a two-sided interval at confidence level cl (chi^2, 1 dof).
double chi2_level(double cl);

}  // namespace refinery
