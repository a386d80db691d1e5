#include "models/classifier_archive.h"

#include <algorithm>

#include "models/torchscript_export.h"
#include "src/core/block_eval.h"
#include "src/core/error.h"

namespace refinery {

ClassifierArchive::ClassifierArchive(const std::string& path, const std::string& kind) : path_(path) {
  module_ = load_torchscript(path, &metadata_);
  if (metadata_.value("kind", "") != kind)
    throw InputError(path, "metadata.json: kind", "not a " + kind + " archive (kind '" +
                                                      metadata_.value("kind", std::string("none")) + "')");
  try {
    features_ = metadata_.at("feature_names").get<std::vector<std::string>>();
    processes_ = metadata_.at("process_names").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception&) {
    throw InputError(path, "metadata.json: feature_names/process_names", "missing or not lists of names");
  }
  module_.eval();
}

void ClassifierArchive::check_features(const std::vector<std::string>& names, const std::string& source) const {
  if (names == features_) return;
  std::string detail = "the model takes " + std::to_string(features_.size()) + " features, the file has " +
                       std::to_string(names.size());
  for (size_t i = 0; i < std::min(names.size(), features_.size()); ++i)
    if (names[i] != features_[i]) {
      detail = "feature " + std::to_string(i) + " is '" + names[i] + "', the model expects '" + features_[i] + "'";
      break;
    }
  throw InputError(source, "attribute feature_names", detail + " (model " + path_ + ")");
}

torch::Tensor ClassifierArchive::run(const std::string& method, const torch::Tensor& x_in) {
  if (x_in.dim() != 2 || x_in.size(1) != static_cast<int64_t>(features_.size()))
    throw InputError(path_, "input", "expected events [N," + std::to_string(features_.size()) + "]");
  torch::Tensor x = x_in.to(torch::kFloat32).contiguous();
  if (!torch::isfinite(x).all().item<bool>()) {
    const int64_t row = torch::isfinite(x).all(1).logical_not().nonzero()[0][0].item<int64_t>();
    throw InputError(path_, "input", "non-finite feature value in event " + std::to_string(row));
  }
  torch::jit::Method m = module_.get_method(method);
  if (x.size(0) == 0) return m({x}).toTensor();
  {
    torch::NoGradGuard guard;
    m({x.narrow(0, 0, 1)});  // first call on this thread: the graph is optimised once
  }
  return evaluate_in_blocks(x, 2048, [&](const torch::Tensor& xb) { return m({xb}).toTensor(); });
}

torch::Tensor ClassifierArchive::probabilities(const torch::Tensor& x) { return run("forward", x); }
torch::Tensor ClassifierArchive::fractions(const torch::Tensor& x) { return run("fractions", x); }
torch::Tensor ClassifierArchive::probabilities(const torch::Tensor& x, const torch::Tensor& f) {
  if (!module_.hasattr("log_yields") || f.dim() != 2 || f.size(0) != x.size(0) || x.size(0) == 0) return probabilities(x);
  // The arithmetic of the archive's forward() (models/torchscript_export.cpp),
  // checked against forward() on the first events: an archive whose
  // forward() is another (an older export) runs it on every event.
  torch::NoGradGuard guard;
  const torch::Tensor log_yields = module_.attr("log_yields").toTensor();
  auto from_fractions = [&](const torch::Tensor& fr) {
    const torch::Tensor a = torch::log(fr) - log_yields;
    return torch::exp(a - torch::logsumexp(a, 1, true)).to(torch::kFloat32);
  };
  const torch::Tensor first = x.narrow(0, 0, std::min<int64_t>(x.size(0), 64));
  if (!torch::equal(from_fractions(fractions(first)), probabilities(first))) return probabilities(x);
  return from_fractions(f);
}
torch::Tensor ClassifierArchive::logits(const torch::Tensor& x) { return run("logits", x); }

}  // namespace refinery
