// The H->tautau binned analysis as a SANNT problem: the nominal sample of
// every process and variation samples from the *same* base events at
// tes = +-1, jes = +-1 and soft_met = +1 (one-sided: its down template is
// mirrored), the normalisation nuisances bkg_norm, ttbar_norm and
// diboson_norm as (1 + a)^theta factors, all constrained N(0, 1); the POI mu
// scales htautau. Simulated in memory with the embedded generator.
#pragma once
#include <cstdint>

#include "train/sannt_inferno.h"

namespace refinery {

SanntProblem htautau_sannt_problem(int64_t produced_events, double luminosity, uint64_t seed);

}  // namespace refinery
