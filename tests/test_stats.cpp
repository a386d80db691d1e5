// The model interface (src/stats/): constraint terms against their analytic
// form and finite differences, a pyhf workspace behind the interface equal
// to HistFactoryModel, a combination (a pyhf channel plus an unbinned region
// sharing a nuisance) equal to the sum of its parts, and a model with two
// POIs fitted, profiled and scanned in 2D against the analytic counting
// likelihood.
#include "tests/testing.hpp"
#include "tests/input_error.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "data/random.h"
#include "infer/toy_summary.h"
#include "src/histfactory/workspace.h"
#include "src/stats/combined_model.h"
#include "src/stats/fit.h"
#include "src/stats/hypotest.h"
#include "src/stats/profile.h"
#include "src/stats/region_model.h"
#include "src/stats/workspace_model.h"

using namespace refinery;
using namespace refinery::stats;
using nlohmann::json;
using refinery::testing::input_error_of;

namespace {


std::shared_ptr<const histfactory::HistFactoryModel> load_workspace(const std::string& name) {
  const std::string path = refinery::testing::source_path("tests/data/pyhf/workspaces/" + name);
  return std::make_shared<const histfactory::HistFactoryModel>(histfactory::Workspace::load(path));
}

// A one-bin counting workspace: signal s scaled by the normfactor `poi`,
// background b, n observed.
std::shared_ptr<const histfactory::HistFactoryModel> counting(const std::string& channel, const std::string& poi,
                                                              double s, double b, double n) {
  const json doc = {
      {"version", "1.0.0"},
      {"channels",
       {{{"name", channel},
         {"samples",
          {{{"name", "signal"}, {"data", {s}}, {"modifiers", {{{"name", poi}, {"type", "normfactor"}, {"data", nullptr}}}}},
           {{"name", "background"}, {"data", {b}}, {"modifiers", json::array()}}}}}}},
      {"observations", {{{"name", channel}, {"data", {n}}}}},
      {"measurements", {{{"name", "meas"}, {"config", {{"poi", poi}, {"parameters", json::array()}}}}}}};
  return std::make_shared<const histfactory::HistFactoryModel>(histfactory::Workspace::from_json(doc, channel + ".json"));
}

// mu, the shared normalisation `bkg_norm` and a calibration nuisance `jes`;
// one unbinned region with random fractions and DCR coefficients.
std::shared_ptr<const likelihood::LikelihoodModel> unbinned_region(uint64_t seed) {
  using namespace refinery::likelihood;
  torch::Generator gen = make_generator(seed);
  ModelSpec s;
  s.processes = {"sig", "bkg"};
  s.factors = {{0, 0, {}}};
  s.parameters = {{"mu", ParameterKind::kPoi, likelihood::Constraint::kNone, 0, 1, 1.0, 1e-4, 10},
                  {"bkg_norm", ParameterKind::kNormalisation, likelihood::Constraint::kGaussian, 0, 1, 0, -5, 5},
                  {"jes", ParameterKind::kCalibration, likelihood::Constraint::kGaussian, 0, 1, 0, -5, 5}};
  s.modifiers = {{1, 1, 0.08, false, {}}};
  s.calibration = {2};
  auto m = std::make_shared<LikelihoodModel>(s);
  const int64_t P = 2, C = m->ansatz().C, n = 400, nmc = 3000;
  auto opt = torch::TensorOptions().dtype(torch::kFloat64);
  Region u;
  u.name = "sr_unbinned";
  u.events = EventData::build(torch::softmax(torch::randn({n, P}, gen, opt), 1), 0.05 * torch::randn({n, P, C}, gen, opt));
  u.expected = Cells::build(torch::randint(0, P, {nmc}, gen, torch::kInt64), P,
                            torch::rand({nmc}, gen, opt) * 0.2 + 0.03, 0.05 * torch::randn({nmc, C}, gen, opt));
  m->add_region(std::move(u));
  return m;
}

double relative(double a, double b) { return std::abs(a - b) / std::max(1.0, std::abs(b)); }

}  // namespace

