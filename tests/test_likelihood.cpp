// The profile likelihood engine: fused evaluator against autograd, numerics
// of the event sums, Asimov closure, coverage of profiled intervals on a
// Gaussian toy with an exactly log-quadratic DCR, and the INFERNO analytic
// closure (design.md sections 2, 6, 7).
#include "tests/testing.hpp"

#include <cmath>

#include "data/analytic/inferno.h"
#include "data/random.h"
#include "src/stats/fit.h"
#include "src/stats/profile.h"
#include "src/stats/region_model.h"
#include "src/likelihood/dcr_ansatz.h"
#include "src/likelihood/likelihood_model.h"
#include "data/analytic/likelihood_toys.h"

using namespace refinery;
using namespace refinery::likelihood;

namespace {

double max_abs(const torch::Tensor& t) { return t.abs().max().item<double>(); }

// A likelihood behind the model interface, with parameters held fixed.
stats::RegionModel region_model(LikelihoodModel m, const std::vector<bool>& fixed = {}) {
  stats::RegionModel out(std::make_shared<const LikelihoodModel>(std::move(m)), "test model");
  for (size_t i = 0; i < fixed.size(); ++i) out.set_fixed(int(i), fixed[i]);
  return out;
}

// Four processes, six parameters (exponential, linear and lognormal pieces),
// one unbinned and one binned region with random coefficients; with
// mc_stat, the simulated-sample statistics in both (the unbinned region in
// three cells). With factors: a second POI mu2 scaling sig in sr alone and
// b1 everywhere, a free normalisation k_b2 of b2 in cr alone, and norm_b3's
// linear modifier acting in cr alone.
// soft_power: the ansatz's coordinate of "soft" (1, 2: squared, kCubic: a cubic term, or a knot).
LikelihoodModel random_model(uint64_t seed, bool mc_stat = false, bool factors = false, int soft_power = 1) {
  torch::Generator gen = make_generator(seed);
  ModelSpec s;
  s.processes = {"sig", "b1", "b2", "b3"};
  s.factors = {{0, 0, {}}};
  s.parameters = {{"mu", ParameterKind::kPoi, likelihood::Constraint::kNone, 0, 1, 1.0, 1e-4, 10},
                  {"norm_all", ParameterKind::kNormalisation, likelihood::Constraint::kGaussian, 0, 1, 0, -5, 5},
                  {"norm_b3", ParameterKind::kNormalisation, likelihood::Constraint::kGaussian, 0, 1, 0, -3, 3},
                  {"tes", ParameterKind::kCalibration, likelihood::Constraint::kGaussian, 0, 1, 0, -5, 5},
                  {"jes", ParameterKind::kCalibration, likelihood::Constraint::kGaussian, 0, 1, 0, -5, 5},
                  {"soft", ParameterKind::kCalibration, likelihood::Constraint::kLogNormal, 1, 1, 1, 1e-3, 5}};
  s.modifiers = {{1, 1, 0.05, false, {}}, {2, 1, 0.05, false, {}}, {3, 1, 0.05, false, {}}, {3, 2, 0.25, true, {}}};
  s.calibration = {3, 4, 5};
  if (soft_power != 1) s.calibration_power = {1, 1, soft_power};  // "soft" a smearing width: its square, or a cubic term
  if (factors) {
    s.parameters.push_back({"mu2", ParameterKind::kPoi, likelihood::Constraint::kNone, 0, 1, 1.0, 0, 10});
    s.parameters.push_back({"k_b2", ParameterKind::kNormalisation, likelihood::Constraint::kNone, 0, 1, 1.0, 0, 10});
    s.factors = {{0, 0, {}}, {0, 6, {"sr"}}, {1, 6, {}}, {2, 7, {"cr"}}};
    s.modifiers.back().regions = {"cr"};
  }
  LikelihoodModel m(s);
  const int64_t P = 4, C = likelihood::has_appended_term(soft_power) ? 10 : 9;
  auto opt = torch::TensorOptions().dtype(torch::kFloat64);
  Region u;
  u.name = "sr";
  {
    const int64_t n = 3000, nmc = 8000;
    torch::Tensor f = torch::softmax(torch::randn({n, P}, gen, opt), 1);
    torch::Tensor co = 0.05 * torch::randn({n, P, C}, gen, opt);
    u.events = EventData::build(f, co);
    const int cells = mc_stat ? 3 : 1;
    torch::Tensor cell = torch::randint(0, P * cells, {nmc}, gen, torch::kInt64);
    u.expected = Cells::build(cell, P * cells, torch::rand({nmc}, gen, opt) * 0.5 + 0.05, 0.05 * torch::randn({nmc, C}, gen, opt));
    if (mc_stat) {
      u.n_bins = cells;
      u.mc_stat = true;
      u.expected.rel_error = {0.03, 0.08, 0.0};  // the last cell without the term
      torch::Tensor eb = torch::randint(0, cells, {n}, gen, torch::kInt64).to(torch::kInt32).contiguous();
      u.events.bin.assign(eb.data_ptr<int>(), eb.data_ptr<int>() + n);
    }
  }
  m.add_region(std::move(u));
  Region b;
  b.name = "cr";
  b.binned = true;
  b.n_bins = 6;
  {
    const int64_t nmc = 4000;
    torch::Tensor cell = torch::randint(0, P * 6, {nmc}, gen, torch::kInt64);
    b.expected = Cells::build(cell, P * 6, torch::rand({nmc}, gen, opt) + 0.1, 0.05 * torch::randn({nmc, C}, gen, opt));
    b.observed = {80, 95, 70, 0, 102, 77};
    if (mc_stat) {
      b.mc_stat = true;
      b.expected.rel_error = {0.05, 0.2, 0.01, 0.1, 0.0, 0.5};
    }
  }
  m.add_region(std::move(b));
  return m;
}

torch::Tensor hessian_autograd(const std::function<torch::Tensor(const torch::Tensor&)>& f, const torch::Tensor& x0) {
  torch::Tensor x = x0.clone().requires_grad_(true);
  torch::Tensor g = torch::autograd::grad({f(x)}, {x}, {}, true, true)[0];
  std::vector<torch::Tensor> rows;
  for (int64_t i = 0; i < x.numel(); ++i) rows.push_back(torch::autograd::grad({g[i]}, {x}, {}, true)[0]);
  return torch::stack(rows);
}

// The fused evaluator's value, gradient and Hessian at `point` against
// autograd of nll_torch, to 1e-10 relative; returns the fused gradient.
Eigen::VectorXd require_fused_equals_autograd(const LikelihoodModel& m, const std::vector<double>& point) {
  torch::Tensor theta = torch::tensor(point, torch::kFloat64);
  Eigen::VectorXd x = Eigen::Map<const Eigen::VectorXd>(point.data(), point.size());
  Eigen::VectorXd g;
  Eigen::MatrixXd h;
  const double v = m.evaluate(x, &g, &h);
  REQUIRE(std::isfinite(v));
  REQUIRE(m.evaluate(x) == Approx(v).epsilon(1e-13));
  torch::Tensor xr = theta.clone().requires_grad_(true);
  torch::Tensor vr = m.nll_torch(xr);
  torch::Tensor gr = torch::autograd::grad({vr}, {xr})[0];
  torch::Tensor hr = hessian_autograd([&](const torch::Tensor& t) { return m.nll_torch(t); }, theta);
  torch::Tensor gf = torch::from_blob(g.data(), {g.size()}, torch::kFloat64).clone();
  torch::Tensor hf = torch::from_blob(h.data(), {h.rows(), h.cols()}, torch::kFloat64).clone();
  INFO("value fused " << v << " autograd " << vr.item<double>());
  REQUIRE(std::abs(v - vr.item<double>()) <= 1e-10 * std::abs(vr.item<double>()));
  INFO("gradient fused " << gf << "\nautograd " << gr);
  REQUIRE(max_abs(gf - gr) <= 1e-10 * max_abs(gr));
  INFO("Hessian fused " << hf << "\nautograd " << hr);
  REQUIRE(max_abs(hf - hr) <= 1e-10 * max_abs(hr));
  return g;
}

}  // namespace

