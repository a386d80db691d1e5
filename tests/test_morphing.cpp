// Morphing (src/stats/morphing.h) and the two-parameter theory simulator
// (data/analytic/theory_toy.h), issue 17 items 1-2: against the exact
// polynomial structure of the simulator's cross section, finite
// differences, normalisation integrals and samples (tolerances from the
// quadrature's accuracy or the samples' statistical errors).
#include "tests/testing.hpp"

#include <cmath>
#include <random>

#include "data/analytic/theory_toy.h"
#include "src/stats/morphing.h"

using refinery::analytic::TheoryToy;
using namespace refinery::stats;

namespace {

Eigen::MatrixXd grid(double lo, double hi, int n) {
  Eigen::MatrixXd g(n * n, 2);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) g.row(i * n + j) << lo + (hi - lo) * i / (n - 1), lo + (hi - lo) * j / (n - 1);
  return g;
}

// int_a^b f by composite Simpson with `intervals` (even) intervals.
template <typename F>
double simpson(F f, double a, double b, int intervals) {
  const double h = (b - a) / intervals;
  double s = f(a) + f(b);
  for (int i = 1; i < intervals; ++i) s += (i % 2 ? 4.0 : 2.0) * f(a + i * h);
  return s * h / 3.0;
}

const std::vector<std::vector<int>>& quadratic_in_two() {
  static const auto c = morphing_components({2, 2}, 2);
  return c;
}

}  // namespace

TEST_CASE("Morphing components of a quadratic structure in two parameters", "[morphing]") {
  const auto c = quadratic_in_two();
  REQUIRE(c == std::vector<std::vector<int>>{{0, 0}, {1, 0}, {0, 1}, {2, 0}, {1, 1}, {0, 2}});
  // theta_1 at most linear, theta_2 up to cubic, total degree 3: 1, t1, t2, t1 t2, t2^2, t1 t2^2, t2^3.
  CHECK(morphing_components({1, 3}, 3) == std::vector<std::vector<int>>{{0, 0}, {1, 0}, {0, 1}, {1, 1}, {0, 2}, {1, 2}, {0, 3}});
}

TEST_CASE("Morphing reproduces the simulator's cross section exactly at any theta", "[morphing]") {
  const Morphing m = optimise_morphing_basis(quadratic_in_two(), grid(-1.0, 1.0, 9), grid(-1.0, 1.0, 11));
  INFO("condition number " << m.condition() << ", mean squared weights " << m.mean_squared_weights(grid(-1.0, 1.0, 11)));
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-1.5, 1.5);
  for (int trial = 0; trial < 20; ++trial) {
    const Eigen::Vector2d theta(u(rng), u(rng));
    const Eigen::VectorXd w = m.weights(theta);
    double sigma = 0.0;
    for (int j = 0; j < m.size(); ++j) sigma += w[j] * TheoryToy::cross_section(m.basis().row(j).transpose());
    CHECK(sigma == Approx(TheoryToy::cross_section(theta)).epsilon(1e-10));
    for (double z : {-0.9, -0.3, 0.1, 0.55, 0.97}) {
      double d = 0.0;
      for (int j = 0; j < m.size(); ++j) d += w[j] * std::pow(TheoryToy::amplitude(z, m.basis().row(j).transpose()), 2);
      CHECK(d == Approx(std::pow(TheoryToy::amplitude(z, theta), 2)).epsilon(1e-10).margin(1e-12));
    }
    // d w / d theta against central differences.
    const Eigen::MatrixXd dw = m.weight_gradient(theta);
    for (int p = 0; p < 2; ++p) {
      Eigen::Vector2d hi = theta, lo = theta;
      hi[p] += 1e-6;
      lo[p] -= 1e-6;
      const Eigen::VectorXd fd = (m.weights(hi) - m.weights(lo)) / 2e-6;
      for (int j = 0; j < m.size(); ++j) CHECK(dw(j, p) == Approx(fd[j]).margin(1e-6));
    }
  }
  // At a basis point the weights select it.
  for (int j = 0; j < m.size(); ++j) {
    const Eigen::VectorXd w = m.weights(m.basis().row(j).transpose());
    for (int i = 0; i < m.size(); ++i) CHECK(w[i] == Approx(i == j ? 1.0 : 0.0).margin(1e-10));
  }
  // The optimised basis keeps the weights smaller than the first basis that
  // determines the components (the grid's first independent points).
  Eigen::MatrixXd first(6, 2);
  first << -1, -1, -1, -0.75, -1, -0.5, -0.75, -1, -0.75, -0.75, -0.5, -1;
  const Morphing naive(quadratic_in_two(), first);
  INFO("naive basis: condition " << naive.condition() << ", mean squared weights " << naive.mean_squared_weights(grid(-1.0, 1.0, 11)));
  CHECK(m.mean_squared_weights(grid(-1.0, 1.0, 11)) < 0.1 * naive.mean_squared_weights(grid(-1.0, 1.0, 11)));
  CHECK(m.condition() < naive.condition());
  CHECK_THROWS_AS(Morphing(quadratic_in_two(), Eigen::MatrixXd::Zero(6, 2)), std::invalid_argument);
}