TEST_CASE("stats: constraint terms equal their analytic form, derivatives equal finite differences", "[stats]") {
  const double half_log_2pi = 0.5 * std::log(2.0 * M_PI);
  // Gaussian N(aux = 0.5 | x = 0.2, 0.3).
  ConstraintTerm g = constraint_nll(Constraint::kGaussian, 0.2, 0.5, 0.3);
  CHECK(g.value == Approx(0.5 * 1.0 + std::log(0.3) + half_log_2pi).epsilon(1e-14));
  // Poisson(47 | 1.2 * 50).
  ConstraintTerm p = constraint_nll(Constraint::kPoisson, 1.2, 47.0, 50.0);
  CHECK(p.value == Approx(60.0 - 47.0 * std::log(60.0) + std::lgamma(48.0)).epsilon(1e-14));
  // log 1.3 ~ N(log 0.9, 0.4).
  ConstraintTerm l = constraint_nll(Constraint::kLogNormal, 0.9, 1.3, 0.4);
  const double z = std::log(1.3 / 0.9) / 0.4;
  CHECK(l.value == Approx(0.5 * z * z + std::log(1.3 * 0.4) + half_log_2pi).epsilon(1e-14));
  CHECK(std::isinf(constraint_nll(Constraint::kPoisson, -0.1, 3.0, 10.0).value));
  CHECK(std::isinf(constraint_nll(Constraint::kLogNormal, 0.0, 1.0, 0.5).value));
  for (auto c : {Constraint::kGaussian, Constraint::kPoisson, Constraint::kLogNormal}) {
    for (double x : {0.4, 1.0, 1.7}) {
      const double aux = c == Constraint::kPoisson ? 23.0 : 1.1, w = c == Constraint::kPoisson ? 20.0 : 0.35;
      const double h = 1e-5;
      const ConstraintTerm t = constraint_nll(c, x, aux, w);
      const ConstraintTerm up = constraint_nll(c, x + h, aux, w), down = constraint_nll(c, x - h, aux, w);
      INFO(constraint_name(c) << " at " << x);
      CHECK(t.d1 == Approx((up.value - down.value) / (2 * h)).epsilon(1e-7).margin(1e-8));
      CHECK(t.d2 == Approx((up.d1 - down.d1) / (2 * h)).epsilon(1e-7).margin(1e-8));
    }
  }
  // Asimov auxiliary data are the constraints' expectations; toys scatter
  // around them with the constraint's width.
  CHECK(asimov_aux(Constraint::kPoisson, 1.1, 40.0) == Approx(44.0));
  std::mt19937_64 rng(11);
  double sum = 0, sum2 = 0;
  const int N = 20000;
  for (int i = 0; i < N; ++i) {
    const double a = sample_aux(Constraint::kGaussian, 0.3, 0.5, rng);
    sum += a, sum2 += a * a;
  }
  const double mean = sum / N, sd = std::sqrt(sum2 / N - mean * mean);
  CHECK(std::abs(mean - 0.3) < 5 * 0.5 / std::sqrt(N));
  CHECK(std::abs(sd - 0.5) < 5 * 0.5 / std::sqrt(2.0 * N));
}

TEST_CASE("stats: a pyhf workspace behind the model interface equals HistFactoryModel", "[stats][histfactory]") {
  for (const char* name : {"threebin_histosys_staterror.json", "twobin_shapesys.json", "twobin_lumi_multi.json"}) {
    INFO(name);
    auto hf = load_workspace(name);
    WorkspaceModel model(hf);
    REQUIRE(model.size() == int(hf->parameters().size()));
    CHECK(model.pois() == std::vector<int>{hf->poi_index()});
    std::mt19937_64 rng(3);
    for (int trial = 0; trial < 3; ++trial) {
      Eigen::VectorXd x = hf->init();
      for (int i = 0; i < x.size(); ++i)
        x[i] += 0.1 * std::uniform_real_distribution<double>(-1, 1)(rng) * std::max(1.0, std::abs(x[i]));
      Eigen::VectorXd g1, g2;
      Eigen::MatrixXd h1, h2;
      const double v1 = model.nll(x, &g1, &h1), v2 = hf->nll(x, hf->observed(), &g2, &h2);
      CHECK(relative(v1, v2) < 1e-12);
      CHECK((g1 - g2).norm() <= 1e-10 * std::max(1.0, g2.norm()));
      CHECK((h1 - h2).norm() <= 1e-10 * std::max(1.0, h2.norm()));
      // Asimov: main and auxiliary data at their expectation.
      auto asimov = model.asimov(x);
      const histfactory::Data expected = hf->expected_data(x);
      const histfactory::Data got = static_cast<const WorkspaceModel&>(*asimov).data();
      CHECK((got.main - expected.main).norm() <= 1e-12 * expected.main.norm());
      CHECK((got.aux - expected.aux).norm() <= 1e-12 * std::max(1.0, expected.aux.norm()));
      CHECK(relative(asimov->nll(x), hf->nll(x, expected)) < 1e-12);
    }
    // Toys: reproducible from the seed; their mean is the expectation.
    const Eigen::VectorXd x = hf->init();
    const Eigen::VectorXd mean_expected = hf->expected_main(x);
    auto t1 = model.toy(x, 7), t2 = model.toy(x, 7);
    CHECK(static_cast<const WorkspaceModel&>(*t1).main_data() == static_cast<const WorkspaceModel&>(*t2).main_data());
    const int N = 2000;
    Eigen::VectorXd sum = Eigen::VectorXd::Zero(mean_expected.size());
    for (int k = 0; k < N; ++k) sum += static_cast<const WorkspaceModel&>(*model.toy(x, 100 + k)).main_data();
    for (int b = 0; b < sum.size(); ++b)
      CHECK(std::abs(sum[b] / N - mean_expected[b]) < 5.0 * std::sqrt(mean_expected[b] / N));
  }
}

