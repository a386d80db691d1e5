// The H->tautau (lep-had) event generator: produces events of one process,
// decays, detector response, and keeps those passing a loose preselection
// (objects kept down to looser thresholds than the analysis, so systematic
// shifts can move events in as well as out of the final selection).
#pragma once
#include <cstdint>

#include "data/htautau/objects.h"
#include "data/random.h"
#include "data/htautau/systematics.h"

namespace refinery::htautau {

// Effective cross section times branching ratio into the lep-had final state
// (fb), tuned so that the final preselection at 10 fb^-1 gives the yields of
// docs/simulator.md (htautau ~1e3, ztautau ~1e5, ttbar ~1e4, diboson ~1e3).
double cross_section_fb(int process);
// Fraction of signal produced by vector-boson fusion (the rest is gluon fusion).
constexpr double kVbfFraction = 0.12;

// Generator-level truth of the returned events, for validation.
struct GeneratorTruth {
  torch::Tensor nu_x, nu_y;  // transverse momentum of all neutrinos [N]
  torch::Tensor vbf;         // bool [N]: signal produced by VBF
};

// Generates `n_produced` events of `process`; returns those passing the loose
// preselection, each with the given weight (cross_section * luminosity /
// total produced for a weighted sample, 1 for pseudo-data).
ObjectSet generate_process(int process, std::int64_t n_produced, double weight,
                           RandomStream& gen, GeneratorTruth* truth = nullptr);

}  // namespace refinery::htautau