TEST_CASE("Theory simulator: rate, densities, joint ratio and joint score are exact", "[morphing][simulator]") {
  const Eigen::Vector2d theta(0.3, -0.2), other(-0.4, 0.5);
  // The rate: the quadratic form against a direct integral of sigma_0 A^2.
  Eigen::Vector2d grad;
  const double sigma = TheoryToy::cross_section(theta, &grad);
  CHECK(sigma == Approx(simpson([&](double z) { return TheoryToy::kSigma0 * std::pow(TheoryToy::amplitude(z, theta), 2); },
                                -1.0, 1.0, 2000))
                     .epsilon(1e-12));
  for (int p = 0; p < 2; ++p) {
    Eigen::Vector2d hi = theta, lo = theta;
    hi[p] += 1e-6;
    lo[p] -= 1e-6;
    CHECK(grad[p] == Approx((TheoryToy::cross_section(hi) - TheoryToy::cross_section(lo)) / 2e-6).epsilon(1e-7));
  }
  // p(z|theta) is normalised; the joint score is d log p(z|theta) / d theta;
  // the joint ratio is the ratio of the latent densities.
  CHECK(simpson([&](double z) { return std::exp(TheoryToy::log_pdf_z(z, theta)); }, -1.0, 1.0, 2000) == Approx(1.0).epsilon(1e-12));
  for (double z : {-0.8, -0.2, 0.35, 0.9}) {
    const Eigen::Vector2d t = TheoryToy::joint_score(z, theta);
    for (int p = 0; p < 2; ++p) {
      Eigen::Vector2d hi = theta, lo = theta;
      hi[p] += 1e-6;
      lo[p] -= 1e-6;
      CHECK(t[p] == Approx((TheoryToy::log_pdf_z(z, hi) - TheoryToy::log_pdf_z(z, lo)) / 2e-6).epsilon(1e-6).margin(1e-8));
    }
    CHECK(TheoryToy::joint_log_ratio(z, theta, other) ==
          Approx(std::log(std::exp(TheoryToy::log_pdf_z(z, theta)) / std::exp(TheoryToy::log_pdf_z(z, other)))).epsilon(1e-12));
  }
  // The detector-level density: its quadrature against a much finer rule,
  // and its integral over x.
  for (const Eigen::Vector2d x : {Eigen::Vector2d(0.1, 0.2), Eigen::Vector2d(-0.7, 0.55), Eigen::Vector2d(0.95, 0.9)}) {
    const double fine = simpson([&](double z) { return std::exp(TheoryToy::log_pdf_z(z, theta) + TheoryToy::log_response(x, z, 0.7)); },
                                -1.0, 1.0, 20000);
    CHECK(TheoryToy::pdf_x(x, theta, 0.7) == Approx(fine).epsilon(1e-9));
  }
  const int n = 160;
  const double x1lo = -1.9, x1hi = 1.9, x2lo = -0.7, x2hi = 1.7;
  double total = 0.0;
  for (int i = 0; i <= n; ++i)
    for (int j = 0; j <= n; ++j) {
      const double wi = (i == 0 || i == n) ? 0.5 : 1.0, wj = (j == 0 || j == n) ? 0.5 : 1.0;
      total += wi * wj *
               TheoryToy::pdf_x(Eigen::Vector2d(x1lo + (x1hi - x1lo) * i / n, x2lo + (x2hi - x2lo) * j / n), theta, 0.7);
    }
  total *= (x1hi - x1lo) / n * (x2hi - x2lo) / n;
  CHECK(total == Approx(1.0).epsilon(1e-6));
}

