// A trained classifier as the other stages use it: the exported TorchScript
// archive with its metadata, checked on load, evaluated over many events in
// parallel blocks. The same archive loads in Python with torch.jit.load.
#pragma once
#include <torch/script.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace refinery {

class ClassifierArchive {
 public:
  // Throws InputError naming the file when it is not a refinery classifier
  // (or, with kind "sannt", a SANNT network: the same module).
  explicit ClassifierArchive(const std::string& path, const std::string& kind = "classifier");
  // Checks that `feature_names` (of an event file `source`) are the model's, in order.
  void check_features(const std::vector<std::string>& feature_names, const std::string& source) const;
  // Calibrated probabilities g [N,C] (float32) and process fractions f [N,C]
  // (float64). x must be finite (checked).
  torch::Tensor probabilities(const torch::Tensor& x);
  torch::Tensor fractions(const torch::Tensor& x);
  // The probabilities from the fractions `f` of the same events x, without a
  // second pass of the network (g = normalise(f / sigma), the archive's
  // forward() after its fractions(); archives without the yields sigma, or
  // whose forward() differs from that on the first events, run forward() on x).
  torch::Tensor probabilities(const torch::Tensor& x, const torch::Tensor& f);
  // The network's outputs before the softmax [N,C] (float32).
  torch::Tensor logits(const torch::Tensor& x);

  const std::vector<std::string>& feature_names() const { return features_; }
  const std::vector<std::string>& process_names() const { return processes_; }
  const nlohmann::json& metadata() const { return metadata_; }
  const std::string& path() const { return path_; }

 private:
  torch::Tensor run(const std::string& method, const torch::Tensor& x);
  std::string path_;
  torch::jit::Module module_;
  nlohmann::json metadata_;
  std::vector<std::string> features_, processes_;
};

}  // namespace refinery
