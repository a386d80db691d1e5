// Parameterised likelihood-ratio estimators (issue 17 item 3; MadMiner:
// arXiv:1805.00020, 1805.12244, 1808.00973): one network s(x, theta)
// whose output estimates log r(x|theta, theta_ref) = log p(x|theta) -
// log p(x|theta_ref) for every theta, trained on pairs of samples: events
// drawn at theta (theta from a prior, one event each) and events drawn at
// theta_ref, both fed with the same theta. The losses:
//   CARL:   cross entropy of the classifier sigma(-s) between the two samples;
//   ALICES: cross entropy against the soft labels 1 / (1 + r(x,z)) from the
//           joint ratio, plus alpha times the squared error of the network's
//           score d s / d theta against the joint score t(x,z|theta) on
//           the events drawn at theta;
//   RASCAL: squared error of s against the joint log ratio, plus the same
//           score term;
//   CASCAL: CARL's cross entropy plus the score term;
//   ROLR:   squared error of r^ = exp(s) against the joint ratio on the
//           events drawn at theta_ref and of 1 / r^ against 1 / r on those
//           drawn at theta (each side where it is bounded).
// The joint quantities average to the marginal ones given x, so the
// augmented losses share CARL's minimum with far less variance. The score
// term differentiates the network's input (double backward).
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "models/mlp.h"
#include "src/stats/morphing.h"
#include "train/trainer.h"

