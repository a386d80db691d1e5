#include "models/mlp.h"

#include "src/core/error.h"

namespace refinery {

torch::Tensor activate(const torch::Tensor& x, const std::string& name) {
  if (name == "silu") return torch::silu(x);
  if (name == "relu") return torch::relu(x);
  if (name == "tanh") return torch::tanh(x);
  if (name == "elu") return torch::elu(x);
  throw InputError("", "activation", "unknown activation '" + name + "' (known: silu, relu, tanh, elu)");
}

MLPImpl::MLPImpl(const MLPOptions& o) : options(o) {
  activate(torch::zeros({1}), o.activation());  // validates the name
  int64_t in = o.in();
  std::vector<int64_t> sizes = o.hidden();
  sizes.push_back(o.out());
  for (size_t i = 0; i < sizes.size(); ++i) {
    layers.push_back(register_module("layer" + std::to_string(i), torch::nn::Linear(in, sizes[i])));
    in = sizes[i];
  }
}

torch::Tensor MLPImpl::forward(torch::Tensor x) {
  for (size_t i = 0; i < layers.size(); ++i) {
    x = layers[i]->forward(x);
    if (i + 1 < layers.size()) x = activate(x, options.activation());
  }
  return x;
}

}  // namespace refinery
