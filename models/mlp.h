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

// An ensemble of MLPs of one layout (same input, hidden widths, output and
// activation) as one MLP whose output is the mean of theirs: the members are
// laid side by side, the first layer stacks their weights (they read the
// same input), each further hidden layer is block-diagonal, and the output
// layer concatenates theirs divided by M (a network without hidden layers,
// a linear map, is averaged). Element-wise activations keep the blocks
// apart, so the output is the members' mean exactly, to float rounding.
// `merged` must have the side-by-side layout (hidden widths M times the
// members'); throws std::invalid_argument for no members, members of
// different layouts or a `merged` of another layout.
void merge_mlps(const std::vector<MLP>& members, MLP& merged);
// The side-by-side layout of M members of `member`'s layout.
MLPOptions merged_mlp_options(const MLPOptions& member, int64_t M);

// Applies the named activation (throws InputError for unknown names).
torch::Tensor activate(const torch::Tensor& x, const std::string& name);

}  // namespace refinery
