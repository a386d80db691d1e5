// The DCR ansatz in the nuisances (design.md section 3), its one definition:
//   log r(x|nu) = phi(u(nu)) . Delta(x),
//   phi(u) = (u_1 .. u_K) for order 1, followed for order 2 by the
//            products u_a u_b, a <= b, in row-major order,
//   u_k = nu_k (power 1, the default) or nu_k^2 (power 2): the ansatz's
//   coordinate of each nuisance. A nuisance whose effect is even in it, such
//   as the width of an extra Gaussian smearing (its density is a function of
//   the added variance nu^2, a heat kernel), is quadratic in nu^2 to second
//   order where a quadratic in nu leaves out its nu^4 term.
// A LibTorch function, so gradients reach nu (fits) and, through Delta, the
// networks (training). The DCR network (models/dcr_network.h) and the
// likelihood's terms (likelihood_model.h) use it; the fused kernel's Ansatz
// (fused_kernel.h, closed-form Jacobian and Hessian) is a backend held equal
// to it by tests/test_definitions.cpp.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace refinery::likelihood {

// nu [K] -> [C], or [B, K] -> [B, C]; order 1 or 2; powers [K] of 1 or 2
// (empty: every power 1).
torch::Tensor dcr_ansatz(const torch::Tensor& nu, int order, const std::vector<int>& powers = {});
// u(nu): nu with the columns of power 2 squared ([K] or [B, K]).
torch::Tensor dcr_coordinates(const torch::Tensor& nu, const std::vector<int>& powers);

// The names of the coordinates in configs and archives' metadata: "linear"
// (power 1) and "square" (power 2). Throws std::invalid_argument otherwise.
int coordinate_power(const std::string& name);
const char* coordinate_name(int power);
// All powers 1 (or none given).
bool all_linear(const std::vector<int>& powers);

}  // namespace refinery::likelihood