TEST_CASE("stats: a pyhf channel and an unbinned region sharing a nuisance: NLL, gradient and Hessian are the sum of the parts", "[stats][combination]") {
  auto ws = std::make_shared<const WorkspaceModel>(load_workspace("onebin_normsys.json"));
  auto region = std::make_shared<const RegionModel>(unbinned_region(5), "unbinned test region");
  CombinedModel combined({ws, region});
  // mu and bkg_norm shared, jes from the region alone.
  REQUIRE(combined.size() == 3);
  CHECK(combined.names() == std::vector<std::string>{"mu", "bkg_norm", "jes"});
  CHECK(combined.pois() == std::vector<int>{0});
  CHECK(combined.parameters()[0].lower == Approx(1e-4));  // the intersection of [0, 10] and [1e-4, 10]
  const int shared = combined.index("bkg_norm");
  for (const auto& x_values : {std::vector<double>{1.0, 0.0, 0.0}, {1.4, -0.6, 0.8}, {0.7, 1.2, -1.1}}) {
    Eigen::VectorXd x = Eigen::Map<const Eigen::VectorXd>(x_values.data(), 3);
    Eigen::VectorXd xw(ws->size()), xr(region->size());
    for (int i = 0; i < ws->size(); ++i) xw[i] = x[combined.map(0, i)];
    for (int i = 0; i < region->size(); ++i) xr[i] = x[combined.map(1, i)];
    Eigen::VectorXd g, gw, gr;
    Eigen::MatrixXd h, hw, hr;
    const double v = combined.nll(x, &g, &h);
    const double vw = ws->nll(xw, &gw, &hw), vr = region->nll(xr, &gr, &hr);
    // The shared nuisance's constraint counted once.
    const Parameter& p = combined.parameters()[shared];
    const ConstraintTerm c = constraint_nll(p.constraint, x[shared], p.aux, p.width);
    Eigen::VectorXd g_sum = Eigen::VectorXd::Zero(3);
    Eigen::MatrixXd h_sum = Eigen::MatrixXd::Zero(3, 3);
    for (int a = 0; a < ws->size(); ++a) {
      g_sum[combined.map(0, a)] += gw[a];
      for (int b = 0; b < ws->size(); ++b) h_sum(combined.map(0, a), combined.map(0, b)) += hw(a, b);
    }
    for (int a = 0; a < region->size(); ++a) {
      g_sum[combined.map(1, a)] += gr[a];
      for (int b = 0; b < region->size(); ++b) h_sum(combined.map(1, a), combined.map(1, b)) += hr(a, b);
    }
    g_sum[shared] -= c.d1;
    h_sum(shared, shared) -= c.d2;
    INFO("x = " << x.transpose());
    CHECK(std::abs(v - (vw + vr - c.value)) <= 1e-10 * std::abs(v));
    CHECK((g - g_sum).norm() <= 1e-10 * std::max(1.0, g_sum.norm()));
    CHECK((h - h_sum).norm() <= 1e-10 * h_sum.norm());
  }
  // The combination fits (Newton on the summed Hessian) to a stationary point.
  const FitResult f = fit(combined);
  REQUIRE(f.ok());
  Eigen::VectorXd g;
  combined.nll(f.x, &g, nullptr);
  CHECK(g.norm() < 1e-4);
  CHECK(f.covariance_ok);
}

TEST_CASE("stats: expected yields per region and process, pre- and post-fit, for every kind of model", "[stats][yields]") {
  // A workspace: per sample, in its channel's bins; the samples of a channel
  // add up to the expected main counts.
  for (const std::string name : {"sr_cr_coupled.json", "threebin_histosys_staterror.json", "twobin_lumi_multi.json"}) {
    const WorkspaceModel ws(load_workspace(name));
    Eigen::VectorXd x = ws.init();
    for (int i = 0; i < x.size(); ++i)
      if (!ws.parameters()[i].fixed) x[i] += 0.1 * ((i % 3) - 1);  // away from the nominal point
    const auto yields = ws.expected_yields(x);
    const Eigen::VectorXd main = ws.histfactory().expected_main(x);
    std::vector<double> sum(main.size(), 0.0);
    const auto channels = ws.histfactory().channel_names();
    for (const auto& y : yields) {
      int offset = 0;  // bins of the channels before this one
      for (const auto& c : channels) {
        if (c == y.region) break;
        for (const auto& z : yields)
          if (z.region == c) {
            offset += int(z.bins.size());
            break;
          }
      }
      for (size_t b = 0; b < y.bins.size(); ++b) sum[offset + b] += y.bins[b];
    }
    INFO(name);
    for (int b = 0; b < main.size(); ++b) REQUIRE(std::abs(sum[b] - main[b]) <= 1e-12 * std::max(1.0, main[b]));
  }
  // By hand: signal 12 scaled by mu, background 50 with a normsys of +-10%
  // (pyhf's code4 meets hi and lo exactly at alpha = +-1).
  const WorkspaceModel onebin(load_workspace("onebin_normsys.json"));
  {
    Eigen::VectorXd x = onebin.init();
    x[onebin.index("mu")] = 2.0;
    x[onebin.index("bkg_norm")] = 1.0;
    const auto y = onebin.expected_yields(x);
    REQUIRE(y.size() == 2);
    CHECK(y[0].region == "sr");
    CHECK(y[0].process == "signal");
    CHECK(y[0].bins == std::vector<double>{24.0});
    CHECK(y[1].process == "bkg");
    REQUIRE(y[1].bins.size() == 1);
    CHECK(std::abs(y[1].bins[0] - 55.0) < 1e-12);
  }
  // A region model: per process, adding up to the region's total; the
  // signal scales with mu, the background with (1 + 0.08)^bkg_norm.
  auto region = std::make_shared<const RegionModel>(unbinned_region(5), "unbinned test region");
  Eigen::VectorXd xr(3);
  xr << 1.7, 0.4, 0.0;
  const auto yr = region->expected_yields(xr);
  REQUIRE(yr.size() == 2);
  CHECK(yr[0].region == "sr_unbinned");
  CHECK(yr[0].process == "sig");
  CHECK(yr[1].process == "bkg");
  const auto totals = region->likelihood().expected(xr);
  CHECK(std::abs(yr[0].bins[0] + yr[1].bins[0] - totals[0][0]) <= 1e-12 * totals[0][0]);
  // The signal scales with mu, the background with 1.08^bkg_norm.
  Eigen::VectorXd x2 = xr;
  x2[0] = 3.4;
  x2[1] = 1.4;
  const auto y2 = region->expected_yields(x2);
  CHECK(std::abs(y2[0].bins[0] / yr[0].bins[0] - 2.0) < 1e-12);
  CHECK(std::abs(y2[1].bins[0] / yr[1].bins[0] - 1.08) < 1e-12);
  // A combination: its parts' yields, in part order, at the parts' values.
  auto ws = std::make_shared<const WorkspaceModel>(load_workspace("onebin_normsys.json"));
  const CombinedModel combined({ws, region});
  Eigen::VectorXd xc(3);
  xc << 1.7, 0.4, 0.0;
  const auto yc = combined.expected_yields(xc);
  Eigen::VectorXd xw(ws->size());
  for (int i = 0; i < ws->size(); ++i) xw[i] = xc[combined.map(0, i)];
  const auto yw = ws->expected_yields(xw);
  REQUIRE(yc.size() == yw.size() + yr.size());
  for (size_t i = 0; i < yw.size(); ++i) CHECK(yc[i].bins == yw[i].bins);
  for (size_t i = 0; i < yr.size(); ++i) CHECK(yc[yw.size() + i].bins == yr[i].bins);
}

