#include "src/stats/constraint.h"

#include <cmath>
#include <limits>

namespace refinery::stats {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
const double kHalfLog2Pi = 0.5 * std::log(2.0 * M_PI);
}  // namespace

const char* constraint_name(Constraint c) {
  switch (c) {
    case Constraint::kGaussian: return "gaussian";
    case Constraint::kPoisson: return "poisson";
    case Constraint::kLogNormal: return "lognormal";
    case Constraint::kNone: break;
  }
  return "none";
}

ConstraintTerm constraint_nll(Constraint c, double x, double aux, double width) {
  ConstraintTerm t;
  switch (c) {
    case Constraint::kNone:
      break;
    case Constraint::kGaussian: {
      const double z = (aux - x) / width;
      t.value = 0.5 * z * z + std::log(width) + kHalfLog2Pi;
      t.d1 = -z / width;
      t.d2 = 1.0 / (width * width);
      break;
    }
    case Constraint::kPoisson: {
      const double lambda = x * width;
      if (!(lambda > 0.0)) {
        t.value = kInf;
        break;
      }
      t.value = lambda - aux * std::log(lambda) + std::lgamma(aux + 1.0);
      t.d1 = width - aux / x;
      t.d2 = aux / (x * x);
      break;
    }
    case Constraint::kLogNormal: {
      if (!(x > 0.0) || !(aux > 0.0)) {
        t.value = kInf;
        break;
      }
      const double s2 = width * width, l = std::log(x / aux);
      t.value = 0.5 * l * l / s2 + std::log(aux * width) + kHalfLog2Pi;
      t.d1 = l / (s2 * x);
      t.d2 = (1.0 - l) / (s2 * x * x);
      break;
    }
  }
  return t;
}

double asimov_aux(Constraint c, double x, double width) {
  return c == Constraint::kPoisson ? x * width : x;
}

double sample_aux(Constraint c, double x, double width, std::mt19937_64& rng) {
  switch (c) {
    case Constraint::kGaussian: return std::normal_distribution<double>(x, width)(rng);
    case Constraint::kPoisson: return double(std::poisson_distribution<long long>(x * width)(rng));
    case Constraint::kLogNormal: return x * std::exp(std::normal_distribution<double>(0.0, width)(rng));
    case Constraint::kNone: break;
  }
  return x;
}

std::pair<double, double> prefit_range(Constraint c, double x, double width) {
  switch (c) {
    case Constraint::kGaussian: return {x - width, x + width};
    case Constraint::kPoisson: return {x - 1.0 / std::sqrt(width), x + 1.0 / std::sqrt(width)};
    case Constraint::kLogNormal: return {x * std::exp(-width), x * std::exp(width)};
    case Constraint::kNone: break;
  }
  return {x, x};
}

}  // namespace refinery::stats
