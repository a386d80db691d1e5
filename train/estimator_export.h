// TorchScript export of SALLY and the likelihood-ratio estimators (issue 17
// item 3), like the other networks (models/torchscript_export.h): the
// standardisation and the layers as TorchScript source, with metadata.
//   SALLY:              forward(x) -> the estimated score t^(x) [N, P] (float64)
//   ratio estimator:    log_ratio(x, theta) -> log r^(x|theta, theta_ref) [N] (float64),
//                       network_output(x, theta) -> s(x, theta) [N]
//   morphing-aware:     also coefficients(x) -> [N, n, 1 + 2K] (o, a_1..a_K, b_1..b_K per
//                       basis point) and weights(theta) -> w [N, n]
// The archives load with torch::jit::load and torch.jit.load.
#pragma once
#include <torch/script.h>

#include <nlohmann/json.hpp>

#include "train/ratio_estimator.h"
#include "train/sally.h"

namespace refinery {

torch::jit::Module sally_to_torchscript(const Sally& sally);
torch::jit::Module ratio_estimator_to_torchscript(const RatioEstimator& estimator);

}  // namespace refinery
