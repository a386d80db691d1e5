// Calibration diagnostics of class probabilities: the weighted expected
// calibration error (ECE) and the reliability table. For class c the
// predicted p_c is binned in `bins` equal-width bins of [0,1]; in each bin the
// weighted mean prediction is compared with the weighted frequency of c:
//     ECE_c = sum_b (W_b / W) |<p_c>_b - <1[y = c]>_b|
// and the reported ECE is the mean of ECE_c over classes.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace refinery {

struct ReliabilityBin {
  double weight_fraction = 0, mean_predicted = 0, observed = 0;
};

struct Reliability {
  std::vector<double> ece_per_class;
  double ece = 0;
  std::vector<std::vector<ReliabilityBin>> bins;  // [class][bin]
  nlohmann::json to_json(const std::vector<std::string>& class_names) const;
};

Reliability reliability(const torch::Tensor& p, const torch::Tensor& y, const torch::Tensor& w, int bins = 20);

// Expected ECE of an exactly calibrated predictor p on these events: per bin
// the observed frequency differs from the mean prediction by sampling noise
// alone, E|d_b| = sqrt(2/pi) sqrt(sum_j w_j^2 p_j (1 - p_j)) / W_b.
double ece_statistical_floor(const torch::Tensor& p, const torch::Tensor& w, int bins = 20);

// "class  ECE before  ECE after" and, per class, the bins side by side.
std::string reliability_table(const Reliability& before, const Reliability& after,
                              const std::vector<std::string>& class_names);

}  // namespace refinery
