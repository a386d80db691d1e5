// The DCR ansatz in the nuisances (design.md section 3), its one definition:
//   log r(x|nu) = phi(u(nu)) . Delta(x),
//   phi(u) = (u_1 .. u_K) for order 1, followed for order 2 by the
//            products u_a u_b, a <= b, in row-major order,
//   u_k = nu_k (power 1, the default) or nu_k^2 (power 2): the ansatz's
//   coordinate of each nuisance. A nuisance whose effect is even in it, such
//   as the width of an extra Gaussian smearing (its density is a function of
//   the added variance nu^2, a heat kernel), is quadratic in nu^2 to second
//   order where a quadratic in nu leaves out its nu^4 term.
//   A cubic nuisance (kCubic) is linear (u_k = nu_k) and adds the term
//   nu_k^3 at the end of phi, after the products, in the nuisances' order
//   (quadratic ansatz only): a response that bends over the training range
//   (a smearing from nothing to several times its typical size) which one
//   quadratic cannot follow at both ends.
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

// The power code of a cubic nuisance (see above).
constexpr int kCubic = 3;

// nu [K] -> [C], or [B, K] -> [B, C]; order 1 or 2; powers [K] of 1, 2 or
// kCubic (empty: every power 1).
torch::Tensor dcr_ansatz(const torch::Tensor& nu, int order, const std::vector<int>& powers = {});
// u(nu): nu with the columns of power 2 squared ([K] or [B, K]).
torch::Tensor dcr_coordinates(const torch::Tensor& nu, const std::vector<int>& powers);

// The names of the coordinates in configs and archives' metadata: "linear"
// (power 1), "square" (power 2) and "cubic" (kCubic). Throws
// std::invalid_argument otherwise.
int coordinate_power(const std::string& name);
const char* coordinate_name(int power);
// All powers 1 (or none given).
bool all_linear(const std::vector<int>& powers);
// The number of cubic nuisances, and the ansatz's number of coefficients C.
int cubic_terms(const std::vector<int>& powers);
int64_t ansatz_size(int64_t n_nuisances, int order, const std::vector<int>& powers = {});

}  // namespace refinery::likelihood
