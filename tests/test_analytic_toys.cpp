// Analytic benchmark generators: samples agree with the exact densities
// (chi-square with fixed seeds), closed-form ratios agree with histogram
// ratios, and the identities the exact functions must satisfy.
#include "testing.hpp"

#include <cmath>

#include "data/analytic/dcr_toy.h"
#include "data/analytic/gaussian_latent.h"
#include "data/analytic/inferno.h"
#include "data/random.h"
#include "src/core/error.h"

using namespace refinery;
using namespace refinery::analytic;

namespace {

double normal_cdf(double x, double mean, double sd) {
  return 0.5 * std::erfc(-(x - mean) / (sd * std::sqrt(2.0)));
}

// Pearson chi-square of a histogram of v over [lo, hi) in `bins` bins against
// expected probabilities from a CDF, for n entries.
template <class Cdf>
double chi2(const torch::Tensor& v, double lo, double hi, int bins, Cdf cdf) {
  torch::Tensor h = torch::histc(v.to(torch::kFloat64), bins, lo, hi);
  double n = static_cast<double>(v.size(0)), chi = 0.0;
  for (int b = 0; b < bins; ++b) {
    double a = lo + (hi - lo) * b / bins, c = lo + (hi - lo) * (b + 1) / bins;
    double expected = n * (cdf(c) - cdf(a));
    double observed = h[b].item<double>();
    chi += (observed - expected) * (observed - expected) / expected;
  }
  return chi;
}

// 99.9% quantile of chi-square with 20 degrees of freedom: a correct
// generator fails one such test in a thousand; seeds are fixed.
constexpr double kChi2_20_999 = 45.31;

}  // namespace

TEST_CASE("INFERNO: samples follow the exact marginals", "[analytic][inferno]") {
  torch::Generator gen = make_generator(101);
  InfernoParameters p;
  p.r = 0.5;
  p.lambda = 2.5;
  EventSet e = inferno_sample(200000, 200000, p, gen);
  torch::Tensor sig = e.features.index({e.process == 0}), bkg = e.features.index({e.process == 1});
  const double r = p.r, lambda = p.lambda;
  REQUIRE(chi2(bkg.select(1, 0), -6.0, 10.0, 20, [&](double x) { return normal_cdf(x, 2.0 + r, std::sqrt(5.0)); }) < kChi2_20_999);
  REQUIRE(chi2(bkg.select(1, 1), -9.0, 9.0, 20, [&](double x) { return normal_cdf(x, 0.0, 3.0); }) < kChi2_20_999);
  REQUIRE(chi2(bkg.select(1, 2), 0.0, 2.0, 20, [&](double x) { return 1.0 - std::exp(-lambda * x); }) < kChi2_20_999);
  REQUIRE(chi2(sig.select(1, 0), -3.0, 3.0, 20, [&](double x) { return normal_cdf(x, 0.0, 1.0); }) < kChi2_20_999);
  REQUIRE(chi2(sig.select(1, 2), 0.0, 2.0, 20, [&](double x) { return 1.0 - std::exp(-2.0 * x); }) < kChi2_20_999);
  // Weights: expected counts s and b.
  REQUIRE(e.weights.index({e.process == 0}).sum().item<double>() == Approx(50.0));
  REQUIRE(e.weights.index({e.process == 1}).sum().item<double>() == Approx(1000.0));
}

TEST_CASE("INFERNO: exact densities are normalised", "[analytic][inferno]") {
  // E_b[p_s / p_b] = integral of p_s = 1 (importance sampling); with 400k
  // events the estimate's standard error is below 0.01.
  torch::Generator gen = make_generator(102);
  InfernoParameters p;
  EventSet e = inferno_sample(0, 400000, p, gen);
  torch::Tensor lr = inferno_log_pdf_signal(e.features) - inferno_log_pdf_background(e.features, 0.0, 3.0);
  torch::Tensor ratio = torch::exp(lr);
  double mean = ratio.mean().item<double>();
  double err = ratio.std().item<double>() / std::sqrt(400000.0);
  INFO("mean " << mean << " +- " << err);
  REQUIRE(std::abs(mean - 1.0) < 4.0 * err);
  REQUIRE_THROWS_AS(inferno_benchmark(5), InputError);
  REQUIRE(inferno_benchmark(4).b_sigma == 100.0);
}