TEST_CASE("Cells: copies share the simulated events, and replacing them in a copy leaves the original", "[likelihood]") {
  // Every pseudo-experiment's model copies its measurement's cells: the
  // events' arrays must not be copied with them.
  auto opt = torch::TensorOptions().dtype(torch::kFloat64);
  const Cells a = Cells::build(torch::tensor({1, 0, 1}), 2, torch::tensor({1.0, 2.0, 4.0}, opt),
                               torch::tensor({{0.1f, 0.2f}, {0.3f, 0.4f}, {0.5f, 0.6f}}));
  // Sorted by cell (stable): events 1, 0, 2; coefficients [C][n].
  REQUIRE(a.begin == std::vector<int64_t>{0, 1, 3});
  REQUIRE(a.log_weight() == std::vector<double>{std::log(2.0), std::log(1.0), std::log(4.0)});
  REQUIRE(a.coef() == std::vector<float>{0.3f, 0.1f, 0.5f, 0.4f, 0.2f, 0.6f});
  Cells b = a;
  REQUIRE(b.log_weight().data() == a.log_weight().data());
  REQUIRE(b.coef().data() == a.coef().data());
  b.set_events({0.0}, {1.0f, 2.0f});
  REQUIRE(b.n() == 1);
  REQUIRE(a.n() == 3);
  REQUIRE(a.coef() == std::vector<float>{0.3f, 0.1f, 0.5f, 0.4f, 0.2f, 0.6f});
}

