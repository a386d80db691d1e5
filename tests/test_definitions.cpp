// One definition per piece (issue 13 item 3): the LibTorch form of each
// modifier is its definition; the compiled forms the HistFactory engine
// evaluates (src/histfactory/interpolation.h, double with first and second
// derivatives) are backends, held equal to it here in value, first and
// second derivative (autograd, double backward) to 1e-10 relative, over
// alphas inside, at and beyond the +-1 knots, and for the awkward
// variations (lo > 1, hi < 1, asymmetric, up = down). The regions' rate
// factors (1 + a)^nu are exactly normsys code1 with hi = 1 + a,
// lo = 1 / (1 + a).
#include "tests/testing.hpp"

#include <cmath>

#include "src/histfactory/interpolation.h"
#include "src/likelihood/dcr_ansatz.h"
#include "src/likelihood/fused_kernel.h"
#include "src/likelihood/likelihood_model.h"
#include "src/likelihood/mc_statistics.h"

using namespace refinery;
using histfactory::HistosysCode;
using histfactory::NormsysCode;

namespace {

struct Derivatives {
  double value, d1, d2;
};

// Value, first and second derivative of f at alpha by autograd.
template <class F>
Derivatives by_autograd(F f, double alpha) {
  torch::Tensor a = torch::tensor(alpha, torch::kFloat64).requires_grad_(true);
  torch::Tensor y = f(a).sum();
  torch::Tensor g = torch::autograd::grad({y}, {a}, {}, true, true)[0];
  // A derivative that no longer depends on alpha (linear pieces) has no graph: d2 = 0.
  if (!g.requires_grad()) return {y.item<double>(), g.item<double>(), 0.0};
  torch::Tensor h = torch::autograd::grad({g}, {a}, {}, false, false, true)[0];
  return {y.item<double>(), g.item<double>(), h.defined() ? h.item<double>() : 0.0};
}

void require_close(double backend, double definition, double scale, const char* what) {
  INFO(what << ": backend " << backend << ", definition " << definition);
  REQUIRE(std::abs(backend - definition) <= 1e-10 * std::max(scale, 1e-12));
}

const double kAlphas[] = {-3.0, -1.5, -1.0, -1.0 + 1e-9, -0.73, -0.2, -1e-7, 0.0, 1e-7, 0.31, 0.5, 0.999, 1.0, 1.2, 2.5};

}  // namespace

TEST_CASE("normsys code1 and code4: the compiled backend equals the LibTorch definition", "[definitions][histfactory]") {
  const std::pair<double, double> variations[] = {{1.1, 0.9}, {1.3, 0.95}, {0.8, 1.05}, {1.02, 1.01}, {1.5, 0.5},
                                                  {1.0, 1.0}, {2.0, 0.25}};
  for (auto code : {NormsysCode::kCode1, NormsysCode::kCode4}) {
    for (const auto& [hi, lo] : variations) {
      const auto coefficients = histfactory::code4_coefficients(hi, lo);
      for (double alpha : kAlphas) {
        INFO("code " << (code == NormsysCode::kCode1 ? 1 : 4) << ", hi " << hi << ", lo " << lo << ", alpha " << alpha);
        const Derivatives d = by_autograd(
            [&](const torch::Tensor& a) { return histfactory::normsys_factor(code, a, hi, lo, coefficients); }, alpha);
        const histfactory::Interp b = histfactory::normsys(code, alpha, hi, lo, coefficients);
        require_close(b.value, d.value, std::abs(d.value), "value");
        require_close(b.d1, d.d1, std::max(std::abs(d.d1), std::abs(d.value)), "first derivative");
        require_close(b.d2, d.d2, std::max(std::abs(d.d2), std::abs(d.value)), "second derivative");
      }
    }
  }
}

TEST_CASE("histosys code0 and code4p: the compiled backend equals the LibTorch definition", "[definitions][histfactory]") {
  // (up, down) = (hi - nominal, nominal - lo) in events.
  const std::pair<double, double> variations[] = {{3.0, 2.0}, {-1.5, 0.7}, {0.4, -0.4}, {2.0, 2.0}, {0.0, 5.0}, {-2.0, -3.0}};
  for (auto code : {HistosysCode::kCode0, HistosysCode::kCode4p}) {
    for (const auto& [up, down] : variations) {
      for (double alpha : kAlphas) {
        if (code == HistosysCode::kCode0 && alpha == 0.0) continue;  // the kink: no second derivative to compare
        INFO("code " << (code == HistosysCode::kCode0 ? "0" : "4p") << ", up " << up << ", down " << down << ", alpha "
                     << alpha);
        const Derivatives d = by_autograd(
            [&](const torch::Tensor& a) {
              return histfactory::histosys_delta(code, a, torch::tensor(up, torch::kFloat64),
                                                 torch::tensor(down, torch::kFloat64));
            },
            alpha);
        const histfactory::Interp b = histfactory::histosys(code, alpha, up, down);
        const double scale = std::max(std::abs(up), std::abs(down));
        require_close(b.value, d.value, scale, "value");
        require_close(b.d1, d.d1, scale, "first derivative");
        require_close(b.d2, d.d2, scale, "second derivative");
      }
    }
  }
}

