// An ensemble of DCR networks as one DCR network (design.md section 3): the
// members' coefficients Delta_m(x) averaged per event, which keeps the
// ansatz, one coefficient cache and every consumer of a DCRNetwork
// (normalisation, validation, TorchScript export, the likelihood). The
// members (same features, preprocessing, ansatz and layer widths) are laid
// side by side (merge_mlps, models/mlp.h), so the output is the mean of the
// members' outputs exactly (to float rounding).
#pragma once
#include <vector>

#include "models/dcr_network.h"

namespace refinery {

// Throws std::invalid_argument for no members or members that differ in
// preprocessing, ansatz or layout.
DCRNetwork merge_dcr_ensemble(const std::vector<DCRNetwork>& members);

}  // namespace refinery
