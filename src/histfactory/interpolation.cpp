#include "src/histfactory/interpolation.h"

#include <Eigen/Dense>

#include <cmath>

namespace refinery::histfactory {

std::array<double, 6> code4_coefficients(double hi, double lo) {
  // p(alpha) = 1 + sum_i a_i alpha^i; conditions at alpha = +1 and -1 on
  // p, p', p'' equal to those of hi^alpha and lo^-alpha.
  Eigen::Matrix<double, 6, 6> A;
  Eigen::Matrix<double, 6, 1> b;
  for (int row = 0; row < 2; ++row) {
    const double x = row == 0 ? 1.0 : -1.0;
    for (int i = 1; i <= 6; ++i) {
      A(3 * row + 0, i - 1) = std::pow(x, i);
      A(3 * row + 1, i - 1) = i * std::pow(x, i - 1);
      A(3 * row + 2, i - 1) = i * (i - 1) * std::pow(x, i - 2);
    }
  }
  const double lh = std::log(hi), ll = std::log(lo);
  b << hi - 1.0, hi * lh, hi * lh * lh, lo - 1.0, -lo * ll, lo * ll * ll;
  Eigen::Matrix<double, 6, 1> a = A.fullPivLu().solve(b);
  return {a(0), a(1), a(2), a(3), a(4), a(5)};
}

Interp normsys(NormsysCode code, double alpha, double hi, double lo, const std::array<double, 6>& a) {
  if (code == NormsysCode::kCode4 && std::abs(alpha) < 1.0) {
    // p = 1 + sum_i a_i alpha^i and its derivatives, by Horner's rule.
    double v = 0.0, d1 = 0.0, d2 = 0.0;
    for (int i = 6; i >= 1; --i) v = v * alpha + a[i - 1];
    for (int i = 6; i >= 1; --i) d1 = d1 * alpha + i * a[i - 1];
    for (int i = 6; i >= 2; --i) d2 = d2 * alpha + i * (i - 1) * a[i - 1];
    return {1.0 + v * alpha, d1, d2};
  }
  if (alpha >= 0.0) {
    const double l = std::log(hi), v = std::exp(alpha * l);
    return {v, v * l, v * l * l};
  }
  const double l = -std::log(lo), v = std::exp(alpha * l);  // lo^-alpha
  return {v, v * l, v * l * l};
}

Interp histosys(HistosysCode code, double alpha, double up, double down) {
  if (code == HistosysCode::kCode4p && std::abs(alpha) < 1.0) {
    const double S = 0.5 * (up + down), A = 0.5 * (up - down);
    const double a2 = alpha * alpha, a4 = a2 * a2;
    const double g = (15.0 * a2 - 10.0 * a4 + 3.0 * a4 * a2) / 8.0;
    const double g1 = (30.0 * alpha - 40.0 * a2 * alpha + 18.0 * a4 * alpha) / 8.0;
    const double g2 = (30.0 - 120.0 * a2 + 90.0 * a4) / 8.0;
    return {S * alpha + A * g, S + A * g1, A * g2};
  }
  const double slope = alpha >= 0.0 ? up : down;
  return {slope * alpha, slope, 0.0};
}

}  // namespace refinery::histfactory
