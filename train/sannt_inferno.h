// The INFERNO benchmarks as SANNT problems (design.md section 12): signal and
// background samples of the 3-D mixture, and background variation samples
// derived from the *same* background draws (x0 shifted by r, x2 scaled by
// 3 / lambda), so template differences are systematic, not statistical.
// Nuisances in units of their constraint where a benchmark constrains them:
//   r:      theta_r = r / 0.4, templates at r = +-0.4
//   lambda: theta_l = lambda - 3, templates at lambda = 3 +- 1
//   b:      linear normalisation 1 + 0.1 theta_b of the background
// and without a penalty where the benchmark leaves them free. The POI mu
// scales the signal: sigma(s) = 50 sigma(mu).
#pragma once
#include <cstdint>

#include "src/likelihood/template_model.h"
#include "train/sannt_training.h"

namespace refinery {

struct SanntProblem {
  SanntData data;
  TemplateModelOptions model;
};

SanntProblem inferno_sannt_problem(int benchmark, int64_t n_signal, int64_t n_background, uint64_t seed);

}  // namespace refinery