TEST_CASE("stats: a combination refuses a shared parameter constrained differently or a POI constrained elsewhere", "[stats][combination][bad-input]") {
  auto ws = std::make_shared<const WorkspaceModel>(load_workspace("onebin_normsys.json"));
  auto other = std::make_shared<WorkspaceModel>(load_workspace("onebin_normsys.json"));
  // Shift the second part's auxiliary measurement of bkg_norm through a toy.
  auto toy = other->toy(other->init(), 1);
  CHECK_THAT(input_error_of([&] { CombinedModel({ws, std::shared_ptr<const Model>(std::move(toy))}); }),
             Catch::Contains("parameter 'bkg_norm'") && Catch::Contains("constrained differently"));
  auto a = std::make_shared<const WorkspaceModel>(counting("a", "mu", 10, 50, 70));
  auto b = std::make_shared<const WorkspaceModel>(counting("b", "bkg_norm", 10, 50, 70));
  CHECK_THAT(input_error_of([&] { CombinedModel({ws, b}); }),
             Catch::Contains("parameter 'bkg_norm'") && Catch::Contains("parameter of interest"));
  CHECK_THAT(input_error_of([&] { CombinedModel({}); }), Catch::Contains("no models to combine"));
}

TEST_CASE("stats: two POIs fit, profile each and scan in 2D as the analytic counting likelihood says", "[stats][fit]") {
  // n_i ~ Poisson(mu_i s_i + b_i): mu_i_hat = (n_i - b_i) / s_i, and
  // t(mu_1, mu_2) = t_1(mu_1) + t_2(mu_2), t_i = 2 [nll_i(mu_i) - nll_i(hat)].
  const double s1 = 10, b1 = 50, n1 = 70, s2 = 20, b2 = 30, n2 = 45;
  CombinedModel model({std::make_shared<const WorkspaceModel>(counting("a", "mu_a", s1, b1, n1)),
                       std::make_shared<const WorkspaceModel>(counting("b", "mu_b", s2, b2, n2))});
  REQUIRE(model.pois() == std::vector<int>{0, 1});
  auto t_of = [](double mu, double s, double b, double n) {
    auto nll = [&](double m) { return m * s + b - n * std::log(m * s + b); };
    return 2.0 * (nll(mu) - nll((n - b) / s));
  };
  const FitResult best = fit(model);
  REQUIRE(best.status == FitStatus::kConverged);
  CHECK(best.x[0] == Approx((n1 - b1) / s1).epsilon(1e-7));
  CHECK(best.x[1] == Approx((n2 - b2) / s2).epsilon(1e-7));
  // Errors: 1 / sqrt(Fisher) = sqrt(n) / s at the MLE.
  CHECK(best.error[0] == Approx(std::sqrt(n1) / s1).epsilon(1e-6));
  CHECK(best.error[1] == Approx(std::sqrt(n2) / s2).epsilon(1e-6));
  // Each POI profiled (the other re-minimised): its own t.
  for (int k = 0; k < 2; ++k) {
    const double s = k ? s2 : s1, b = k ? b2 : b1, n = k ? n2 : n1;
    const Interval in = profile_interval(model, best, k, 1.0);
    REQUIRE(in.lower.found);
    REQUIRE(in.upper.found);
    CHECK(std::abs(t_of(in.lower.value, s, b, n) - 1.0) < 2e-4);
    CHECK(std::abs(t_of(in.upper.value, s, b, n) - 1.0) < 2e-4);
    CHECK(in.parameter == (k ? "mu_b" : "mu_a"));
    const auto scan = profile_scan(model, best, k, {0.5, 1.0, 2.5});
    for (const auto& p : scan) CHECK(p.t == Approx(t_of(p.values[0], s, b, n)).margin(1e-7));
  }
  const std::vector<double> va = {1.0, 2.0, 3.0}, vb = {0.25, 0.75, 1.5, 2.0};
  const auto grid = profile_scan_2d(model, best, 0, 1, va, vb);
  REQUIRE(grid.size() == va.size() * vb.size());
  for (size_t i = 0; i < va.size(); ++i)
    for (size_t j = 0; j < vb.size(); ++j) {
      const ScanPoint& p = grid[i * vb.size() + j];
      CHECK(p.converged);
      CHECK(p.values == std::vector<double>{va[i], vb[j]});
      CHECK(p.t == Approx(t_of(va[i], s1, b1, n1) + t_of(vb[j], s2, b2, n2)).margin(1e-7));
    }
  // The 68.27% and 95% regions of both (2 dof): on a 41 x 41 grid over
  // +-4 errors (h = 0.2 errors), closed lines whose every vertex has the
  // analytic t at the level to the linear interpolation's error along a
  // cell's diagonal, l^2 / 8 max t'' with l^2 = 2 h^2 and t'' ~ 2 per
  // error^2, doubled for the Poisson t's skew: h^2 = 0.04.
  const double one_sigma = std::erf(1.0 / std::sqrt(2.0));  // 0.682689...
  CHECK(chi2_level_2d(one_sigma) == Approx(2.2957).epsilon(1e-4));
  CHECK(chi2_level_2d(0.95) == Approx(5.9915).epsilon(1e-4));
  std::vector<double> fa, fb;
  for (int k = 0; k < 41; ++k) {
    fa.push_back(best.x[0] + best.error[0] * (-4.0 + 8.0 * k / 40));
    fb.push_back(best.x[1] + best.error[1] * (-4.0 + 8.0 * k / 40));
  }
  const auto fine = profile_scan_2d(model, best, 0, 1, fa, fb);
  for (double cl : {one_sigma, 0.95}) {
    const double level = chi2_level_2d(cl);
    const auto lines = scan_contour(fine, level);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].size() > 20);
    CHECK(lines[0].front() == lines[0].back());  // closed: the region lies inside the grid
    double worst = 0.0;
    for (const auto& [x, y] : lines[0]) worst = std::max(worst, std::abs(t_of(x, s1, b1, n1) + t_of(y, s2, b2, n2) - level));
    INFO("largest |t - level| on the " << cl << " contour: " << worst);
    CHECK(worst < 0.04);
  }
  // Hypotests on either POI with the other profiled: q~ at mu_a = 4 from the
  // analytic t (the other POI's fit does not move it).
  AsymptoticCalculator calc(model, 0, TestStat::kQtilde);
  const HypotestResult h = calc.hypotest(4.0);
  CHECK(h.converged);
  CHECK(h.q_obs == Approx(t_of(4.0, s1, b1, n1)).epsilon(1e-7));
  CHECK_THAT(input_error_of([&] { model.poi("mu_c"); }), Catch::Contains("no parameter 'mu_c'"));
}

