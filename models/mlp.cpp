#include "models/mlp.h"

#include <stdexcept>

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

MLPOptions merged_mlp_options(const MLPOptions& member, int64_t M) {
  std::vector<int64_t> hidden;
  for (int64_t h : member.hidden()) hidden.push_back(M * h);
  MLPOptions merged = member;
  merged.hidden(hidden);
  return merged;
}

void merge_mlps(const std::vector<MLP>& members, MLP& merged) {
  if (members.empty()) throw std::invalid_argument("merge_mlps: no members");
  const MLPOptions& o = members.front()->options;
  const int64_t M = static_cast<int64_t>(members.size());
  for (const auto& m : members) {
    const MLPOptions& p = m->options;
    if (p.in() != o.in() || p.hidden() != o.hidden() || p.out() != o.out() || p.activation() != o.activation())
      throw std::invalid_argument("merge_mlps: members with different layouts");
  }
  const MLPOptions want = merged_mlp_options(o, M);
  const MLPOptions& have = merged->options;
  if (have.in() != want.in() || have.hidden() != want.hidden() || have.out() != want.out() ||
      have.activation() != want.activation())
    throw std::invalid_argument("merge_mlps: the merged network is not the members' side-by-side layout");
  torch::NoGradGuard guard;
  const size_t L = o.hidden().size() + 1;
  for (size_t l = 0; l < L; ++l) {
    std::vector<torch::Tensor> weights, biases;
    for (const auto& m : members) {
      weights.push_back(m->layers[l]->weight);
      biases.push_back(m->layers[l]->bias);
    }
    auto& target = merged->layers[l];
    if (L == 1) {  // no hidden layer: a linear map, averaged
      target->weight.copy_(torch::stack(weights).mean(0));
      target->bias.copy_(torch::stack(biases).mean(0));
    } else if (l + 1 == L) {  // output: the mean of the members' outputs
      target->weight.copy_(torch::cat(weights, 1) / static_cast<double>(M));
      target->bias.copy_(torch::stack(biases).mean(0));
    } else if (l == 0) {  // every member reads the same inputs
      target->weight.copy_(torch::cat(weights, 0));
      target->bias.copy_(torch::cat(biases));
    } else {
      target->weight.copy_(torch::block_diag(weights));
      target->bias.copy_(torch::cat(biases));
    }
  }
}

}  // namespace refinery
