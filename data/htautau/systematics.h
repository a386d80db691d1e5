// Systematic variations of an H->tautau event set (design.md section 12):
// calibration nuisances change the objects (tes, jes scale pT; both
// propagated to the MET vector; soft_met smears the MET), normalisation
// nuisances scale the weights of the processes they act on. Thresholds are
// re-applied afterwards by compute_features(). nu = 0 is the identity, bit
// for bit.
#pragma once
#include "data/htautau/nuisances.h"
#include "data/htautau/objects.h"

namespace refinery::htautau {

// Process indices of the simulator (htautau, ztautau, ttbar, diboson).
enum Process { kHtautau = 0, kZtautau, kTtbar, kDiboson, kNumProcesses };
const std::vector<std::string>& process_names();

// Weight factor N_p(mu, nu_norm) of design.md section 2 for process p.
double normalisation_factor(int process, double mu, const NuVector& nu);

ObjectSet apply_systematics(const ObjectSet& objects, const NuVector& nu, double mu = 1.0);

}  // namespace refinery::htautau
