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
//   A nuisance with a knot at t (kKnot + 10 t) is linear and adds the term
//   (nu_k - t)_+^2 at the end of phi, after the products, among the cubic
//   terms in the nuisances' order (quadratic ansatz only): a quadratic spline, the
//   ansatz unchanged in form below the knot and free to bend above it, so
//   that training points beyond the knot no longer set the response where
//   most of the prior lies. Continuous with its first derivative at the knot.
// The coordinates' codes and names: dcr_coordinate.h.
// A LibTorch function, so gradients reach nu (fits) and, through Delta, the
// networks (training). The DCR network (models/dcr_network.h) and the
// likelihood's terms (likelihood_model.h) use it; the fused kernel's Ansatz
// (fused_kernel.h, closed-form Jacobian and Hessian) is a backend held equal
// to it by tests/test_definitions.cpp.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "src/likelihood/dcr_coordinate.h"

namespace refinery::likelihood {

// nu [K] -> [C], or [B, K] -> [B, C]; order 1 or 2; powers [K] of 1, 2,
// kCubic or a knot (empty: every power 1).
torch::Tensor dcr_ansatz(const torch::Tensor& nu, int order, const std::vector<int>& powers = {});
// u(nu): nu with the columns of power 2 squared ([K] or [B, K]).
torch::Tensor dcr_coordinates(const torch::Tensor& nu, const std::vector<int>& powers);

}  // namespace refinery::likelihood