TEST_CASE("Fused likelihood evaluator equals LibTorch autograd (value, gradient, Hessian)", "[likelihood][kernel]") {
  const bool mc_stat = GENERATE(false, true);
  const int soft_power = GENERATE(1, 2, likelihood::kCubic, likelihood::knot_code(1.5));
  INFO("simulated-sample statistics " << (mc_stat ? "on" : "off") << ", soft in the ansatz with power code " << soft_power);
  LikelihoodModel m = random_model(11, mc_stat, false, soft_power);
  for (const auto& point : std::vector<std::vector<double>>{{1.0, 0, 0, 0, 0, 1.0}, {1.3, 0.4, -0.5, 0.7, -1.1, 1.8}}) {
    require_fused_equals_autograd(m, point);
    torch::Tensor theta = torch::tensor(point, torch::kFloat64);
    torch::Tensor hr = hessian_autograd([&](const torch::Tensor& t) { return m.nll_torch(t); }, theta);
    // The fused evaluator as an autograd function: its first and second
    // derivatives come from the closed forms.
    torch::Tensor ha = hessian_autograd([&](const torch::Tensor& t) { return m.nll_autograd(t); }, theta);
    REQUIRE(max_abs(ha - hr) <= 1e-10 * max_abs(hr));
  }
}

