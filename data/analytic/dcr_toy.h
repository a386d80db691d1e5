// Closed-form DCR toys (design.md sections 3 and 12). With K nuisances:
//   x ~ N(M nu, I_K) in R^K,   sigma(nu) = sigma0 exp(c . nu)
// so the differential cross-section ratio is exactly log-quadratic in nu,
//   log r(x|nu) = c . nu + (M nu) . x - |M nu|^2 / 2,
// the case the parametric DCR ansatz must reproduce exactly. Variation
// samples are derived from the same base draws z (x = z + M nu), so that
// differences between them are systematic, not statistical.
#pragma once
#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "src/io/event_set.h"

namespace refinery::analytic {

struct DcrToy {
  torch::Tensor M;    // [K,K] float64
  torch::Tensor c;    // [K]
  double sigma0 = 1000.0;  // expected events at nu = 0

  static DcrToy one_nuisance();     // M = 0.5, c = 0.1
  static DcrToy three_nuisances();  // a fixed mixing matrix, see dcr_toy.cpp
  int64_t dim() const { return M.size(0); }

  // Exact log r(x|nu) for x [N,K] and one nu [K] (float64 [N]).
  torch::Tensor log_ratio(const torch::Tensor& x, const torch::Tensor& nu) const;
  // Exact log density of x at nu (normalised).
  torch::Tensor log_pdf(const torch::Tensor& x, const torch::Tensor& nu) const;
  double cross_section(const torch::Tensor& nu) const;
  // Base draws z ~ N(0, I) [N,K], and the sample at nu built from them:
  // features z + M nu, weights sigma(nu)/N, nuisances column = nu.
  torch::Tensor base(int64_t n, torch::Generator& gen) const;
  EventSet sample_at(const torch::Tensor& base, const torch::Tensor& nu) const;
  EventMeta meta() const;
};

}  // namespace refinery::analytic
