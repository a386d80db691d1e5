#include "models/classifier_ensemble.h"

#include <stdexcept>

namespace refinery {

MultiClassifier merge_classifier_ensemble(const std::vector<MultiClassifier>& members) {
  if (members.empty()) throw std::invalid_argument("merge_classifier_ensemble: no members");
  const MultiClassifier& first = members.front();
  const MultiClassifierOptions& o = first->options;
  const int64_t M = static_cast<int64_t>(members.size());
  for (const auto& m : members) {
    const MultiClassifierOptions& p = m->options;
    if (p.n_features() != o.n_features() || p.n_classes() != o.n_classes() || p.n_indicators() != o.n_indicators() ||
        p.hidden() != o.hidden() || p.activation() != o.activation())
      throw std::invalid_argument("merge_classifier_ensemble: members with different layouts");
    if (!m->preprocess->same_as(*first->preprocess))
      throw std::invalid_argument("merge_classifier_ensemble: members with different preprocessing");
    if (!torch::equal(m->process_fractions->log_yields, first->process_fractions->log_yields))
      throw std::invalid_argument("merge_classifier_ensemble: members with different yields");
  }
  MultiClassifierOptions merged_options = o;
  merged_options.hidden(merged_mlp_options(first->net->options, M).hidden());
  MultiClassifier merged(merged_options);
  merged->preprocess->copy_from(*first->preprocess);
  std::vector<MLP> nets;
  for (const auto& m : members) nets.push_back(m->net);
  merge_mlps(nets, merged->net);
  merged->process_fractions->set_yields(first->process_fractions->yields());
  return merged;
}

}  // namespace refinery
