// The unbinned likelihood of a learned, morphing-aware likelihood ratio as
// a model (issue 17 item 5): the same engine (fits, profiles, 2D scans and
// contours) runs on it as on every other model.
//
// The ratio estimator (train/ratio_estimator.h, MorphingAwareForm) gives
// for every event e per-basis-point coefficients (o, a, b), so that
//   S_e(theta, nu) = sum_j w_j(theta) exp(o_ej + sum_k a_ejk nu_k + b_ejk nu_k^2)
// estimates dsigma(x_e|theta, nu) / dsigma(x_e|theta_ref, 0). With events
// of intensity L dsigma(x|theta, nu), the extended likelihood is, up to a
// constant,
//   -log L(theta, nu) = Y(theta, nu) - sum_e u_e log S_e(theta, nu) + sum_k nu_k^2 / 2,
// u_e the events' weights (1 for observed events), and the expected number
// of events Y(theta, nu) = Y_ref mean_m S_m(theta, nu) over a sample drawn
// at (theta_ref, 0) whose expected count is Y_ref = L sigma(theta_ref): the
// expected yield comes from the same estimate as the densities, so Asimov
// data return their parameters. Sums over events are compensated; value,
// gradient and Hessian are exact for the estimate (w is a polynomial in
// theta, S a sum of exponentials in nu). LibTorch-free: the coefficients
// are computed by the caller.
#pragma once
#include <Eigen/Dense>

#include <memory>
#include <string>
#include <vector>

#include "src/stats/model.h"
#include "src/stats/morphing.h"

namespace refinery::stats {

struct LearnedRatioInputs {
  Morphing morphing;                        // of the theory parameters
  int nuisances = 0;                        // K, each with a N(0, 1) constraint
  std::vector<std::string> names;           // theory parameters, then nuisances
  Eigen::VectorXd lower, upper;             // the theory parameters' bounds
  Eigen::MatrixXd reference;                // [M, n (1 + 2K)]: the reference sample's coefficients
  double reference_yield = 0.0;             // Y_ref
};

class LearnedRatioModel : public Model {
 public:
  // `events` [N, n (1 + 2K)] coefficients, `weights` [N] (empty: 1 each).
  // InputError naming `where` for shapes that do not match.
  LearnedRatioModel(std::shared_ptr<const LearnedRatioInputs> inputs, Eigen::MatrixXd events,
                    Eigen::VectorXd weights = {}, const std::string& where = "learned ratio");

  double data_nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const override;
  // One region, one process: Y(theta, nu).
  std::vector<ProcessYields> expected_yields(const Eigen::VectorXd& x) const override;
  std::vector<ProcessYields> observed_yields() const override;
  // Asimov data: the reference sample weighted by Y_ref S_m(x) / M.
  std::unique_ptr<Model> with_asimov_data(const Eigen::VectorXd& x) const override;
  // Pseudo-experiments need the simulator and the network: InputError.
  std::unique_ptr<Model> with_toy_data(const Eigen::VectorXd& x, std::mt19937_64& rng) const override;
  std::string describe() const override;

  // S(theta, nu) of every row of `coefficients` at parameters x.
  Eigen::VectorXd ratios(const Eigen::MatrixXd& coefficients, const Eigen::VectorXd& x) const;

 private:
  // sum_e u_e f(S_e) with f = log (data) or f = S (yield), value, gradient, Hessian.
  double sum(const Eigen::MatrixXd& rows, const Eigen::VectorXd* weights, bool logarithm, const Eigen::VectorXd& x,
             Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const;
  // Y(theta, nu) = Y_ref mean_m S_m over the reference sample, with its derivatives.
  double expected_yield(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const;
  std::shared_ptr<const LearnedRatioInputs> inputs_;
  Eigen::MatrixXd events_;
  Eigen::VectorXd weights_;
};

}  // namespace refinery::stats
