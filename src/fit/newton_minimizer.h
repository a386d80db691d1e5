// Newton minimiser with bounds: projected Newton steps on the exact Hessian
// (Levenberg damping when it is not positive definite), an active set for
// parameters at their bounds, Armijo backtracking. Converges when the
// estimated distance to the minimum, EDM = g^T H^-1 g / 2 over the free
// parameters, falls below the tolerance (or below what the NLL's rounding
// can resolve, 10 ulp of |f|). Knows nothing of physics.
//
// Globalisation, in the spirit of Minuit's strategies: where a Newton step
// finds no decrease, the iteration first drops the parameters the step
// pushes onto a bound, then raises the damping (towards a scaled gradient
// step); an attempt that still stalls is followed by coordinate sweeps
// (one-dimensional searches per parameter, which pass the kinks of
// piecewise-linear interpolation) alternating with Newton, then by restarts
// from deterministic perturbations of the best point. The result is the
// lowest converged point; every attempt is reported.
#pragma once
#include <Eigen/Dense>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace refinery {

struct MinimizerOptions {
  // EDM at which the fit stops. NLL differences of 1e-9 are far below what
  // any interval or test statistic resolves.
  double edm_tolerance = 1e-10;
  // Newton iterations over all attempts together.
  int max_iterations = 200;
  // Smallest step fraction tried by the line search before giving up.
  double min_step = 1e-12;
  // Restarts from perturbed points after the Newton and the coordinate-sweep
  // attempts have failed (0: none).
  int restarts = 4;
  // Evaluations of the objective over all attempts together; -1: 1000 + 200
  // per parameter (a Newton fit takes a few to a few dozen). The iteration
  // limit counts Newton steps only, not the coordinate sweeps' and basin
  // probes' one-dimensional searches: the budget bounds those too, so that
  // a fit whose derivatives mislead Newton ends (failed, with the best point
  // found) instead of running for tens of minutes on an expensive NLL.
  int max_evaluations = -1;
  int evaluation_budget(int parameters) const;
  // Parameters along which the objective may have several minima (e.g. a
  // yield that rises for both signs of a nuisance): once converged, each is
  // probed at +-1/8 to +-2 of its width with the others held; a lower point
  // restarts Newton there, until no probe descends. The model names them.
  std::vector<int> multimodal;
  // (parameter, value) where the objective's first derivative jumps (a
  // piecewise interpolation's kink). Newton then works on one side at a
  // time, treating the breakpoint as a bound; at a breakpoint it takes the
  // side whose one-sided derivative descends, or holds the parameter there
  // when neither does (a minimum on the kink). The model names them.
  std::vector<std::pair<int, double>> breakpoints;
  bool IsValid(std::string* error) const;
};

enum class MinimizerStatus { kConverged, kFailed };

// One attempt of the globalisation: its strategy, where it ended and why.
struct MinimizerAttempt {
  std::string strategy;  // "newton", "coordinate sweeps + newton", "restart k", "basin probes + newton"
  double f = 0.0;
  double edm = 0.0;
  int iterations = 0;
  bool converged = false;
  std::string message;
};

struct MinimizerResult {
  Eigen::VectorXd x;
  double f = 0.0;
  double edm = 0.0;
  int iterations = 0;   // over all attempts
  int evaluations = 0;  // over all attempts
  MinimizerStatus status = MinimizerStatus::kFailed;
  std::string message;
  std::vector<bool> at_bound;  // per parameter: ended on a bound
  std::vector<MinimizerAttempt> attempts;
  bool usable() const { return status == MinimizerStatus::kConverged; }
};

// f(x, grad, hess): value, and gradient / Hessian when the pointers are set.
// Must return +inf (not NaN) outside its domain.
using Objective = std::function<double(const Eigen::VectorXd&, Eigen::VectorXd*, Eigen::MatrixXd*)>;

MinimizerResult minimize(const Objective& f, Eigen::VectorXd x0, const Eigen::VectorXd& lower,
                         const Eigen::VectorXd& upper, const std::vector<bool>& fixed,
                         const MinimizerOptions& options = {});

}  // namespace refinery