TEST_CASE("The regions' rate factor (1 + a)^nu is normsys code1 with hi = 1 + a, lo = 1 / (1 + a)", "[definitions][likelihood]") {
  likelihood::ModelSpec spec;
  spec.processes = {"s", "b"};
  spec.factors = {{0, 0, {}}};
  spec.parameters.push_back({"mu", likelihood::ParameterKind::kPoi, likelihood::Constraint::kNone, 0, 1, 1, 0.01, 10});
  spec.parameters.push_back({"k", likelihood::ParameterKind::kNormalisation, likelihood::Constraint::kGaussian, 0, 1, 0, -5, 5});
  const double a = 0.25;
  spec.modifiers.push_back({1, 1, a, false, {}});
  spec.validate();
  const auto coefficients = histfactory::code4_coefficients(1.0 + a, 1.0 / (1.0 + a));
  for (double nu : kAlphas) {
    INFO("nu " << nu);
    const Derivatives region = by_autograd(
        [&](const torch::Tensor& k) {
          return likelihood::terms::norms(spec, torch::stack({torch::tensor(1.0, torch::kFloat64), k}), "region")
              .norm()[1];
        },
        nu);
    const Derivatives definition = by_autograd(
        [&](const torch::Tensor& k) {
          return histfactory::normsys_factor(NormsysCode::kCode1, k, 1.0 + a, 1.0 / (1.0 + a), coefficients);
        },
        nu);
    require_close(region.value, definition.value, definition.value, "value");
    require_close(region.d1, definition.d1, std::abs(definition.d1), "first derivative");
    require_close(region.d2, definition.d2, std::abs(definition.d2), "second derivative");
  }
}

TEST_CASE("DCR ansatz: the fused kernel's phi, Jacobian and Hessian equal the LibTorch definition", "[definitions][likelihood]") {
  const double points[][3] = {{0.0, 0.0, 0.0}, {1.0, -0.5, 2.0}, {-1.7, 0.3, 0.01}, {4.0, 4.0, -4.0}};
  // Every nuisance in its own coordinate, one squared (a smearing width), two
  // squared; one with a cubic term, and a cubic beside a squared one; a knot
  // (the points on both sides of it), and a knot beside a cubic and a square.
  const int cubic = likelihood::kCubic, knot = likelihood::knot_code(0.5), low_knot = likelihood::knot_code(-1.0);
  const std::vector<std::vector<int>> powers = {{},           {1, 1, 2},          {2, 1, 2}, {1, 1, cubic},
                                                {cubic, 1, 2}, {1, 1, knot}, {low_knot, cubic, 2}};
  for (const auto& power : powers)
  for (int order : {1, 2}) {
    if (order == 1 && likelihood::appended_terms(power) > 0) {
      REQUIRE_THROWS_AS(likelihood::Ansatz(3, order, power), std::logic_error);
      REQUIRE_THROWS_AS(likelihood::dcr_ansatz(torch::zeros({3}, torch::kFloat64), order, power), std::invalid_argument);
      continue;
    }
    const likelihood::Ansatz backend(3, order, power);
    REQUIRE(backend.C == (order == 1 ? 3 : 9) + likelihood::appended_terms(power));
    for (const auto& nu : points) {
      INFO("order " << order << ", powers " << power.size() << (power.empty() ? 0 : power[0]) << ", nu (" << nu[0] << ", "
                    << nu[1] << ", " << nu[2] << ")");
      torch::Tensor x = torch::tensor({nu[0], nu[1], nu[2]}, torch::kFloat64).requires_grad_(true);
      const torch::Tensor definition = likelihood::dcr_ansatz(x, order, power);
      REQUIRE(definition.size(0) == backend.C);
      std::vector<double> phi(backend.C);
      backend.phi(nu, phi.data());
      // Jacobian [C, K] and Hessians [C, K, K] of the definition by autograd.
      std::vector<std::vector<double>> jacobian(backend.C, std::vector<double>(3, 0.0));
      std::vector<std::vector<std::vector<double>>> hessian(backend.C, jacobian);
      for (int c = 0; c < backend.C; ++c) {
        require_close(phi[c], definition[c].item<double>(), std::max(1.0, std::abs(phi[c])), "phi");
        torch::Tensor g = torch::autograd::grad({definition[c]}, {x}, {}, true, true)[0];
        for (int k = 0; k < 3; ++k) {
          jacobian[c][k] = g[k].item<double>();
          if (!g.requires_grad()) continue;
          torch::Tensor h = torch::autograd::grad({g[k]}, {x}, {}, true, false, true)[0];
          if (h.defined())
            for (int l = 0; l < 3; ++l) hessian[c][k][l] = h[l].item<double>();
        }
      }
      std::vector<std::vector<double>> first(backend.C, std::vector<double>(3, 0.0));
      for (const auto& e : backend.first(nu)) first[e.c][e.k] += e.value;
      std::vector<std::vector<std::vector<double>>> second(backend.C, std::vector<std::vector<double>>(3, std::vector<double>(3, 0.0)));
      for (const auto& e : backend.second(nu)) {
        REQUIRE(e.k <= e.l);
        second[e.c][e.k][e.l] += e.value;
        if (e.k != e.l) second[e.c][e.l][e.k] += e.value;
      }
      for (int c = 0; c < backend.C; ++c)
        for (int k = 0; k < 3; ++k) {
          require_close(first[c][k], jacobian[c][k], std::max(1.0, std::abs(jacobian[c][k])), "Jacobian");
          for (int l = 0; l < 3; ++l) require_close(second[c][k][l], hessian[c][k][l], std::max(1.0, std::abs(hessian[c][k][l])), "Hessian");
        }
    }
  }
  // The cubic term by hand: phi = (nu, nu^2, nu^3) in one nuisance.
  const likelihood::Ansatz cubed(1, 2, {cubic});
  {
    const double v = -1.5;
    double f[3];
    cubed.phi(&v, f);
    REQUIRE(f[0] == -1.5);
    REQUIRE(f[1] == 2.25);
    REQUIRE(f[2] == -3.375);
  }
  // The square's coordinate by hand: u = nu^2, so phi = (u, u^2) in one nuisance.
  const likelihood::Ansatz square(1, 2, {2});
  const double nu = 1.5;
  double phi[2];
  square.phi(&nu, phi);
  REQUIRE(phi[0] == 2.25);
  REQUIRE(phi[1] == 2.25 * 2.25);
  REQUIRE(likelihood::dcr_ansatz(torch::tensor({1.5}, torch::kFloat64), 2, {2})[1].item<double>() == 2.25 * 2.25);
}

