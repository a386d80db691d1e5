// Training of a parametric DCR network with the likelihood-ratio trick
// (design.md section 3): the nominal sample S_0 and variation samples S_k at
// nu-points nu_k, all weighted to the same luminosity (not renormalised, so
// migrations are learned), loss
//   L = sum_k [ sum_{j in S_k} w_j softplus(-log r(x_j|nu_k))
//             + sum_{j in S_0} w_j softplus(+log r(x_j|nu_k)) ] / (total weight)
// whose minimiser is the exact DCR at every nu_k. Mini-batches mix all
// nu-points: each step draws variation events of every point and nominal
// events that enter once per point.
//
// Paired samples (the nominal and variation samples carry event numbers, the
// same number being one simulated event before and after the shift): each
// step draws nominal events, one nu-point per event, and that event's
// variation at the point; the two terms of a pair nearly cancel in the
// gradient, so its noise scales with the shift instead of the spread of the
// events, which percent-level shape effects need (docs/dcr.md). Variation
// events without a nominal partner (migrated in) are drawn on their own. The
// estimate of L stays unbiased; hold-out is by event number, so a pair is on
// one side.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/analytic/dcr_toy.h"
#include "models/dcr_network.h"
#include "train/trainer.h"

namespace refinery {

struct DCRTrainingData {
  torch::Tensor x0, w0;          // nominal: float32 [N0,F], float64 [N0]
  torch::Tensor xv, wv, point;   // variation events and the index of their nu-point (int64)
  torch::Tensor nu_points;       // float32 [P,K]
  torch::Tensor e0, ev;          // int64 event numbers of x0 and xv; undefined: not paired
  std::vector<std::string> nuisance_names;
  bool paired() const { return e0.defined() && ev.defined(); }
  // Checks shapes, that every point has events, and that the points
  // determine all coefficients of the ansatz (rank of phi(nu_k)); errors name
  // `source`.
  // powers: the ansatz's coordinates (DCRNetworkOptions::powers).
  void validate(int order, const std::string& source, const std::vector<int>& powers = {}) const;
};

struct DCRTrainOptions {
  TrainOptions train;
  int64_t batch_size = 2048;        // events per step from each of S_0 and the S_k
  double validation_fraction = 0.2; // by a hash of the row index
  // After training, correct the inclusive normalisation (dcr_normalise).
  bool normalise = true;
  // Pair nominal and variation events by their event numbers when both
  // samples carry them (and the numbers are unique per sample and point).
  bool paired = true;
  // Loss weight per nu-point (float64 [P], positive, scaled to mean 1;
  // dcr_prior_point_weights):
  // point p's terms count lambda_p times, and the paired steps draw the
  // points in proportion to it. Undefined: every point once (the default).
  torch::Tensor point_weights;
};

// The nu-points with |nu|_1 <= max_l1 on a grid of `step` in K dimensions,
// the nominal excluded.
std::vector<std::vector<double>> l1_grid(int64_t K, double step, double max_l1);
// Training data from a closed-form toy: nominal and one sample per point of
// l1_grid(K, step, max_l1), all derived from the same base draws (generator
// seeded with `seed`), so differences between them are systematic.
DCRTrainingData dcr_toy_training_data(const analytic::DcrToy& toy, int64_t n, double step, double max_l1,
                                      uint64_t seed);

// What training prepares from the data before its first step (the
// preprocessor's moments, the training and held-out rows, the pairing of
// events): prepare_dcr_training fits `net`'s preprocessor and returns it, so
// that the members of an ensemble share one (train_dcr copies the moments).
struct DCRTrainingSetup;
std::shared_ptr<const DCRTrainingSetup> prepare_dcr_training(DCRNetwork& net, const DCRTrainingData& data,
                                                             const DCRTrainOptions& options);
// Trains `net` (with `setup` from prepare_dcr_training on the same data and
// options, or prepared here).
TrainReport train_dcr(DCRNetwork& net, const DCRTrainingData& data, const DCRTrainOptions& options,
                      const DCRTrainingSetup* setup = nullptr);

// Normalisation of a trained DCR: a DCR's nominal-sample average is the
// inclusive ratio, sum_0 w r(x|nu_k) = W_k (the variation sample's total),
// which the likelihood's expected yields rest on, but the logistic loss
// does not enforce it for a network of finite accuracy (H->tautau: ~1% off at
// the training points). Adding a constant c to the coefficients multiplies
// sum_0 w r(x|nu_k) by exp(phi(nu_k) . c) exactly, so the weighted least
// squares solution of phi(nu_k) . c = log W_k - log sum_0 w r(x|nu_k) over the
// training points (each point's square weighted by its loss weight, when
// given) is added to the network's output bias; the ansatz carries it to
// every nu. Returns the RMS of the log inclusive error at the training
// points before [0] and after [1].
std::pair<double, double> dcr_normalise(DCRNetwork& net, const DCRTrainingData& data,
                                        const torch::Tensor& point_weights = {});

// Coefficient cache: Delta(x) of every event, float64 [N, n_coef],
// blocks evaluated in parallel (src/core/block_eval.h),
// contiguous, evaluated once in blocks without gradients.
torch::Tensor dcr_coefficients_cache(DCRNetwork& net, const torch::Tensor& x, int64_t block = 2048);
// Inclusive ratio R(nu) = sum_j w_j r(x_j|nu) / sum_j w_j for every row of
// nu [M,K] from cached coefficients; returns float64 [M].
torch::Tensor dcr_inclusive_ratio(const torch::Tensor& coefficients, const torch::Tensor& w,
                                  const torch::Tensor& nu, int order, const std::vector<int>& powers = {});

}  // namespace refinery
