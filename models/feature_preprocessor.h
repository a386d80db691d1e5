// FeaturePreprocessor: input standardisation stored as buffers, with explicit
// handling of undefined features: a value equal to the sentinel (-25 in the
// H->tautau features) becomes 0 after standardisation (the mean: a neutral
// fill) and an indicator column (1 where undefined) is appended for every
// feature that is undefined somewhere in the fitting sample. Saving the
// module saves everything needed to apply it.
#pragma once
#include <torch/torch.h>

#include "src/distributed/collective.h"

namespace refinery {

class FeaturePreprocessorImpl : public torch::nn::Module {
 public:
  // n_indicators sizes the indicator buffer (known from a previous fit) so
  // that a saved module loads into a freshly constructed one.
  explicit FeaturePreprocessorImpl(int64_t n_features = 1, int64_t n_indicators = 0,
                                   double sentinel = -25.0);
  // Weighted mean and standard deviation over defined values; which columns
  // get an indicator. x float32 [N,F], w [N]. With a group of processes, x
  // is this rank's shard and the statistics are those of all ranks' rows.
  void fit(const torch::Tensor& x, const torch::Tensor& w,
           distributed::Collective& group = distributed::single_process());
  // The same from moments a caller accumulated (e.g. over blocks of a
  // file): per feature the weighted mean and variance of the defined values
  // and the count of undefined values (all [F], float64).
  void set_moments(const torch::Tensor& mean, const torch::Tensor& variance, const torch::Tensor& undefined_count);
  torch::Tensor forward(const torch::Tensor& x);
  // Whether `other` applies the same map (equal buffers), and taking its
  // buffers (same sizes), as the members of an ensemble share one.
  bool same_as(const FeaturePreprocessorImpl& other) const;
  void copy_from(const FeaturePreprocessorImpl& other);
  int64_t n_features() const { return mean.size(0); }
  int64_t output_dim() const { return mean.size(0) + indicator_cols.size(0); }

  torch::Tensor mean, inv_std, indicator_cols, sentinel;
};
TORCH_MODULE(FeaturePreprocessor);

// Number of features of x that hold the sentinel somewhere (in any rank's
// shard, with a group).
int64_t count_indicator_columns(const torch::Tensor& x, double sentinel = -25.0);
int64_t count_indicator_columns(const torch::Tensor& x, distributed::Collective& group, double sentinel = -25.0);

}  // namespace refinery
