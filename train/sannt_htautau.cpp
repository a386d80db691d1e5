#include "train/sannt_htautau.h"

#include "data/htautau/htautau_simulation.h"
#include "data/htautau/nuisances.h"

namespace refinery {

SanntProblem htautau_sannt_problem(int64_t produced, double luminosity, uint64_t seed) {
  htautau::SimulationOptions so;
  so.seed = seed;
  so.events = produced;
  so.luminosity = luminosity;
  so.quiet = true;
  const auto& specs = htautau::nuisance_specs();
  const EventMeta meta = htautau::event_meta(so, false);
  SanntProblem p;
  p.model.processes = meta.process_names;  // htautau, ztautau, ttbar, diboson
  p.model.pois = {{"mu", {0}}};
  p.data.signal_process = 0;
  auto add = [&](const EventSet& e, int64_t variation) {
    for (int64_t q = 0; q < static_cast<int64_t>(meta.process_names.size()); ++q) {
      torch::Tensor sel = e.process == q;
      if (!sel.any().item<bool>()) continue;
      p.data.samples.push_back({e.features.index({sel}).contiguous(), e.weights.index({sel}).contiguous(), q, variation});
    }
  };
  add(htautau::simulate_in_memory(so), -1);
  int64_t k = 0;
  for (int n : {htautau::kTes, htautau::kJes, htautau::kSoftMet}) {
    p.model.shapes.push_back({specs[n].name, 1.0});
    htautau::NuVector up{}, down{};
    up[n] = 1.0;
    down[n] = -1.0;
    add(htautau::simulate_in_memory(so, up), 2 * k);
    if (n != htautau::kSoftMet) add(htautau::simulate_in_memory(so, down), 2 * k + 1);
    ++k;
  }
  // The simulator scales by (1 + a)^nu: normsys code1 is that exactly.
  p.model.normsys = histfactory::NormsysCode::kCode1;
  p.model.norms.push_back({specs[htautau::kBkgNorm].name, {1, 2, 3}, specs[htautau::kBkgNorm].size, false, 1.0});
  p.model.norms.push_back({specs[htautau::kTtbarNorm].name, {2}, specs[htautau::kTtbarNorm].size, false, 1.0});
  p.model.norms.push_back({specs[htautau::kDibosonNorm].name, {3}, specs[htautau::kDibosonNorm].size, false, 1.0});
  return p;
}

}  // namespace refinery