TEST_CASE("Norm factors at 0 and in some regions: fused evaluator equals LibTorch autograd", "[likelihood][kernel]") {
  // Two POIs, a free normalisation and a modifier limited to regions; the
  // factors at 0 (a process out of the rate: the derivatives are the linear
  // factor's, which q0 needs at mu = 0), one at a time and two on one process.
  const bool mc_stat = GENERATE(false, true);
  INFO("simulated-sample statistics " << (mc_stat ? "on" : "off"));
  LikelihoodModel m = random_model(12, mc_stat, /*factors=*/true);
  const std::vector<double> base = {1.3, 0.4, -0.5, 0.7, -1.1, 1.8, 0.8, 1.2};
  for (const std::vector<int>& zero : std::vector<std::vector<int>>{{}, {0}, {6}, {7}, {0, 6}, {0, 7}}) {
    std::vector<double> point = base;
    for (int z : zero) point[z] = 0.0;
    INFO("parameters at 0: " << zero.size() << (zero.empty() ? "" : " first " + std::to_string(zero[0])));
    const Eigen::VectorXd g = require_fused_equals_autograd(m, point);
    // The derivative in a factor at 0 is not 0: the process' whole yield
    // enters it.
    for (int z : zero) REQUIRE(std::abs(g[z]) > 1.0);
  }
  // Expected yields: a factor acts only where it is declared; at 0 the
  // process is gone from those regions.
  Eigen::VectorXd x = Eigen::Map<const Eigen::VectorXd>(base.data(), base.size());
  const auto y1 = m.expected_per_process(x);
  Eigen::VectorXd x2 = x;
  x2[6] = 2.0 * x[6];
  x2[7] = 0.0;
  const auto y2 = m.expected_per_process(x2);
  for (size_t b = 0; b < y1[0][0].size(); ++b) {
    REQUIRE(y2[0][0][b] == Approx(2.0 * y1[0][0][b]).epsilon(1e-12));  // sig in sr: mu * mu2
    REQUIRE(y2[0][2][b] == Approx(y1[0][2][b]).epsilon(1e-12));        // b2 in sr: k_b2 acts in cr only
  }
  for (size_t b = 0; b < y1[1][0].size(); ++b) {
    REQUIRE(y2[1][0][b] == Approx(y1[1][0][b]).epsilon(1e-12));  // sig in cr: mu alone
    REQUIRE(y2[1][1][b] == Approx(2.0 * y1[1][1][b]).epsilon(1e-12));  // b1: mu2 everywhere
    REQUIRE(y2[1][2][b] == 0.0);                                        // b2 in cr at k_b2 = 0
  }
  // A negative factor is outside the domain; a region whose every process is
  // gone cannot hold events.
  Eigen::VectorXd xn = x;
  xn[7] = -0.1;
  REQUIRE(std::isinf(m.evaluate(xn)));
}

TEST_CASE("Likelihood event sums: NLL differences over 1e6 events match a compensated long-double reference", "[likelihood][kernel]") {
  // Two processes, one calibration nuisance: NLL values of order 1e6, their
  // differences of order 1-100 must keep 9 significant digits.
  torch::Generator gen = make_generator(5);
  auto opt = torch::TensorOptions().dtype(torch::kFloat64);
  ModelSpec s;
  s.processes = {"sig", "bkg"};
  s.factors = {{0, 0, {}}};
  s.parameters = {{"mu", ParameterKind::kPoi, likelihood::Constraint::kNone, 0, 1, 1.0, 1e-4, 10},
                  {"nu", ParameterKind::kCalibration, likelihood::Constraint::kNone, 0, 1, 0, -5, 5}};
  s.calibration = {1};
  LikelihoodModel m(s);
  const int64_t n = 1000000;
  // Fractions scaled by 3 so that the NLL itself is of order 1e6.
  torch::Tensor f = 3.0 * torch::softmax(torch::randn({n, 2}, gen, opt), 1);
  torch::Tensor co = 0.1 * torch::randn({n, 2, 2}, gen, opt).to(torch::kFloat32);
  Region r;
  r.name = "sr";
  r.events = EventData::build(f, co);
  r.expected = Cells::build(torch::tensor({0, 1}), 2, torch::ones({2}, opt), torch::zeros({2, 2}));
  m.add_region(r);
  auto reference = [&](double mu, double nu) {
    // sum_i log(f_s mu r_s + f_b r_b) with std::exp/std::log in long double.
    auto fa = f.accessor<double, 2>();
    torch::Tensor cd = co.to(torch::kFloat64);
    auto ca = cd.accessor<double, 3>();
    long double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      const long double rs = std::exp((long double)(ca[i][0][0] * nu + ca[i][0][1] * nu * nu));
      const long double rb = std::exp((long double)(ca[i][1][0] * nu + ca[i][1][1] * nu * nu));
      sum += std::log(fa[i][0] * mu * rs + fa[i][1] * rb);
    }
    return -sum;
  };
  Eigen::Vector2d a(1.0, 0.0), b(1.02, 0.03);
  // The expected-yield term is the same function in both (two cells of weight 1).
  const double ya = m.expected(a)[0][0], yb = m.expected(b)[0][0];
  const double fused = (m.evaluate(b) - yb) - (m.evaluate(a) - ya);
  const long double ref = reference(1.02, 0.03) - reference(1.0, 0.0);
  INFO("fused difference " << fused << " reference " << (double)ref << " NLL " << m.evaluate(a));
  REQUIRE(std::abs(m.evaluate(a)) > 1e5);
  REQUIRE(std::abs(fused - (double)ref) <= 1e-9 * std::abs((double)ref));
}

