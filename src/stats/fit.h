// Maximum-likelihood fits of any model (model.h): the one fitter of
// refinery. Bounded Newton on the exact Hessian with the model's hints
// (newton_minimizer.h); the covariance is the inverse Hessian over the
// parameters that are neither fixed nor held (parameters on a bound are
// included, as Minuit's HESSE does, unless that makes the matrix singular).
//
// A fit that does not converge is a result, not an exception: status
// kFailed with the reason, and everything else filled as far as it got.
// brief() is one line; report() the full text (parameters, errors, the
// minimiser's attempts), in the spirit of Ceres' Solver::Summary.
#pragma once
#include <Eigen/Dense>

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/fit/newton_minimizer.h"
#include "src/stats/model.h"

namespace refinery::stats {

struct FitOptions {
  MinimizerOptions minimizer;  // multimodal and breakpoints are added from the model
  // Parameters held at a value for this fit (index, value); the value may lie
  // outside the parameter's bounds (a conditional fit at a tested POI).
  std::vector<std::pair<int, double>> hold;
  // Start point (default: the model's init, with held values set).
  Eigen::VectorXd start;
  bool covariance = true;
};

enum class FitStatus { kConverged, kConvergedAtBound, kFailed };
const char* fit_status_name(FitStatus s);  // "converged", "converged_at_bound", "failed"

struct FitResult {
  FitStatus status = FitStatus::kFailed;
  std::string reason;  // why it failed, or which parameters sit on a bound
  std::vector<std::string> names;
  Eigen::VectorXd x, error;  // error: sqrt of the covariance diagonal (0 for fixed or held)
  Eigen::MatrixXd covariance, hessian;
  double nll = std::numeric_limits<double>::quiet_NaN();
  double edm = 0.0;
  int iterations = 0, evaluations = 0;
  std::vector<bool> held, at_bound;  // held: fixed in the model or by the fit
  bool covariance_ok = false;
  std::vector<MinimizerAttempt> attempts;

  bool ok() const { return status != FitStatus::kFailed; }
  double twice_nll() const { return 2.0 * nll; }
  // "converged: nll = ..., edm = ..., 12 iterations" (one line).
  std::string brief() const;
  // Parameters with errors, then the minimiser's attempts.
  std::string report() const;
  // {status, reason, converged, nll, twice_nll, edm, iterations,
  //  evaluations, attempts, parameters: [{name, value, error, fixed,
  //  at_bound}], correlation}; nll null when not finite.
  nlohmann::json to_json() const;
};

FitResult fit(const Model& model, const FitOptions& options = {});

// Conditional fit: parameter `index` held at `value`, started from `start`.
FitResult fit_at(const Model& model, int index, double value, const Eigen::VectorXd& start,
                 FitOptions options = {});

// The slope of the estimate of parameter `poi` on each parameter's true
// value that the constraints alone give, in pseudo-experiments whose truth
// is drawn from the priors while the auxiliary data stay at their centres:
// linearised, theta_hat - theta_true = -C P (theta_true - centre) + noise
// (C the fit's covariance, P the constraint terms' Hessian at its minimum),
// so the slope on nu_k is -(C P)_{poi,k}: -C(poi, nu_k) / width_k^2 for a
// Gaussian constraint, 0 for an unconstrained parameter. A model that
// describes the data shows these slopes and no more. Exact for Gaussian
// constraints on parameters the model is linear in; for a log-normal one
// the linearisation is in the parameter itself at the fit's minimum (its
// prior is Gaussian in the logarithm), so the value is indicative. NaN for
// every entry where the fit failed or has no covariance.
Eigen::VectorXd constraint_slopes(const Model& model, const FitResult& fit, int poi);

}  // namespace refinery::stats