TEST_CASE("Simulated-sample statistics: the profiled Barlow-Beeston-lite term equals its LibTorch definition and minimises over gamma",
          "[definitions][likelihood][mcstat]") {
  // Bins with many and few simulated events (delta 0.005-0.8: 40000 to 1.6
  // effective events), no observed events, data far above and below the
  // expectation.
  for (double lambda : {0.3, 4.0, 87.5, 1e3, 2.5e5})
    for (double n : {0.0, 1.0, 3.0, 90.0, 1.2e3, 2.49e5})
      for (double delta : {0.005, 0.05, 0.3, 0.8}) {
        INFO("lambda " << lambda << ", n " << n << ", delta " << delta);
        const likelihood::McStatisticsBin backend = likelihood::profile_mc_statistics(lambda, n, delta);
        const Derivatives definition = by_autograd(
            [&](const torch::Tensor& l) {
              return likelihood::mc_statistics(l.view({1}), torch::tensor({n}, torch::kFloat64),
                                               torch::tensor({delta}, torch::kFloat64));
            },
            lambda);
        const double scale = std::max({1.0, lambda, n, 1.0 / (delta * delta)});
        require_close(backend.value, definition.value, scale, "value");
        require_close(backend.d1, definition.d1, 1.0, "first derivative");
        require_close(backend.d2, definition.d2, std::max(1e-12, std::abs(definition.d2)), "second derivative");
        // gamma is the minimum of the unprofiled term: the Poisson main term
        // (gamma - 1) lambda - n log gamma and the constraint, tau simulated
        // events observed where gamma tau are expected, relative to gamma = 1.
        const double g = backend.gamma, tau = 1.0 / (delta * delta);
        auto term = [&](double x) { return (x - 1) * lambda - (n > 0 ? n * std::log(x) : 0.0) + tau * (x - 1) - tau * std::log(x); };
        REQUIRE(g > 0.0);
        require_close(backend.value, term(g), std::max(scale, tau), "m = g(gamma)");
        {
          const double slope = lambda - n / g + tau - tau / g;
          REQUIRE(std::abs(slope) <= 1e-9 * std::max({lambda, n / g, tau}));
          for (double step : {1e-4, 1e-2}) {
            REQUIRE(term(g * (1 + step)) >= backend.value - 1e-12 * scale);
            REQUIRE(term(g * (1 - step)) >= backend.value - 1e-12 * scale);
          }
        }
        // A bin whose expectation is what it observes adds nothing.
        REQUIRE(std::abs(likelihood::profile_mc_statistics(n + 0.0, n, delta).value) <= 1e-12 * std::max(1.0, n));
      }
  // delta = 0: no term (the bin has no simulated-sample error).
  REQUIRE(likelihood::mc_statistics(torch::tensor({5.0}, torch::kFloat64), torch::tensor({9.0}, torch::kFloat64),
                                    torch::tensor({0.0}, torch::kFloat64))
              .item<double>() == 0.0);
}