TEST_CASE("Far tails: the p-value of a 22-sigma excess is not rounded to 0", "[stats]") {
  // One bin, s = 300, b = 100, n = 400: q0 = 2 (n log(n / b) - (n - b)) =
  // 509.0 (Cowan et al. eq. 14 squared); p0 = Phi(-sqrt(q0)) ~ 1e-113, which
  // 1 - Phi(sqrt(q0)) gives as 0.
  auto model = counting("c", "mu", 300.0, 100.0, 400.0);
  const WorkspaceModel ws(model);
  AsymptoticCalculator calc(ws, model->poi_index(), TestStat::kQ0);
  const HypotestResult h = calc.hypotest(1.0);
  const double q0 = 2.0 * (400.0 * std::log(4.0) - 300.0);
  CHECK(h.q_obs == Approx(q0).epsilon(1e-7));
  REQUIRE(h.clsb > 0.0);
  CHECK(h.clsb == Approx(0.5 * std::erfc(std::sqrt(h.q_obs / 2.0))).epsilon(1e-12));
  CHECK(h.clsb < 1e-100);
  // The expected p0 at the signal's median and +-2 sigma: none 0 either.
  for (double p : h.cls_exp) CHECK(p > 0.0);
}

TEST_CASE("stats CLI: a workspace takes the experiment's data options (Asimov, toys), 2D scans and impacts", "[stats][cli]") {
  using refinery::testing::run_refinery;
  const std::string ws = refinery::testing::source_path("tests/data/pyhf/workspaces/sr_cr_coupled.json");
  // Asimov data at a chosen truth: the fit returns it.
  auto r = run_refinery("fit " + ws + " --asimov --mu-true 0.5 --nu-true k_bkg=1.2 --json");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  json f = json::parse(r.output);
  REQUIRE(f["kind"] == "workspace");
  REQUIRE(f["fit"]["status"] == "converged");
  for (const auto& p : f["fit"]["parameters"]) {
    const double truth = p["name"] == "mu" ? 0.5 : p["name"] == "k_bkg" ? 1.2 : 0.0;
    CHECK(p["value"].get<double>() == Approx(truth).margin(1e-6));
  }
  REQUIRE(f["interval_68"]["lower"]["value"].get<double>() < 0.5);
  REQUIRE(f["interval_68"]["upper"]["value"].get<double>() > 0.5);
  // Pre- and post-fit yields per channel and sample: on Asimov data the
  // post-fit yields add up to the observed (Asimov) counts.
  REQUIRE(f["yields"]["prefit"].size() == f["yields"]["postfit"].size());
  REQUIRE(f["yields"]["postfit"].size() >= 3);
  {
    r = run_refinery("fit " + ws + " --asimov --mu-true 0.5 --nu-true k_bkg=1.2 --no-interval --json");
    json again = json::parse(r.output);
    CHECK(again["yields"] == f["yields"]);
    std::map<std::string, double> fitted;
    for (const auto& y : f["yields"]["postfit"]) {
      double bins = 0.0;
      for (const auto& v : y["bins"]) bins += v.get<double>();
      CHECK(y["total"].get<double>() == Approx(bins).epsilon(1e-12));
      fitted[y["region"].get<std::string>()] += bins;
    }
    const histfactory::HistFactoryModel hf(histfactory::Workspace::load(ws));
    Eigen::VectorXd truth = hf.init();
    truth[hf.parameter_index("mu")] = 0.5;
    truth[hf.parameter_index("k_bkg")] = 1.2;
    const Eigen::VectorXd expected = hf.expected_main(truth);
    CHECK(expected.sum() == Approx(fitted["sr"] + fitted["cr"]).epsilon(1e-6));
  }
  // Toys: a pure function of (--seed, index).
  auto t1 = run_refinery("fit " + ws + " --toy 3 --seed 5 --no-interval --json");
  auto t2 = run_refinery("fit " + ws + " --toy 3 --seed 5 --no-interval --json");
  auto t3 = run_refinery("fit " + ws + " --toy 4 --seed 5 --no-interval --json");
  REQUIRE(t1.exit_code == 0);
  const double nll1 = json::parse(t1.output)["fit"]["nll"].get<double>();
  CHECK(nll1 == json::parse(t2.output)["fit"]["nll"].get<double>());
  CHECK(nll1 != json::parse(t3.output)["fit"]["nll"].get<double>());
  // A 2D scan: t >= 0 everywhere, 0 only at the MLE.
  r = run_refinery("scan " + ws + " --poi mu --poi2 k_bkg --points 3 --points2 3 --json");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  json s = json::parse(r.output);
  REQUIRE(s["scan"]["parameters"] == json::array({"mu", "k_bkg"}));
  REQUIRE(s["scan"]["points"].size() == 9);
  for (const auto& p : s["scan"]["points"]) {
    CHECK(p["converged"] == true);
    CHECK(p["t"].get<double>() > -1e-9);
  }
  // The middle of a symmetric grid is the MLE.
  CHECK(std::abs(s["scan"]["points"][4]["t"].get<double>()) < 1e-6);
  r = run_refinery("impacts " + ws + " --json");
  REQUIRE(r.exit_code == 0);
  json im = json::parse(r.output)["impacts"];
  REQUIRE(im["poi"] == "mu");
  REQUIRE(im["impacts"].size() == 2);
  CHECK(im["stat_only_error"].get<double>() < im["mu_error"].get<double>());
  // The table: k_bkg is free (a normfactor), so it has no pre-fit impact.
  r = run_refinery("impacts " + ws);
  REQUIRE(r.exit_code == 0);
  const auto row = r.output.find("\nk_bkg");
  REQUIRE(row != std::string::npos);
  const std::string line = r.output.substr(row + 1, r.output.find('\n', row + 1) - row - 1);
  INFO(line);
  CHECK(line.find("          -          -") != std::string::npos);
  // Options of the other kind, and truths naming no parameter.
  r = run_refinery("fit " + ws + " --reference");
  CHECK(r.exit_code == 2);
  CHECK(r.output == "refinery fit: error: --reference: applies to an experiment (--config), not to a workspace\n");
  r = run_refinery("fit " + ws + " --asimov --nu-true ghost=1");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--nu-true: 'ghost=1' is not NAME=VALUE with a parameter of") != std::string::npos);
  // The POI's true value comes from --mu-true alone (it was replaced silently).
  r = run_refinery("fit " + ws + " --asimov --nu-true mu=2");
  CHECK(r.exit_code == 2);
  CHECK(r.output == "refinery fit: error: --nu-true: 'mu' is the parameter of interest: give its true value with --mu-true\n");
  r = run_refinery("scan " + ws + " --poi2 mu");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--poi2: names the scanned parameter itself") != std::string::npos);
}

