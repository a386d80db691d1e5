// A binned likelihood whose templates are tensors that may depend on network
// weights (SANNT, design.md section 5). Expected counts per bin
//     lambda_b = sum_p N_p(mu, nu_norm) * [ T_pb + sum_k I(theta_k; T_pb, U_kpb, D_kpb) ]
// with T the nominal templates [P,B], U/D the up/down templates of every
// shape nuisance [K,P,B], I the HistFactory histosys interpolation (code4p
// by default: smooth at 0, so the Hessian there exists; code0, the talk's
// piecewise-linear form, as an option), N_p the product of the POIs scaling
// p and of its normalisation factors ((1 + a theta), or the HistFactory
// normsys with hi = 1 + a, lo = 1 / (1 + a): code4 by default as in pyhf,
// code1 = (1 + a)^theta).
// This is the definition of the expected counts, in LibTorch operations in
// double; the likelihood, its Fisher information at the Asimov point (a
// Hessian by double backward) and the POI uncertainties sqrt((F^-1)_ii),
// differentiable in the templates, are stats::TemplateModel's
// (src/stats/template_model.h): the model fits and hypotests use too.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "src/histfactory/interpolation.h"

namespace refinery {

struct TemplatePoi {
  std::string name;
  std::vector<int64_t> processes;  // processes it scales
};

struct TemplateShapeNuisance {
  std::string name;
  double constraint = 1.0;  // Gaussian width in units of theta; 0: free (no penalty)
};

struct TemplateNormNuisance {
  std::string name;
  std::vector<int64_t> processes;
  double size = 0.1;      // relative 1-theta effect a
  // true: the factor 1 + a theta; false: HistFactory's normsys with
  // hi = 1 + a, lo = 1 / (1 + a), interpolated with TemplateModelOptions::
  // normsys (code1: exactly (1 + a)^theta; code4: pyhf's default).
  bool linear = true;
  double constraint = 1.0;  // 0: free
};

struct TemplateModelOptions {
  std::vector<std::string> processes;
  std::vector<TemplatePoi> pois;
  std::vector<TemplateShapeNuisance> shapes;
  std::vector<TemplateNormNuisance> norms;
  histfactory::HistosysCode interpolation = histfactory::HistosysCode::kCode4p;
  histfactory::NormsysCode normsys = histfactory::NormsysCode::kCode4;
  // Added to every expected count: guards empty bins (log 0, 1/0 in the
  // Fisher information). In events; small against any populated bin.
  double empty_bin_floor = 1e-3;
};

class BinnedTemplateModel {
 public:
  explicit BinnedTemplateModel(TemplateModelOptions options);
  // Parameters: POIs, then shape nuisances, then norm nuisances.
  int64_t n_parameters() const;
  int64_t n_pois() const { return static_cast<int64_t>(o_.pois.size()); }
  // The nominal point: POIs 1, nuisances 0 (float64).
  torch::Tensor nominal_parameters() const;
  // lambda [B] for templates nominal [P,B], up/down [K,P,B] (K may be 0).
  torch::Tensor expected(const torch::Tensor& nominal, const torch::Tensor& up, const torch::Tensor& down,
                         const torch::Tensor& params) const;
  // Per process [P,B] (without the empty-bin floor, which `expected` adds
  // to the sum).
  torch::Tensor expected_per_process(const torch::Tensor& nominal, const torch::Tensor& up, const torch::Tensor& down,
                                     const torch::Tensor& params) const;
  const TemplateModelOptions& options() const { return o_; }

 private:
  TemplateModelOptions o_;
  std::vector<std::array<double, 6>> code4_;  // per normalisation nuisance
};

}  // namespace refinery
