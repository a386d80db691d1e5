// TorchScript export of SALLY and the likelihood-ratio estimators (issue 17
// item 3), like the other networks (models/torchscript_export.h): the
// standardisation and the layers as TorchScript source, with metadata.
//   SALLY:              forward(x) -> the estimated score t^(x) [N, P] (float64)
//   ratio estimator:    log_ratio(x, theta) -> log r^(x|theta, theta_ref) [N] (float64),
//                       network_output(x, theta) -> s(x, theta) [N]
//   morphing-aware:     also coefficients(x) -> [N, n, 1 + 2K] (o, a_1..a_K, b_1..b_K per
//                       basis point) and weights(theta) -> w [N, n]
// An ensemble of M members trained alike: SALLY's score is the members'
// mean (member_scores(x) -> [M, N, P]); a ratio estimator's network output
// is the members' mean, in the morphing-aware form through the mean of
// their coefficients (one cache, the ansatz kept; member_coefficients(x) ->
// [M, N, n, 1 + 2K]); member_log_ratios(x, theta) -> [M, N] gives the spread.
// The archives load with torch::jit::load and torch.jit.load.
#pragma once
#include <torch/script.h>

#include <nlohmann/json.hpp>

#include "train/ratio_estimator.h"
#include "train/sally.h"

namespace refinery {

torch::jit::Module sally_to_torchscript(const Sally& sally);
torch::jit::Module sally_to_torchscript(const std::vector<Sally>& members);
torch::jit::Module ratio_estimator_to_torchscript(const RatioEstimator& estimator);
torch::jit::Module ratio_estimator_to_torchscript(const std::vector<RatioEstimator>& members);

}  // namespace refinery
