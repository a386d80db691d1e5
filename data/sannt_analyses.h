// Binned analyses that a built-in simulator provides for SANNT (`refinery
// train sannt --problem NAME`): the template model (processes, POIs, shape
// and rate nuisances) and the simulated samples it is trained on. The one
// place that maps such a name to a simulator (train/ names none).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "src/io/event_set.h"
#include "src/likelihood/template_model.h"

namespace refinery {

struct SanntAnalysis {
  TemplateModelOptions model;
  std::vector<std::string> feature_names;
  int64_t signal_process = 0;  // the class whose probability a score summary bins
  // Weighted events of every process: the nominal sample (tag -1) and, per
  // shape nuisance k of `model.shapes`, its up (2k) and down (2k + 1; absent
  // for a one-sided nuisance, whose down template mirrors the up one)
  // samples, all from the same produced events.
  std::vector<std::pair<EventSet, int64_t>> samples;
};

// The built-in analyses' names.
const std::vector<std::string>& sannt_analysis_names();
// `produced` events per sample at `luminosity`, seeded by `seed`; InputError
// at `where` for an unknown name.
SanntAnalysis sannt_analysis(const std::string& name, int64_t produced, double luminosity, uint64_t seed,
                             const std::string& where);

}  // namespace refinery
