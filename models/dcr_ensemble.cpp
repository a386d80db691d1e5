#include "models/dcr_ensemble.h"

#include <stdexcept>

namespace refinery {

DCRNetwork merge_dcr_ensemble(const std::vector<DCRNetwork>& members) {
  if (members.empty()) throw std::invalid_argument("merge_dcr_ensemble: no members");
  const DCRNetwork& first = members.front();
  const auto& o = first->options;
  const int64_t M = static_cast<int64_t>(members.size());
  for (const auto& m : members) {
    const auto& p = m->options;
    if (p.n_features() != o.n_features() || p.n_nuisances() != o.n_nuisances() || p.order() != o.order() || p.powers() != o.powers() ||
        p.n_indicators() != o.n_indicators() || p.hidden() != o.hidden() || p.activation() != o.activation() || p.members() != o.members())
      throw std::invalid_argument("merge_dcr_ensemble: members with different layouts");
    if (!torch::equal(m->preprocess->mean, first->preprocess->mean) ||
        !torch::equal(m->preprocess->inv_std, first->preprocess->inv_std) ||
        !torch::equal(m->preprocess->indicator_cols, first->preprocess->indicator_cols))
      throw std::invalid_argument("merge_dcr_ensemble: members with different preprocessing");
  }
  std::vector<int64_t> hidden;
  for (int64_t h : o.hidden()) hidden.push_back(M * h);
  DCRNetworkOptions merged_options = o;
  merged_options.hidden(hidden).members(M * o.members());
  DCRNetwork merged(merged_options);
  torch::NoGradGuard guard;
  merged->preprocess->mean.copy_(first->preprocess->mean);
  merged->preprocess->inv_std.copy_(first->preprocess->inv_std);
  merged->preprocess->indicator_cols.copy_(first->preprocess->indicator_cols);
  merged->preprocess->sentinel.copy_(first->preprocess->sentinel);
  const size_t L = first->net->layers.size();
  for (size_t l = 0; l < L; ++l) {
    std::vector<torch::Tensor> weights, biases;
    for (const auto& m : members) {
      weights.push_back(m->net->layers[l]->weight);
      biases.push_back(m->net->layers[l]->bias);
    }
    auto& target = merged->net->layers[l];
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
  return merged;
}

}  // namespace refinery