TEST_CASE("DCR toy: closed-form log r matches a histogram ratio", "[analytic][dcr]") {
  DcrToy toy = DcrToy::one_nuisance();
  torch::Generator gen = make_generator(103);
  const int64_t n = 400000;
  torch::Tensor nu = torch::full({1}, 1.5, torch::kFloat64);
  EventSet nominal = toy.sample_at(toy.base(n, gen), torch::zeros({1}, torch::kFloat64));
  EventSet shifted = toy.sample_at(toy.base(n, gen), nu);  // independent draws
  const int bins = 20;
  const double lo = -2.5, hi = 3.0;
  torch::Tensor h0 = torch::histc(nominal.features.squeeze(1).to(torch::kFloat64), bins, lo, hi) * nominal.weights[0];
  torch::Tensor h1 = torch::histc(shifted.features.squeeze(1).to(torch::kFloat64), bins, lo, hi) * shifted.weights[0];
  // Expected ratio per bin: E_0[r(x|nu) | x in bin], from the exact r on the nominal events.
  torch::Tensor x0 = nominal.features.squeeze(1).to(torch::kFloat64);
  torch::Tensor r = torch::exp(toy.log_ratio(nominal.features, nu)) * nominal.weights[0];
  torch::Tensor idx = ((x0 - lo) / (hi - lo) * bins).floor().clamp(-1, bins).to(torch::kLong);
  double chi = 0.0;
  for (int b = 0; b < bins; ++b) {
    torch::Tensor in = idx == b;
    double expected = r.index({in}).sum().item<double>();
    double observed = h1[b].item<double>();
    double var = shifted.weights[0].item<double>() * expected + nominal.weights[0].item<double>() * expected;
    chi += (observed - expected) * (observed - expected) / var;
  }
  INFO("chi2 " << chi);
  REQUIRE(chi < kChi2_20_999);
  // Normalisation: E_0[r(x|nu)] = sigma(nu)/sigma(0) exactly in expectation.
  double mean_r = torch::exp(toy.log_ratio(nominal.features, nu)).mean().item<double>();
  REQUIRE(mean_r == Approx(std::exp(0.1 * 1.5)).epsilon(0.01));
}

TEST_CASE("DCR toy with three nuisances: log r is log-quadratic and exact", "[analytic][dcr]") {
  DcrToy toy = DcrToy::three_nuisances();
  torch::Generator gen = make_generator(104);
  torch::Tensor z = toy.base(200000, gen);
  torch::Tensor nu = torch::tensor({0.5, -1.0, 1.0}, torch::kFloat64);
  EventSet s0 = toy.sample_at(z, torch::zeros({3}, torch::kFloat64)), s1 = toy.sample_at(z, nu);
  // The ratio of exact densities times the cross-section ratio is log r.
  torch::Tensor direct = toy.log_pdf(s0.features, nu) - toy.log_pdf(s0.features, torch::zeros({3}, torch::kFloat64)) +
                         std::log(toy.cross_section(nu) / toy.cross_section(torch::zeros({3}, torch::kFloat64)));
  REQUIRE(torch::allclose(direct, toy.log_ratio(s0.features, nu), 1e-9, 1e-9));
  REQUIRE(torch::equal(s1.nuisances[0].to(torch::kFloat64), nu.to(torch::kFloat32).to(torch::kFloat64)));
  // Importance weights from the exact ratio reproduce the shifted sample's mean.
  torch::Tensor w = torch::exp(toy.log_ratio(s0.features, nu));
  torch::Tensor reweighted = (w.unsqueeze(1) * s0.features.to(torch::kFloat64)).sum(0) / w.sum();
  torch::Tensor target = torch::mv(toy.M, nu);
  REQUIRE(torch::allclose(reweighted, target, 0.0, 0.03));
}

TEST_CASE("Gaussian latent toy: marginal density and joint-score identity", "[analytic][madminer]") {
  torch::Generator gen = make_generator(105);
  const double theta = 0.7;
  auto s = GaussianLatent::sample(theta, 400000, gen);
  REQUIRE(chi2(s.x, theta - 6.0, theta + 6.0, 20, [&](double x) { return normal_cdf(x, theta, std::sqrt(5.0)); }) < kChi2_20_999);
  // E[t(x,z|theta) | x] = t(x|theta): the regression slope of the joint score
  // on x equals the marginal score's slope 1/5 (standard error ~0.0008).
  torch::Tensor t = GaussianLatent::joint_score(s.z, theta);
  torch::Tensor dx = s.x - s.x.mean();
  double slope = ((dx * (t - t.mean())).sum() / (dx * dx).sum()).item<double>();
  REQUIRE(std::abs(slope - 0.2) < 0.004);
  // Joint log ratio at theta0 = theta1 is zero; the marginal ratio matches
  // the density difference.
  REQUIRE(GaussianLatent::joint_log_ratio(s.z, 1.0, 1.0).abs().max().item<double>() == 0.0);
  torch::Tensor lr = GaussianLatent::log_ratio(s.x, 0.0, 1.0);
  REQUIRE(torch::allclose(lr, GaussianLatent::log_pdf(s.x, 0.0) - GaussianLatent::log_pdf(s.x, 1.0)));
}
