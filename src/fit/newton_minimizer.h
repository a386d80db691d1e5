// Newton minimiser with bounds: projected Newton steps on the exact Hessian
// (Levenberg damping when it is not positive definite), an active set for
// parameters at their bounds, Armijo backtracking. Converges when the
// estimated distance to the minimum, EDM = g^T H^-1 g / 2 over the free
// parameters, falls below the tolerance (or below what the NLL's rounding
// can resolve, 10 ulp of |f|). Knows nothing of physics.
#pragma once
#include <Eigen/Dense>

#include <functional>
#include <string>
#include <vector>

namespace refinery {

struct MinimizerOptions {
  // EDM at which the fit stops. NLL differences of 1e-9 are far below what
  // any interval or test statistic resolves.
  double edm_tolerance = 1e-10;
  int max_iterations = 200;
  // Smallest step fraction tried by the line search before giving up.
  double min_step = 1e-12;
  bool IsValid(std::string* error) const;
};

enum class MinimizerStatus { kConverged, kFailed };

struct MinimizerResult {
  Eigen::VectorXd x;
  double f = 0.0;
  double edm = 0.0;
  int iterations = 0;
  int evaluations = 0;
  MinimizerStatus status = MinimizerStatus::kFailed;
  std::string message;
  std::vector<bool> at_bound;  // per parameter: ended on a bound
  bool usable() const { return status == MinimizerStatus::kConverged; }
};

// f(x, grad, hess): value, and gradient / Hessian when the pointers are set.
// Must return +inf (not NaN) outside its domain.
using Objective = std::function<double(const Eigen::VectorXd&, Eigen::VectorXd*, Eigen::MatrixXd*)>;

MinimizerResult minimize(const Objective& f, Eigen::VectorXd x0, const Eigen::VectorXd& lower,
                         const Eigen::VectorXd& upper, const std::vector<bool>& fixed,
                         const MinimizerOptions& options = {});

}  // namespace refinery
