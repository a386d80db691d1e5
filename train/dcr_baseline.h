// Baseline for cross-checks: the plain likelihood-ratio trick, one binary
// classifier per nu-point (S_k against S_0, weighted logistic loss), whose
// logit estimates log r(x|nu_k) at that point only. The parametric network
// must do at least as well at the training points and also interpolates.
#pragma once
#include <vector>

#include "models/feature_preprocessor.h"
#include "models/mlp.h"
#include "train/dcr_training.h"

namespace refinery {

struct PointwiseRatioClassifiers {
  FeaturePreprocessor preprocess{nullptr};
  std::vector<MLP> nets;  // one per nu-point, output 1 logit
  // log r(x|nu_k) estimated by classifier k: float64 [N].
  torch::Tensor log_r(const torch::Tensor& x, int64_t point);
};

PointwiseRatioClassifiers train_pointwise_classifiers(const DCRTrainingData& data, std::vector<int64_t> hidden,
                                                      const DCRTrainOptions& options);

}  // namespace refinery
