// The binned model of a template likelihood as a HistFactory / pyhf JSON
// workspace (schema 1.0.0), so pyhf or any HistFactory tool reads the
// analysis a SANNT network defines: one channel, one sample per process with
// its nominal template; a POI is a normfactor on the processes it scales; a
// shape nuisance a histosys (hi_data / lo_data = up / down templates) on the
// processes it changes; a normalisation nuisance with the template model's
// normsys form a normsys (hi = 1 + a, lo = 1 / (1 + a)), the same function
// when the reader interpolates with the template model's code (pyhf's
// default code4; code1 for a model in code1: `refinery ... --interp code1`);
// a linear one (1 + a theta) a histosys with symmetric variations (1 +- a)
// times the nominal template, linear under code0 and code4p: on a process
// that also has a shape histosys the additive form drops the product term
// a theta_n Delta_k(theta_k), which vanishes with either nuisance at 0, so the
// value, gradient and Fisher information at the nominal point agree exactly;
// the empty-bin floor a sample of its own without modifiers; observations =
// the Asimov counts.
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
