// The options of a double-precision tensor: likelihood arithmetic and the
// simulators' truth are in double (docs/design.md), networks in float.
#pragma once
#include <torch/types.h>

namespace refinery {

inline const torch::TensorOptions kF64 = torch::TensorOptions().dtype(torch::kFloat64);

}  // namespace refinery