TEST_CASE("Asimov fit returns mu_true and the nominal nuisances, with a fully profiled interval", "[likelihood][fit]") {
  analytic::GaussianToy toy;
  for (double mu_true : {1.0, 2.0}) {
    const stats::RegionModel m = region_model(toy.model(toy.asimov(mu_true, 0.0, 0.0)));
    const stats::FitResult r = stats::fit(m);
    INFO(r.brief());
    REQUIRE(r.status == stats::FitStatus::kConverged);
    REQUIRE(std::abs(r.x[0] - mu_true) < 1e-6);
    REQUIRE(std::abs(r.x[1]) < 1e-6);
    REQUIRE(std::abs(r.x[2]) < 1e-6);
    // Profiled interval: t at the crossings is the level, and it contains
    // the Hessian error to within the asymmetry of a Poisson rate.
    const stats::Interval in = stats::profile_interval(m, r, 0, 1.0);
    REQUIRE(in.lower.found);
    REQUIRE(in.upper.found);
    const stats::FitResult lo = stats::fit_at(m, 0, in.lower.value, r.x), hi = stats::fit_at(m, 0, in.upper.value, r.x);
    REQUIRE(std::abs(2 * (lo.nll - r.nll) - 1.0) < 1e-3);
    REQUIRE(std::abs(2 * (hi.nll - r.nll) - 1.0) < 1e-3);
    const double half = 0.5 * (in.upper.value - in.lower.value);
    INFO("interval [" << in.lower.value << ", " << in.upper.value << "], Hessian error " << r.error[0]);
    REQUIRE(std::abs(half / r.error[0] - 1.0) < 0.05);
  }
}

TEST_CASE("Coverage of the profiled 68.27% interval and pulls on a Gaussian toy (400 pseudo-experiments)", "[likelihood][fit][coverage]") {
  analytic::GaussianToy toy;
  const int n_toys = 400;
  const double mu_true = 1.0;
  int covered = 0, usable = 0;
  std::vector<double> pulls;
  torch::Generator gen = make_generator(20261123);
  for (int t = 0; t < n_toys; ++t) {
    const double nu_true = torch::randn({1}, gen, torch::kFloat64).item<double>();
    const double norm_true = torch::randn({1}, gen, torch::kFloat64).item<double>();
    const stats::RegionModel m = region_model(toy.model(toy.pseudo_data(mu_true, nu_true, norm_true, gen)));
    const stats::FitResult r = stats::fit(m);
    if (!r.ok()) {
      WARN("toy " << t << ": " << r.brief());
      continue;
    }
    const stats::Interval in = stats::profile_interval(m, r, 0, 1.0);
    // An interval may end on the POI's bound (mu > 0): still an interval.
    if (!in.lower.usable() || !in.upper.usable()) {
      WARN("toy " << t << ": " << in.lower.status << " / " << in.upper.status << " mu_hat " << r.x[0]);
      continue;
    }
    ++usable;
    covered += (in.lower.value <= mu_true && mu_true <= in.upper.value);
    if (r.error[0] > 0) pulls.push_back((r.x[0] - mu_true) / r.error[0]);
  }
  REQUIRE(usable >= n_toys - 2);
  REQUIRE(pulls.size() >= usable - 4);  // fits ending on mu's bound have no Hessian error
  const double c = double(covered) / usable, err = std::sqrt(0.6827 * 0.3173 / usable);
  double mean = 0, var = 0;
  for (double p : pulls) mean += p;
  mean /= pulls.size();
  for (double p : pulls) var += (p - mean) * (p - mean);
  const double sd = std::sqrt(var / (pulls.size() - 1));
  INFO("coverage " << c << " +- " << err << ", pull mean " << mean << " sd " << sd);
  REQUIRE(std::abs(c - 0.6827) < 3 * err);
  REQUIRE(std::abs(mean) < 3 * sd / std::sqrt(double(pulls.size())));
  REQUIRE(std::abs(sd - 1.0) < 3 / std::sqrt(2.0 * pulls.size()));
}

