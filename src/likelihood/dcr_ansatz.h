// The DCR ansatz in the nuisances (design.md section 3), its one definition:
//   log r(x|nu) = phi(nu) . Delta(x),
//   phi(nu) = (nu_1 .. nu_K) for order 1, followed for order 2 by the
//             products nu_a nu_b, a <= b, in row-major order.
// A LibTorch function, so gradients reach nu (fits) and, through Delta, the
// networks (training). The DCR network (models/dcr_network.h) and the
// likelihood's terms (likelihood_model.h) use it; the fused kernel's Ansatz
// (fused_kernel.h, closed-form Jacobian and Hessian) is a backend held equal
// to it by tests/test_definitions.cpp.
#pragma once
#include <torch/torch.h>

namespace refinery::likelihood {

// nu [K] -> [C], or [B, K] -> [B, C]; order 1 or 2.
torch::Tensor dcr_ansatz(const torch::Tensor& nu, int order);

}  // namespace refinery::likelihood
