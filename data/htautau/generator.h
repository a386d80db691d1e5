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

// Biased production of the hard system's transverse momentum (importance
// sampling, for weighted samples): a fraction `fraction` of the events draws
// the system pT's Gamma(k, theta) term with theta * `scale`, and every event
// carries the weight p(x) / q(x) = 1 / ((1 - f) + f s^-k exp((x / theta)(1 - 1/s)))
// of the true density over the mixture's, so that weighted sums are unbiased
// estimates of the true ones with more events where the pT is high.
// fraction = 0: the generator's own distribution (and random streams).
struct PtEnhancement {
  double fraction = 0.0;
  double scale = 1.0;
  bool active() const { return fraction > 0.0 && scale != 1.0; }
};

// Generator-level truth of the returned events, for validation.
struct GeneratorTruth {
  torch::Tensor nu_x, nu_y;  // transverse momentum of all neutrinos [N]
  torch::Tensor vbf;         // bool [N]: signal produced by VBF
};

// Generates `n_produced` events of `process`; returns those passing the loose
// preselection, each with the given weight (cross_section * luminosity /
// total produced for a weighted sample, 1 for pseudo-data).
// `enhancement` biases the system's pT (above); the returned weights include
// its p / q.
ObjectSet generate_process(int process, std::int64_t n_produced, double weight,
                           RandomStream& gen, GeneratorTruth* truth = nullptr,
                           const PtEnhancement& enhancement = {});

}  // namespace refinery::htautau