TEST_CASE("Theory simulator samples follow p(z|theta), and morphed basis samples are samples at theta", "[morphing][simulator]") {
  std::mt19937_64 rng(20);
  const Eigen::Vector2d theta(0.3, -0.2);
  const double nu = 0.5;
  const auto events = TheoryToy::sample(theta, nu, 200000, rng);
  // The latent angle in 20 bins against the exact probabilities (Pearson).
  const int B = 20;
  std::vector<double> count(B, 0.0);
  double mean_x1 = 0.0, mean_x2 = 0.0;
  for (const auto& e : events) {
    count[std::min(B - 1, int((e.z + 1.0) / 2.0 * B))] += 1.0;
    mean_x1 += e.x[0] / double(events.size());
    mean_x2 += e.x[1] / double(events.size());
  }
  double chi2 = 0.0, ez = 0.0, ez2 = 0.0;
  for (int b = 0; b < B; ++b) {
    const double lo = -1.0 + 2.0 * b / B, hi = lo + 2.0 / B;
    const double p = simpson([&](double z) { return std::exp(TheoryToy::log_pdf_z(z, theta)); }, lo, hi, 200);
    const double expected = p * double(events.size());
    chi2 += (count[b] - expected) * (count[b] - expected) / expected;
  }
  ez = simpson([&](double z) { return z * std::exp(TheoryToy::log_pdf_z(z, theta)); }, -1.0, 1.0, 2000);
  ez2 = simpson([&](double z) { return z * z * std::exp(TheoryToy::log_pdf_z(z, theta)); }, -1.0, 1.0, 2000);
  INFO("chi2 of the latent angle's histogram: " << chi2 << " for 19 degrees of freedom");
  CHECK(chi2 < 45.0);  // P(chi2_19 > 45) = 7e-4
  const double k = 1.0 + TheoryToy::kScaleSlope * nu, N = double(events.size());
  CHECK(std::abs(mean_x1 - k * ez) < 4.0 * std::sqrt((k * k * (ez2 - ez * ez) + 0.15 * 0.15) / N));
  CHECK(std::abs(mean_x2 - ez2) < 4.0 * std::sqrt((1.0 / 3.0 + 0.01) / N));  // Var z^2 <= 1/3

  // Morphing: samples at the six basis points, reweighted by w_j sigma_j /
  // sigma, are samples at theta*: the weighted means of z and z^2.
  const Morphing m = optimise_morphing_basis(quadratic_in_two(), grid(-1.0, 1.0, 9), grid(-1.0, 1.0, 11));
  const Eigen::Vector2d target(0.5, 0.4);
  const Eigen::VectorXd w = m.weights(target);
  const double sigma = TheoryToy::cross_section(target);
  double morphed_z = 0.0, morphed_z2 = 0.0, var_z = 0.0, var_z2 = 0.0;
  for (int j = 0; j < m.size(); ++j) {
    const Eigen::Vector2d tj = m.basis().row(j).transpose();
    const auto basis_events = TheoryToy::sample(tj, 0.0, 50000, rng);
    double s1 = 0.0, s2 = 0.0, s4 = 0.0;
    for (const auto& e : basis_events) s1 += e.z, s2 += e.z * e.z, s4 += std::pow(e.z, 4);
    const double n = double(basis_events.size()), share = w[j] * TheoryToy::cross_section(tj) / sigma;
    morphed_z += share * s1 / n;
    morphed_z2 += share * s2 / n;
    var_z += share * share * (s2 / n - (s1 / n) * (s1 / n)) / n;
    var_z2 += share * share * (s4 / n - (s2 / n) * (s2 / n)) / n;
  }
  const double exact_z = simpson([&](double z) { return z * std::exp(TheoryToy::log_pdf_z(z, target)); }, -1.0, 1.0, 2000);
  const double exact_z2 = simpson([&](double z) { return z * z * std::exp(TheoryToy::log_pdf_z(z, target)); }, -1.0, 1.0, 2000);
  INFO("morphed <z> " << morphed_z << " exact " << exact_z << " +- " << std::sqrt(var_z));
  CHECK(std::abs(morphed_z - exact_z) < 4.0 * std::sqrt(var_z));
  CHECK(std::abs(morphed_z2 - exact_z2) < 4.0 * std::sqrt(var_z2));
}

