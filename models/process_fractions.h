// Process fractions (design.md sections 2 and 4): from calibrated
// class-balanced probabilities g_p(x), the fraction of the differential
// cross section that process p contributes at x,
//     f_p(x) = sigma_p g_p(x) / sum_q sigma_q g_q(x),
// with sigma_p the nominal yield of p in the classifier's training sample
// (the class priors that the balanced weights removed). Computed in log
// space (log-sum-exp) so that tiny g and huge yield ratios stay exact.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace refinery {

class ProcessFractionsImpl : public torch::nn::Module {
 public:
  explicit ProcessFractionsImpl(int64_t n_processes = 1);
  // yields sigma_p (> 0), one per process.
  void set_yields(const std::vector<double>& yields);
  std::vector<double> yields() const;
  // g [N,P] (any floating dtype) -> f [N,P] in float64, rows sum to one.
  torch::Tensor forward(const torch::Tensor& g);
  // log f [N,P] in float64.
  torch::Tensor log_fractions(const torch::Tensor& g);
  // The inverse: class-balanced probabilities g = normalise(f / sigma) [N,P], float64.
  torch::Tensor balanced(const torch::Tensor& f);

  torch::Tensor log_yields;  // float64 [P]
};
TORCH_MODULE(ProcessFractions);

}  // namespace refinery
