// Interpolation of systematic variations in a nuisance alpha (pyhf's
// conventions), with first and second derivatives for Newton fits.
//   normsys (multiplicative factor f(alpha), f(0) = 1, f(+1) = hi, f(-1) = lo):
//     code1: hi^alpha (alpha >= 0), lo^-alpha (alpha < 0)
//     code4: 6th-order polynomial for |alpha| < 1 matching value, first and
//            second derivative of the exponential code1 form at +-1; code1 outside
//            (pyhf default)
//   histosys (additive delta(alpha) on the nominal, up = hi - nom, down = nom - lo):
//     code0: alpha * up (alpha >= 0), alpha * down (alpha < 0)
//     code4p: S alpha + A (15 alpha^2 - 10 alpha^4 + 3 alpha^6) / 8 for
//            |alpha| < 1 with S = (up + down)/2, A = (up - down)/2; code0 outside
//            (pyhf default)
#pragma once
#include <array>

// LibTorch's tensor, declared only: this header is part of the LibTorch-free
// engine; the tensor functions below are defined in interpolation_torch.cpp
// and their callers include <torch/torch.h>.
namespace at {
class Tensor;
}  // namespace at

namespace refinery::histfactory {

struct Interp {
  double value, d1, d2;
};

enum class NormsysCode { kCode1, kCode4 };
enum class HistosysCode { kCode0, kCode4p };

// Polynomial coefficients a_1..a_6 of code4 for one (hi, lo) pair.
std::array<double, 6> code4_coefficients(double hi, double lo);

Interp normsys(NormsysCode code, double alpha, double hi, double lo, const std::array<double, 6>& a);
Interp histosys(HistosysCode code, double alpha, double up, double down);

// The same interpolations on tensors, differentiable in alpha and in the
// variations (the SANNT templates depend on network weights; Hessians in
// alpha by double backward). alpha: a scalar tensor. Defined in
// interpolation_torch.cpp (LibTorch part of the library).
//   histosys_delta: additive change, up = hi - nominal, down = nominal - lo
//   (any shape, broadcast with alpha).
at::Tensor histosys_delta(HistosysCode code, const at::Tensor& alpha, const at::Tensor& up,
                             const at::Tensor& down);
//   normsys_factor: the multiplicative factor for constant hi/lo.
at::Tensor normsys_factor(NormsysCode code, const at::Tensor& alpha, double hi, double lo,
                             const std::array<double, 6>& a);

}  // namespace refinery::histfactory
