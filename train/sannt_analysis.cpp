#include "train/sannt_analysis.h"

namespace refinery {

SanntProblem sannt_problem(const SanntAnalysis& analysis) {
  SanntProblem p;
  p.model = analysis.model;
  p.data.signal_process = analysis.signal_process;
  const int64_t P = static_cast<int64_t>(analysis.model.processes.size());
  for (const auto& [events, variation] : analysis.samples)
    for (int64_t q = 0; q < P; ++q) {
      torch::Tensor sel = events.process == q;
      if (!sel.any().item<bool>()) continue;
      p.data.samples.push_back({events.features.index({sel}).contiguous(), events.weights.index({sel}).contiguous(), q,
                                variation});
    }
  return p;
}

}  // namespace refinery
