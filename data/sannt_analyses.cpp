#include "data/sannt_analyses.h"

#include "data/htautau/htautau_simulation.h"
#include "data/htautau/nuisances.h"
#include "src/core/error.h"
#include "src/core/text.h"

namespace refinery {

namespace {

// The binned H->tautau analysis: tes = +-1, jes = +-1 and soft_met = +1
// (one-sided) from the same base events, the normalisation nuisances as
// (1 + a)^theta (normsys code1 exactly), all constrained N(0, 1); mu scales
// the signal process.
SanntAnalysis lephad(int64_t produced, double luminosity, uint64_t seed) {
  htautau::SimulationOptions so;
  so.seed = seed;
  so.events = produced;
  so.luminosity = luminosity;
  so.quiet = true;
  const auto& specs = htautau::nuisance_specs();
  const EventMeta meta = htautau::event_meta(so, false);
  SanntAnalysis a;
  a.feature_names = meta.feature_names;
  a.model.processes = meta.process_names;
  a.model.pois = {{"mu", {0}}};
  a.signal_process = 0;
  a.samples.emplace_back(htautau::simulate_in_memory(so), -1);
  int64_t k = 0;
  for (int n : {htautau::kTes, htautau::kJes, htautau::kSoftMet}) {
    a.model.shapes.push_back({specs[n].name, 1.0});
    htautau::NuVector up{}, down{};
    up[n] = 1.0;
    down[n] = -1.0;
    a.samples.emplace_back(htautau::simulate_in_memory(so, up), 2 * k);
    if (n != htautau::kSoftMet) a.samples.emplace_back(htautau::simulate_in_memory(so, down), 2 * k + 1);
    ++k;
  }
  a.model.normsys = histfactory::NormsysCode::kCode1;
  a.model.norms.push_back({specs[htautau::kBkgNorm].name, {1, 2, 3}, specs[htautau::kBkgNorm].size, false, 1.0});
  a.model.norms.push_back({specs[htautau::kTtbarNorm].name, {2}, specs[htautau::kTtbarNorm].size, false, 1.0});
  a.model.norms.push_back({specs[htautau::kDibosonNorm].name, {3}, specs[htautau::kDibosonNorm].size, false, 1.0});
  return a;
}

}  // namespace

const std::vector<std::string>& sannt_analysis_names() {
  static const std::vector<std::string> names = {"htautau"};
  return names;
}

SanntAnalysis sannt_analysis(const std::string& name, int64_t produced, double luminosity, uint64_t seed,
                             const std::string& where) {
  if (name == "htautau") return lephad(produced, luminosity, seed);
  throw InputError("", where, "unknown analysis '" + name + "' (built in: inferno, " + join(sannt_analysis_names()) + ")");
}

}  // namespace refinery