TEST_CASE("INFERNO analytic closure: profiled sigma(s) from the unbinned likelihood with the exact densities", "[likelihood][inferno]") {
  // Paper's analytic-likelihood row (de Castro & Dorigo, arXiv:1806.04743, Table 2).
  const double paper[5] = {14.71, 15.52, 15.65, 15.62, 16.89};
  torch::Generator gen = make_generator(77);
  for (int bm = 0; bm < 5; ++bm) {
    const stats::RegionModel m = region_model(analytic::inferno_asimov_model(bm, 200000, gen), analytic::inferno_fixed(bm));
    const stats::FitResult r = stats::fit(m);
    REQUIRE(r.ok());
    REQUIRE(std::abs(r.x[0] - 1.0) < 1e-6);
    const double sigma_s = 50.0 * r.error[0];
    INFO("benchmark " << bm << ": sigma(s) " << sigma_s << " paper " << paper[bm]);
    REQUIRE(std::abs(sigma_s / paper[bm] - 1.0) < 0.03);
  }
}

TEST_CASE("Likelihood terms in LibTorch pass gradients to network outputs (training without a cache)", "[likelihood]") {
  // Coefficients from a linear "network" Delta(x) = x * a: the derivative of
  // the unbinned term with respect to a matches a central finite difference.
  torch::Generator gen = make_generator(8);
  auto opt = torch::TensorOptions().dtype(torch::kFloat64);
  analytic::GaussianToy toy;
  ModelSpec s = toy.spec();
  const int64_t n = 500;
  torch::Tensor x = torch::randn({n, 1}, gen, opt);
  torch::Tensor lf = torch::log_softmax(torch::randn({n, 2}, gen, opt), 1);
  torch::Tensor theta = torch::tensor({1.1, 0.7, -0.3}, opt);
  torch::Tensor yields = torch::tensor({50.0, 1000.0}, opt);
  auto nll_of = [&](const torch::Tensor& a) {
    torch::Tensor coef = (x.unsqueeze(2) * a.view({1, 2, 2}));  // [n, P=2, C=2]
    return likelihood::terms::unbinned(s, theta, "region", yields, lf, coef, torch::Tensor());
  };
  torch::Tensor a = torch::tensor({0.0, 0.0, 0.2, -0.02}, opt).requires_grad_(true);
  torch::Tensor g = torch::autograd::grad({nll_of(a)}, {a})[0];
  for (int i = 0; i < 4; ++i) {
    const double h = 1e-6;
    torch::Tensor ap = a.detach().clone(), am = a.detach().clone();
    ap[i] += h;
    am[i] -= h;
    const double fd = (nll_of(ap).item<double>() - nll_of(am).item<double>()) / (2 * h);
    INFO("coefficient " << i << ": autograd " << g[i].item<double>() << " finite difference " << fd);
    REQUIRE(std::abs(g[i].item<double>() - fd) < 1e-5 * std::max(1.0, std::abs(fd)));
  }
  REQUIRE(g.abs().sum().item<double>() > 1.0);
}
