#include "models/multiclassifier.h"

#include "src/core/error.h"

namespace refinery {

MultiClassifierImpl::MultiClassifierImpl(const MultiClassifierOptions& o) : options(o) {
  if (o.n_classes() < 2) throw InputError("", "classes", "a classifier needs at least two classes");
  preprocess = register_module("preprocess", FeaturePreprocessor(o.n_features(), o.n_indicators()));
  net = register_module("net", MLP(MLPOptions(o.n_features() + o.n_indicators(), o.hidden(), o.n_classes())
                                       .activation(o.activation())));
  calibration = register_module("calibration", StagedCalibration(o.n_classes(), 1));
  process_fractions = register_module("fractions", ProcessFractions(o.n_classes()));
}

torch::Tensor MultiClassifierImpl::forward(const torch::Tensor& x) { return net->forward(preprocess->forward(x)); }

torch::Tensor MultiClassifierImpl::raw_probabilities(const torch::Tensor& x) { return torch::softmax(forward(x), 1); }

torch::Tensor MultiClassifierImpl::raw_fractions(const torch::Tensor& x) {
  return process_fractions->forward(raw_probabilities(x));
}

torch::Tensor MultiClassifierImpl::fractions(const torch::Tensor& x) { return calibration->forward(raw_fractions(x)); }

torch::Tensor MultiClassifierImpl::probabilities(const torch::Tensor& x) {
  return process_fractions->balanced(fractions(x)).to(torch::kFloat32);
}

}  // namespace refinery