TEST_CASE("stats CLI: toys of a workspace cover, shard and merge, with the workspace's parameter names", "[stats][cli][toys]") {
  using refinery::testing::run_refinery;
  refinery::testing::TempDir tmp("workspace_toys");
  const std::string ws = refinery::testing::source_path("tests/data/pyhf/workspaces/sr_cr_coupled.json");
  for (const std::string& bad : {"1,abc", "1,,2", "1,inf"}) {
    auto e = run_refinery("toys " + ws + " --n 3 --mu-values " + bad + " --quiet --out " + tmp.path("never.csv"));
    INFO(bad << "\n" << e.output);
    REQUIRE(e.exit_code == 2);
    REQUIRE(e.output.find("--mu-values: not a number: '") != std::string::npos);
  }
  auto r = run_refinery("toys " + ws + " --n 300 --mu-values 0.5,1.5 --seed 3 --quiet --out " + tmp.path("all.csv"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string csv = refinery::testing::read_file(tmp.path("all.csv"));
  REQUIRE(csv.rfind("index,mu_true,coupled_histo,k_bkg,coupled_histo_hat,k_bkg_hat,coupled_histo_error,k_bkg_error,"
                    "coupled_histo_constraint_slope,k_bkg_constraint_slope,events,converged,",
                    0) == 0);
  json s = json::parse(refinery::testing::read_file(tmp.path("all.csv.json")));
  // The model describes its toys exactly: the 68.27% intervals cover to
  // within 3 binomial errors (600 toys), the pulls have unit width.
  const json& all = s["overall"];
  INFO(all.dump());
  REQUIRE(all["usable"].get<int>() >= 598);
  const double c = all["coverage"].get<double>(), err = std::sqrt(0.6827 * 0.3173 / all["usable"].get<double>());
  CHECK(std::abs(c - 0.6827) < 3 * err);
  CHECK(std::abs(all["pull_sd"].get<double>() - 1.0) < 0.1);
  // So are the other parameters' pulls, (hat - true) / error: mean 0
  // (within 3 errors of the mean, 0.04), spread 1.
  REQUIRE(s["nuisance_pulls"].size() == 2);
  for (const auto& k : s["nuisance_pulls"]) {
    INFO(k.dump());
    CHECK(k["toys"].get<int>() >= 598);
    CHECK(std::abs(k["mean"].get<double>()) < 3 * k["mean_error"].get<double>());
    CHECK(std::abs(k["sd"].get<double>() - 1.0) < 0.12);
  }
  // Two shards merged are the unsharded run; a shard of another model is refused.
  for (const char* shard : {"0/2", "1/2"})
    REQUIRE(run_refinery("toys " + ws + " --n 300 --mu-values 0.5,1.5 --seed 3 --quiet --shard " + shard + " --out " +
                         tmp.path(std::string("s") + shard[0] + ".csv"))
                .exit_code == 0);
  r = run_refinery("toys --merge " + tmp.path("s0.csv") + " " + tmp.path("s1.csv") + " --workspace " + ws + " --quiet --out " +
                   tmp.path("m.csv"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  json m = json::parse(refinery::testing::read_file(tmp.path("m.csv.json")));
  CHECK(m["overall"]["coverage"] == all["coverage"]);
  CHECK(m["overall"]["mean_width"].get<double>() == Approx(all["mean_width"].get<double>()).epsilon(1e-9));
  for (size_t k = 0; k < 2; ++k)  // the fitted columns survive the merge
    CHECK(m["nuisance_pulls"][k]["mean"].get<double>() ==
          Approx(s["nuisance_pulls"][k]["mean"].get<double>()).epsilon(1e-8));
  // A run extended by a later block (--first): the first 120 toys, then
  // toys 120..299 as two shards of their own, merge to the same 600 toys.
  REQUIRE(run_refinery("toys " + ws + " --n 120 --mu-values 0.5,1.5 --seed 3 --quiet --out " + tmp.path("b0.csv"))
              .exit_code == 0);
  for (const char* shard : {"0/2", "1/2"})
    REQUIRE(run_refinery("toys " + ws + " --n 180 --first 120 --mu-values 0.5,1.5 --seed 3 --quiet --shard " + shard +
                         " --out " + tmp.path(std::string("b1_") + shard[0] + ".csv"))
                .exit_code == 0);
  const std::string blocks = tmp.path("b0.csv") + " " + tmp.path("b1_0.csv") + " " + tmp.path("b1_1.csv");
  r = run_refinery("toys --merge " + blocks + " --workspace " + ws + " --quiet --out " + tmp.path("mb.csv"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  {
    std::vector<std::string> names_all, names_blocks;
    auto rows_all = refinery::read_toy_csv(tmp.path("all.csv"), &names_all);
    auto rows_blocks = refinery::read_toy_csv(tmp.path("mb.csv"), &names_blocks);
    REQUIRE(names_blocks == names_all);
    REQUIRE(rows_blocks.size() == rows_all.size());
    auto key = [](const refinery::ToyRow& t) { return std::make_pair(t.mu_true, t.index); };
    auto by_key = [&](const refinery::ToyRow& a, const refinery::ToyRow& b) { return key(a) < key(b); };
    std::sort(rows_all.begin(), rows_all.end(), by_key);
    std::sort(rows_blocks.begin(), rows_blocks.end(), by_key);
    for (size_t k = 0; k < rows_all.size(); ++k) {  // toy by toy the same data and fit
      REQUIRE(key(rows_blocks[k]) == key(rows_all[k]));
      CHECK(rows_blocks[k].nu_true == rows_all[k].nu_true);
      CHECK(rows_blocks[k].mu_hat == rows_all[k].mu_hat);
    }
  }
  // A block with a shard missing, or the same block twice, is refused.
  r = run_refinery("toys --merge " + tmp.path("b0.csv") + " " + tmp.path("b1_0.csv") + " --workspace " + ws + " --quiet --out " +
                   tmp.path("bad.csv"));
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("shard 1/2 of the toys from 120 is missing") != std::string::npos);
  r = run_refinery("toys --merge " + blocks + " " + tmp.path("s0.csv") + " --workspace " + ws + " --quiet --out " +
                   tmp.path("bad.csv"));
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("shard of 2 but the others are of 1") != std::string::npos);
  REQUIRE(run_refinery("toys " + ws + " --n 30 --first 100 --mu-values 0.5,1.5 --seed 3 --quiet --out " + tmp.path("b2.csv"))
              .exit_code == 0);
  r = run_refinery("toys --merge " + blocks + " " + tmp.path("b2.csv") + " --workspace " + ws + " --quiet --out " +
                   tmp.path("bad.csv"));
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("toy 100: also in") != std::string::npos);
  // Shards stopped before their end (killed, as a batch system's time limit
  // does) leave the toys they finished and a summary that says so, written
  // as they started; they merge, toy by toy the uninterrupted run's toys.
  for (const char* shard : {"0/2", "1/2"}) {
    const auto killed = refinery::testing::run_command(
        "timeout -s KILL 3 " + std::string(REFINERY_BINARY) + " toys " + ws + " --n 100000 --mu-values 0.5,1.5 --seed 3 --quiet --shard " +
        shard + " --out " + tmp.path(std::string("k") + shard[0] + ".csv"));
    REQUIRE(killed.exit_code != 0);
  }
  std::vector<refinery::ToyRow> finished;
  for (const char* k : {"k0.csv", "k1.csv"}) {
    const json side = json::parse(refinery::testing::read_file(tmp.path(k) + ".json"));
    CHECK(side["complete"] == false);
    CHECK(side["mu_values"] == json::array({0.5, 1.5}));
    int64_t cut = 0;  // a kill during the append of a row leaves it cut
    auto rows = refinery::read_toy_csv(tmp.path(k), nullptr, &cut);
    REQUIRE(!rows.empty());
    finished.insert(finished.end(), rows.begin(), rows.end());
  }
  // A row cut off by the kill (made sure of here) is dropped by the merge.
  std::ofstream(tmp.path("k1.csv"), std::ios::app) << "17,1.5,0.25";
  r = run_refinery("toys --merge " + tmp.path("k0.csv") + " " + tmp.path("k1.csv") + " --workspace " + ws + " --out " +
                   tmp.path("mk.csv"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("note: " + tmp.path("k0.csv") + " stopped before its end") != std::string::npos);
  {
    const json mk = json::parse(refinery::testing::read_file(tmp.path("mk.csv.json")));
    CHECK(mk["complete"] == false);
    CHECK(mk["incomplete_shards"].size() == 2);
    const auto merged = refinery::read_toy_csv(tmp.path("mk.csv"));
    CHECK(merged.size() == finished.size());
    std::map<std::pair<double, int64_t>, double> whole;
    for (const auto& t : refinery::read_toy_csv(tmp.path("all.csv"))) whole[{t.mu_true, t.index}] = t.mu_hat;
    int compared = 0;
    for (const auto& t : merged)
      if (auto it = whole.find({t.mu_true, t.index}); it != whole.end()) {
        CHECK(t.mu_hat == it->second);
        ++compared;
      }
    CHECK(compared > 0);
    // A complete run's summary says so.
    CHECK(json::parse(refinery::testing::read_file(tmp.path("all.csv.json")))["complete"] == true);
  }
  // In a shard that says it is complete, a cut row is refused.
  std::filesystem::copy_file(tmp.path("s0.csv"), tmp.path("c0.csv"));
  std::filesystem::copy_file(tmp.path("s0.csv.json"), tmp.path("c0.csv.json"));
  std::ofstream(tmp.path("c0.csv"), std::ios::app) << "17,1.5,0.25";
  r = run_refinery("toys --merge " + tmp.path("c0.csv") + " " + tmp.path("s1.csv") + " --workspace " + ws + " --quiet --out " +
                   tmp.path("bad.csv"));
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("c0.csv: line") != std::string::npos);
  CHECK(r.output.find("cut off (no newline at its end) in a shard whose summary says it is complete") != std::string::npos);
  // Shards of one run asked for different numbers of toys do not merge.
  r = run_refinery("toys --merge " + tmp.path("s0.csv") + " " + tmp.path("k1.csv") + " --workspace " + ws + " --quiet --out " +
                   tmp.path("bad.csv"));
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("k1.csv.json: n: the shard was asked for 100000 toys per mu_true, the others for 300") != std::string::npos);
  r = run_refinery("toys " + ws + " --n 3 --first -1 --quiet --out " + tmp.path("bad.csv"));
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--first: must be >= 0") != std::string::npos);
  r = run_refinery("toys --merge " + tmp.path("s0.csv") + " " + tmp.path("s1.csv") + " --workspace " + ws +
                   " --poi-bounds 0,5 --quiet --out " + tmp.path("bad.csv"));
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("config_hash: the shard was made with") != std::string::npos);
  r = run_refinery("toys " + ws + " --quiet");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--n: how many pseudo-experiments") != std::string::npos);
  for (const std::string nus : {"from-priors", "from-priors,k_bkg=1"}) {
    r = run_refinery("toys " + ws + " --n 3 --nu-true " + nus + " --quiet --out " + tmp.path("never.csv"));
    INFO(nus << ": " << r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("--nu-true: from-priors draws an experiment's nuisances") != std::string::npos);
  }
}
