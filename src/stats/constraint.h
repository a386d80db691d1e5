// Constraint terms: the likelihood of one auxiliary measurement `aux` of a
// parameter x, -log p(aux | x) with its normalisation, written once for every
// model (design.md section 2; HistFactory's conventions, pyhf's constants):
//   Gaussian:   aux ~ N(x, width)            0.5 ((aux - x) / width)^2 + log(width sqrt(2 pi))
//   Poisson:    aux ~ Poisson(x tau)         x tau - aux log(x tau) + lgamma(aux + 1), tau = width
//               (shapesys: Barlow-Beeston with a Gamma prior, continuous in aux)
//   log-normal: log aux ~ N(log x, width)    0.5 (log(aux / x) / width)^2 + log(aux width sqrt(2 pi))
// Asimov data set aux at its expectation given x (x, x tau, x); toys draw it.
#pragma once
#include <random>
#include <string>

namespace refinery::stats {

enum class Constraint { kNone, kGaussian, kPoisson, kLogNormal };

// "none", "gaussian", "poisson", "lognormal".
const char* constraint_name(Constraint c);

// Value, first and second derivative in x of -log p(aux | x); value +inf
// outside the domain (x tau <= 0, x <= 0 for log-normal).
struct ConstraintTerm {
  double value = 0.0, d1 = 0.0, d2 = 0.0;
};
ConstraintTerm constraint_nll(Constraint c, double x, double aux, double width);

// The auxiliary datum of the Asimov data set at x.
double asimov_aux(Constraint c, double x, double width);

// One pseudo-measurement of the auxiliary datum given x.
double sample_aux(Constraint c, double x, double width, std::mt19937_64& rng);

// The constraint's one-sigma range around x in the parameter's units (pre-fit
// uncertainty for impacts): Gaussian width, Poisson 1/sqrt(tau),
// log-normal x exp(+-width). Returns {down, up} as absolute values.
std::pair<double, double> prefit_range(Constraint c, double x, double width);

}  // namespace refinery::stats