TEST_CASE("Theory simulator: Fisher information at parton level, detector level and from histograms, ordered as they must be", "[morphing][simulator][fisher]") {
  const Eigen::Vector2d theta(0.3, -0.2);
  const double L = 100.0, nu = 0.5;
  // Parton level against the joint score: L (sigma E[t t^T] + grad sigma grad sigma^T / sigma).
  const Eigen::Matrix2d parton = TheoryToy::fisher_parton(L);
  Eigen::Vector2d dsigma;
  const double sigma = TheoryToy::cross_section(theta, &dsigma);
  Eigen::Matrix2d from_score = Eigen::Matrix2d::Zero();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      from_score(i, j) = L * (sigma * simpson([&](double z) {
                                const Eigen::Vector2d t = TheoryToy::joint_score(z, theta);
                                return std::exp(TheoryToy::log_pdf_z(z, theta)) * t[i] * t[j];
                              }, -1.0, 1.0, 4000) + dsigma[i] * dsigma[j] / sigma);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) CHECK(parton(i, j) == Approx(from_score(i, j)).epsilon(1e-8).margin(1e-8 * parton.norm()));
  // Information only falls through the detector and through binning:
  // parton >= detector >= a 2D histogram >= its 1D projection's coarser
  // partition (x_2 not binned), as matrices (the differences' eigenvalues).
  const Eigen::Matrix2d detector = TheoryToy::fisher_detector(theta, nu, L);
  std::vector<double> e1, e2;
  for (int b = 0; b <= 12; ++b) e1.push_back(-1.2 + 0.2 * b);
  for (int b = 0; b <= 6; ++b) e2.push_back(0.2 * b);
  const Eigen::Matrix2d hist2 = TheoryToy::fisher_histogram(theta, nu, L, e1, e2);
  const Eigen::Matrix2d hist1 = TheoryToy::fisher_histogram(theta, nu, L, e1, {});
  std::vector<double> fine1, fine2;
  for (int b = 0; b <= 84; ++b) fine1.push_back(-2.1 + 0.05 * b);
  for (int b = 0; b <= 48; ++b) fine2.push_back(-0.7 + 0.05 * b);
  const Eigen::Matrix2d fine = TheoryToy::fisher_histogram(theta, nu, L, fine1, fine2);
  INFO("parton\n" << parton << "\ndetector\n" << detector << "\nfine 2D histogram\n" << fine << "\n2D histogram\n" << hist2
                  << "\n1D histogram of x1\n" << hist1);
  auto at_least = [](const Eigen::Matrix2d& big, const Eigen::Matrix2d& small) {
    return Eigen::SelfAdjointEigenSolver<Eigen::Matrix2d>(big - small).eigenvalues().minCoeff() > -1e-9 * big.norm();
  };
  CHECK(at_least(parton, detector));
  CHECK(at_least(detector, fine));
  CHECK(at_least(detector, hist2));
  CHECK(at_least(hist2, hist1));
  CHECK(Eigen::SelfAdjointEigenSolver<Eigen::Matrix2d>(hist1).eigenvalues().minCoeff() > 0.0);
  // Bins much narrower than the resolution keep nearly all of it.
  CHECK(fine(0, 0) == Approx(detector(0, 0)).epsilon(0.01));
  CHECK(fine(1, 1) == Approx(detector(1, 1)).epsilon(0.01));
  // The detector loses some: strictly below the parton level.
  CHECK(detector(0, 0) < 0.99 * parton(0, 0));
}