namespace refinery {

enum class RatioLoss { kCarl, kAlices, kRascal, kCascal, kRolr };

// The morphing-aware form (issue 17 item 5). Where dsigma(x|theta) is a
// polynomial in the theory parameters (src/stats/morphing.h: dsigma(theta)
// = sum_j w_j(theta) dsigma(theta_j) over the basis points theta_j) and
// nuisance parameters nu change each basis point's distribution smoothly,
// the network maps x alone to per-basis-point ratios with the DCR's
// log-quadratic ansatz in each nuisance,
//   rho_j(x|nu) = exp(o_j(x) + sum_k a_jk(x) nu_k + b_jk(x) nu_k^2)
//              ~ dsigma(x|theta_j, nu) / dsigma(x|theta_ref, 0),
// and the estimator is
//   log r^(x|theta, nu) = log sum_j w_j(theta) rho_j(x|nu) - log(sigma(theta) / sigma(theta_ref)),
// sigma(theta) = sum_j w_j(theta) sigma_j. Its parameter vector is (theta,
// nu) and its reference (theta_ref, 0). The per-event coefficients (o, a, b)
// are computed once; the likelihood over theta and nu is then a weighted
// sum per event (src/stats/learned_ratio_model.h), which is what makes
// scans and pseudo-experiments cheap.
//
// The positive quadratic head. Where the structure is |A_0 + sum_p theta_p
// A_p|^2 (every monomial of total degree <= 2, n = (T + 1)(T + 2) / 2),
//   dsigma(x|theta) = v^T Q(x) v,  v = (1, theta),  Q(x) positive semi-definite,
// so the network may output Q instead: a lower-triangular L(x) with a
// positive (exponential) diagonal, n entries, Q = L L^T, and
//   rho_j = v_j^T Q v_j = |L^T v_j|^2,  o_j = log rho_j.
// Then sum_j w_j(theta) rho_j = v(theta)^T Q v(theta) > 0 at every theta
// (at nu = 0): the likelihood is defined everywhere, where free o_j can
// make the morphed sum negative for some events. The per-event
// coefficients (o, a, b) and everything downstream are the same.
struct MorphingAwareForm {
  stats::Morphing morphing;              // of the theory parameters
  Eigen::VectorXd basis_cross_sections;  // sigma_j [n]
  int nuisances = 0;                     // K, after the theory parameters
  bool positive_quadratic = false;       // the head above (needs the quadratic structure)
  int theory_parameters() const { return morphing.parameters(); }
  int outputs() const { return morphing.size() * (1 + 2 * nuisances); }
};

// Whether the morphing's components are exactly the monomials of total
// degree <= 2 in its parameters (the structure the positive quadratic head needs).
bool is_quadratic_structure(const stats::Morphing& morphing);

// The coefficients [N, n, 1 + 2K] (float64) from the network's raw output
// [N, n (1 + 2K)]: the o channel through the positive quadratic head where
// the form has it, the rest as they are (differentiable).
torch::Tensor morphing_aware_coefficients(const MorphingAwareForm& form, const torch::Tensor& output);

struct RatioTrainingData {
  // Events drawn at theta (one theta per event) and at theta_ref with the
  // theta they are paired with: observables [N,F], theta [N,P], the joint
  // log ratio log r(x,z|theta,theta_ref) [N] and the joint score
  // t(x,z|theta) [N,P] of every event; label 0 (drawn at theta) or 1.
  torch::Tensor x, theta, joint_log_ratio, joint_score, label;
  torch::Tensor theta_reference;  // [P]
  // Optional [N,P]: the denominator theta_1 of every event where it was
  // drawn (from a prior) instead of fixed at theta_ref; the joint log ratio
  // is then log r(x,z|theta,theta_1), label 1 marks events drawn at
  // theta_1, and the network is trained on s(x, theta) - s(x, theta_1).
  torch::Tensor theta_denominator;
};

struct RatioOptions {
  RatioLoss loss = RatioLoss::kCarl;
  double alpha = 1.0;  // weight of the score term (ALICES, RASCAL)
  std::vector<int64_t> hidden{64, 64};
  // The morphing-aware form instead of a network of (x, theta).
  std::shared_ptr<const MorphingAwareForm> morphing;
  int64_t batch_size = 512;
  double validation_fraction = 0.2;
  TrainOptions train;
};

struct RatioEstimator {
  MLP net{nullptr};
  torch::Tensor input_mean, input_inverse_scale;  // over (x, theta)
  torch::Tensor theta_reference;                  // [P] float32
  std::shared_ptr<const MorphingAwareForm> morphing;  // set: the morphing-aware form (inputs x alone)
  // log r^(x|theta, theta_ref) = s(x, theta) - s(x, theta_ref) [N] (float64)
  // for x [N,F], theta [N,P]: the exact ratio is 1 at theta_ref, and
  // subtracting the network's value there removes the part of its error
  // common to all theta (the expected 68% contour of ALICES and RASCAL on
  // the theory simulator: +19% and -23% in area without, within 2.2% with).
  torch::Tensor log_ratio(const torch::Tensor& x, const torch::Tensor& theta) const;
  // s(x, theta) itself, the trained output.
  torch::Tensor network_output(const torch::Tensor& x, const torch::Tensor& theta) const;
  // The morphing-aware form's per-event coefficients [N, n, 1 + 2K] (o, then
  // a_1..a_K, then b_1..b_K per basis point; float64).
  torch::Tensor coefficients(const torch::Tensor& x) const;
};

// log r^ of the morphing-aware form from its raw network output [N, n (1 +
// 2K)] at parameters [N, T + K] (differentiable in both).
torch::Tensor morphing_aware_log_ratio(const MorphingAwareForm& form, const torch::Tensor& output,
                                       const torch::Tensor& parameters, const torch::Tensor& theta_reference);

// The same from coefficients [N, n, 1 + 2K] (the head already applied:
// RatioEstimator::coefficients, ensemble_coefficients).
torch::Tensor log_ratio_from_coefficients(const MorphingAwareForm& form, const torch::Tensor& coefficients,
                                          const torch::Tensor& parameters, const torch::Tensor& theta_reference);

// An ensemble of estimators trained alike from different seeds: log r^ is
// the members' mean (in the morphing-aware form through the mean of their
// coefficients, as the TorchScript export computes it) and `spread`, where
// given, the standard deviation of the members' log r^ per event (zero
// for one member).
torch::Tensor ensemble_log_ratio(const std::vector<RatioEstimator>& members, const torch::Tensor& x,
                                 const torch::Tensor& theta, torch::Tensor* spread = nullptr);
// The morphing-aware form's coefficients [N, n, 1 + 2K] of an ensemble: the
// members' mean (with the positive quadratic head, of rho_j = exp(o_j) for
// the o channel: the morphed sum stays positive).
torch::Tensor ensemble_coefficients(const std::vector<RatioEstimator>& members, const torch::Tensor& x);

RatioEstimator train_ratio_estimator(const RatioTrainingData& data, const RatioOptions& options,
                                     TrainReport* report = nullptr);

}  // namespace refinery
