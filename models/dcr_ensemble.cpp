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
    if (!m->preprocess->same_as(*first->preprocess))
      throw std::invalid_argument("merge_dcr_ensemble: members with different preprocessing");
  }
  DCRNetworkOptions merged_options = o;
  merged_options.hidden(merged_mlp_options(first->net->options, M).hidden()).members(M * o.members());
  DCRNetwork merged(merged_options);
  merged->preprocess->copy_from(*first->preprocess);
  std::vector<MLP> nets;
  for (const auto& m : members) nets.push_back(m->net);
  merge_mlps(nets, merged->net);
  return merged;
}

}  // namespace refinery
