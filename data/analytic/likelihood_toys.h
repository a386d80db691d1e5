// Small models of the profile likelihood engine with exact densities, for
// tests and benchmarks (design.md section 11: analytic truth first).
//
// GaussianToy: x in R; signal s0 N(x | 2, 0.5) with s0 = 50 mu; background
// b0 N(x | 0.2 nu, 1) with b0 = 1000 * 1.05^norm. The background's DCR
// r(x|nu) = exp(0.2 nu x - 0.02 nu^2) is exactly log-quadratic (Delta =
// (0.2 x, -0.02)), the fractions are exact, and pseudo-data are exact draws:
// coverage and pulls test the engine alone. Parameters: mu, nu (shape,
// N(0,1)), norm (N(0,1)).
//
// INFERNO (analytic/inferno.h): the 3D mixture with its exact densities; the
// DCR coefficients are the exact Taylor coefficients of log p_b in
// (nu_r, nu_lambda) = (r / 0.4, lambda - 3) at the nominal point, b =
// 1000 (1 + 0.1 nu_b); on Asimov data the Hessian of the NLL is then the
// exact Fisher information.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "data/analytic/dcr_toy.h"

#include "src/likelihood/likelihood_model.h"

namespace refinery::analytic {

// How expected yields are computed from the simulated events:
//   kLabels:    Y_p = sum over events of process p of w r_p (design.md section 2);
//   kFractions: Y_p = sum over all events of w f_p(x) r_p (self-consistent
//               with R(x): Asimov data then give the true point exactly).
enum class YieldEstimate { kLabels, kFractions };

// The background's DCR coefficients Delta(x) (ansatz order 2, one nuisance:
// float64 [N, 2] for x [N]), e.g. from a trained network.
using DcrCoefficients = std::function<torch::Tensor(const torch::Tensor& x)>;

// mc_stat_cells > 0: the simulated-sample statistics term (mc_statistics.h)
// in that many cells of the signal fraction, each with an equal share of the
// expected signal; 0: no term (the simulated yields taken as exact).
// background_dcr: the coefficients the likelihood uses for the background
// (default: the exact (0.2 x, -0.02)); pseudo-data stay exact draws.
class GaussianToy {
 public:
  explicit GaussianToy(int64_t mc_signal = 10000, int64_t mc_background = 40000, uint64_t seed = 99,
                       YieldEstimate yields = YieldEstimate::kFractions, int mc_stat_cells = 0,
                       DcrCoefficients background_dcr = {});
  // The background's nu-dependence as a closed-form DCR toy (x ~ N(0.2 nu, 1),
  // rate independent of nu), whose variation samples train a DCR network.
  static DcrToy background_variations();
  likelihood::ModelSpec spec() const;
  likelihood::LikelihoodModel model(likelihood::EventData data) const;
  // Asimov data at (mu, nu, norm): the simulated events weighted by
  // w R(x|theta) (exact with kFractions).
  likelihood::EventData asimov(double mu, double nu, double norm) const;
  likelihood::EventData pseudo_data(double mu, double nu, double norm, torch::Generator& gen) const;
  // Fractions [N,2] and coefficients [N,2,2] at x [N].
  likelihood::EventData events_at(const torch::Tensor& x, const torch::Tensor& weight = {}) const;

 private:
  torch::Tensor x_mc_, w_mc_, p_mc_;
  likelihood::Cells cells_;
  DcrCoefficients dcr_;
  bool mc_stat_ = false;
  std::vector<double> edges_;  // of the cells in the signal fraction
};

// Asimov model of INFERNO benchmark `bm` (0-4) from n simulated events per
// process; parameters (mu = s/50, nu_r, nu_lambda, nu_b).
likelihood::LikelihoodModel inferno_asimov_model(int bm, int64_t n, torch::Generator& gen);
// Parameters the benchmark fixes.
std::vector<bool> inferno_fixed(int bm);

}  // namespace refinery::analytic
