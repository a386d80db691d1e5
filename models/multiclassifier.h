// Multiclassifier (design.md section 4): standardised features (sentinel
// values handled by the FeaturePreprocessor), an MLP (default 28 -> 128 ->
// 128 -> 4) giving logits, softmax probabilities g trained with
// class-balanced weights, the process fractions
//     f_p = sigma_p g_p / sum_q sigma_q g_q
// and the staged isotonic calibration, fitted on held-out events. The
// calibration acts on the fractions f (the posterior at the physical class
// priors, with the simulation weights): that is the frame the likelihood
// sums over, and calibrating there makes sum_j w_j f_p(x_j) reproduce each
// yield (isotonic regression keeps weighted means); calibrating g in the
// balanced frame left the signal yield 4.5% off (docs/classifier.md). The
// calibrated g are the calibrated f mapped back: g_p ~ f_p / sigma_p.
// All of it is one module: saved, checkpointed and exported together.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "models/feature_preprocessor.h"
#include "models/mlp.h"
#include "models/process_fractions.h"
#include "src/calibration/staged_calibration.h"

namespace refinery {

struct MultiClassifierOptions {
  MultiClassifierOptions(int64_t n_features, int64_t n_classes) : n_features_(n_features), n_classes_(n_classes) {}
  TORCH_ARG(int64_t, n_features);
  TORCH_ARG(int64_t, n_classes);
  TORCH_ARG(int64_t, n_indicators) = 0;  // count_indicator_columns of the training features
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{128, 128};
  TORCH_ARG(std::string, activation) = "silu";
};

class MultiClassifierImpl : public torch::nn::Module {
 public:
  explicit MultiClassifierImpl(const MultiClassifierOptions& options);
  // Logits [N,C] (float32).
  torch::Tensor forward(const torch::Tensor& x);
  // Softmax of the logits, before calibration (float32).
  torch::Tensor raw_probabilities(const torch::Tensor& x);
  // Fractions of the raw probabilities, before calibration (float64).
  torch::Tensor raw_fractions(const torch::Tensor& x);
  // Calibrated process fractions f [N,C] (float64; raw until calibrated).
  torch::Tensor fractions(const torch::Tensor& x);
  // Calibrated class-balanced probabilities g [N,C] (float32).
  torch::Tensor probabilities(const torch::Tensor& x);

  MultiClassifierOptions options;
  FeaturePreprocessor preprocess{nullptr};
  MLP net{nullptr};
  StagedCalibration calibration{nullptr};
  ProcessFractions process_fractions{nullptr};
};
TORCH_MODULE(MultiClassifier);

}  // namespace refinery
