// The binned model of a template likelihood as a HistFactory / pyhf JSON
// workspace (schema 1.0.0), so pyhf or any HistFactory tool reads the
// analysis a SANNT network defines: one channel, one sample per process with
// its nominal template; a POI is a normfactor on the processes it scales; a
// shape nuisance a histosys (hi_data / lo_data = up / down templates) on the
// processes it changes; a normalisation nuisance a normsys (hi = 1 + a,
// lo = 1 - a; HistFactory interpolates it with code4, refinery's linear
// factor 1 + a theta agrees to first order in theta); the empty-bin floor a
// sample of its own without modifiers; observations = the Asimov counts.
// Nuisances must have the standard N(0, 1) constraint: HistFactory has no
// free histosys/normsys, so a free or differently constrained nuisance is
// an InputError naming it.
#pragma once
#include <nlohmann/json.hpp>

#include "src/likelihood/template_model.h"

namespace refinery {

nlohmann::json template_workspace(const BinnedTemplateModel& model, const torch::Tensor& nominal,
                                  const torch::Tensor& up, const torch::Tensor& down,
                                  const std::string& channel = "sannt");

}  // namespace refinery
