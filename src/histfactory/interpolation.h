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

}  // namespace refinery::histfactory
