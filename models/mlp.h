// MLP: a stack of Linear layers with a configurable activation between them
// (none after the last). Built from chainable options, LibTorch style.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace refinery {

struct MLPOptions {
  MLPOptions(int64_t in, std::vector<int64_t> hidden, int64_t out)
      : in_(in), hidden_(std::move(hidden)), out_(out) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(std::vector<int64_t>, hidden);
  TORCH_ARG(int64_t, out);
  // "relu", "silu", "tanh", "elu"
  TORCH_ARG(std::string, activation) = "silu";
};

class MLPImpl : public torch::nn::Module {
 public:
  explicit MLPImpl(const MLPOptions& options);
  torch::Tensor forward(torch::Tensor x);
  MLPOptions options;
  std::vector<torch::nn::Linear> layers;
};
TORCH_MODULE(MLP);

// Applies the named activation (throws InputError for unknown names).
torch::Tensor activate(const torch::Tensor& x, const std::string& name);

}  // namespace refinery
