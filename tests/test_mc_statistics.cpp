// Simulated-sample statistics in the likelihood (src/likelihood/mc_statistics.h,
// issue 14 item 1): the analytically profiled Barlow-Beeston-lite term of a
// binned region against pyhf's shapesys with its factors fitted as
// parameters (an outside reference: the HistFactory engine, checked against
// pyhf in test_pyhf_conformance), and the coverage it restores when the
// expected yields come from a simulated sample as small as the data.
#include "tests/testing.hpp"
#include "tests/dcr_testing.hpp"

#include <cmath>
#include <cstdlib>
#include <random>

#include <nlohmann/json.hpp>

#include "data/analytic/likelihood_toys.h"
#include "data/random.h"
#include "infer/signal_fraction_thinning.h"
#include "models/dcr_network.h"
#include "train/dcr_training.h"
#include "src/histfactory/hf_model.h"
#include "src/histfactory/workspace.h"
#include "src/likelihood/likelihood_model.h"
#include "src/likelihood/mc_statistics.h"
#include "src/stats/fit.h"
#include "src/stats/profile.h"
#include "src/stats/region_model.h"
#include "src/stats/workspace_model.h"

using namespace refinery;
using namespace refinery::likelihood;
using nlohmann::json;

namespace {

std::vector<double> to_vector(const torch::Tensor& t) {
  torch::Tensor c = t.to(torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

struct Coverage {
  int usable = 0, covered = 0;
  double fraction() const { return double(covered) / usable; }
  double error() const { return std::sqrt(0.6827 * 0.3173 / usable); }
};

// Pseudo-experiments of the Gaussian toy at mu = 1 with the nuisances drawn
// from their priors; each uses its own simulated sample of `mc_signal` and
// `mc_background` events for the expected yields (the ensemble over which a
// frequentist interval must cover includes the simulated sample).
Coverage gaussian_toy_coverage(int n_toys, int64_t mc_signal, int64_t mc_background, int cells, uint64_t seed,
                               const analytic::DcrCoefficients& dcr = {}) {
  Coverage c;
  torch::Generator gen = make_generator(seed);
  for (int t = 0; t < n_toys; ++t) {
    const double nu = torch::randn({1}, gen, torch::kFloat64).item<double>();
    const double norm = torch::randn({1}, gen, torch::kFloat64).item<double>();
    const analytic::GaussianToy toy(mc_signal, mc_background, seed * 1000 + t, analytic::YieldEstimate::kFractions, cells, dcr);
    const stats::RegionModel m(std::make_shared<const LikelihoodModel>(toy.model(toy.pseudo_data(1.0, nu, norm, gen))),
                               "Gaussian toy");
    const stats::FitResult r = stats::fit(m);
    if (!r.ok()) continue;
    const stats::Interval in = stats::profile_interval(m, r, 0, 1.0);
    if (!in.lower.usable() || !in.upper.usable()) continue;
    ++c.usable;
    c.covered += in.lower.value <= 1.0 && 1.0 <= in.upper.value;
  }
  return c;
}

// Of n pseudo-experiments each, nearly all give an interval; with the term
// the coverage is 0.6827 within 3 binomial errors, without it more than 3
// errors below.
void require_term_restores_coverage(const Coverage& without, const Coverage& with, int n) {
  INFO("coverage without the term " << without.fraction() << " +- " << without.error() << " (" << without.usable
                                    << " toys), with it " << with.fraction() << " +- " << with.error() << " (" << with.usable << ")");
  REQUIRE(without.usable >= n - 4);
  REQUIRE(with.usable >= n - 4);
  REQUIRE(std::abs(with.fraction() - 0.6827) < 3 * with.error());
  REQUIRE(without.fraction() < 0.6827 - 3 * without.error());
}

}  // namespace

TEST_CASE("Simulated-sample statistics: a binned region's profiled term equals pyhf shapesys with its factors fitted",
          "[likelihood][mcstat][pyhf]") {
  // Three bins; simulated signal and background events with unequal weights.
  torch::Generator gen = make_generator(31);
  auto opt = torch::TensorOptions().dtype(torch::kFloat64);
  const int B = 3;
  const int64_t ns = 40, nb = 300;
  torch::Tensor bin = torch::cat({torch::randint(1, B, {ns}, gen, torch::kInt64), torch::randint(0, B, {nb}, gen, torch::kInt64)});
  torch::Tensor weight = torch::cat({0.5 + torch::rand({ns}, gen, opt), 0.2 + 0.6 * torch::rand({nb}, gen, opt)});
  torch::Tensor process = torch::cat({torch::zeros({ns}, torch::kInt64), torch::ones({nb}, torch::kInt64)});
  const std::vector<double> observed = {60, 95, 70};

  ModelSpec s;
  s.processes = {"sig", "bkg"};
  s.factors = {{0, 0, {}}};
  s.parameters = {{"mu", ParameterKind::kPoi, likelihood::Constraint::kNone, 0, 1, 1.0, 1e-4, 10}};
  LikelihoodModel lm(s);
  Region r;
  r.name = "sr";
  r.binned = true;
  r.n_bins = B;
  r.mc_stat = true;
  r.expected = Cells::from_events(bin, B, weight, process, torch::ones({ns + nb, 2}, opt),
                                  torch::zeros({ns + nb, 2, 0}, opt), /*labels=*/true);
  r.observed = observed;
  lm.add_region(r);
  const stats::RegionModel region(std::make_shared<const LikelihoodModel>(lm), "binned region");

  // The same histograms as a pyhf workspace: per sample and bin the summed
  // weights; one shapesys on both samples whose tau = (data / error)^2 is
  // the bin's effective number of simulated events, (sum w)^2 / sum w^2 over
  // both processes (each sample's error is its yield times the bin's
  // relative error, so every sample gives the same tau).
  const torch::Tensor rel = torch::tensor(r.expected.rel_error, opt);
  json channel = {{"name", "sr"}, {"samples", json::array()}};
  for (int p = 0; p < 2; ++p) {
    torch::Tensor sel = process == p;
    torch::Tensor sw = torch::zeros({B}, opt).index_add(0, bin.index({sel}), weight.index({sel}));
    json mods = json::array({{{"name", "mc_stat"}, {"type", "shapesys"}, {"data", to_vector(sw * rel)}}});
    if (p == 0) mods.push_back({{"name", "mu"}, {"type", "normfactor"}, {"data", nullptr}});
    channel["samples"].push_back({{"name", s.processes[p]}, {"data", to_vector(sw)}, {"modifiers", mods}});
  }
  json doc = {{"channels", {channel}},
              {"observations", {{{"name", "sr"}, {"data", observed}}}},
              {"measurements", {{{"name", "m"}, {"config", {{"poi", "mu"}, {"parameters", json::array()}}}}}},
              {"version", "1.0.0"}};
  const stats::WorkspaceModel workspace(histfactory::HistFactoryModel(histfactory::Workspace::from_json(doc, "shapesys.json")));
  REQUIRE(workspace.size() == 1 + B);  // mu and one gamma per bin

  const stats::FitResult a = stats::fit(region), b = stats::fit(workspace);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  const int poi = workspace.poi();
  INFO("mu_hat: profiled term " << a.x[0] << " +- " << a.error[0] << ", shapesys fitted " << b.x[poi] << " +- " << b.error[poi]);
  REQUIRE(std::abs(a.x[0] - b.x[poi]) < 1e-5);
  // The Hessian error of mu with the factors profiled analytically is the
  // one with them fitted (the profiled Hessian is the Schur complement).
  REQUIRE(std::abs(a.error[0] / b.error[poi] - 1.0) < 1e-4);
  for (double mu : {0.3, 0.8, 1.6, 2.5}) {
    const double ta = 2 * (stats::fit_at(region, 0, mu, a.x).nll - a.nll);
    const double tb = 2 * (stats::fit_at(workspace, poi, mu, b.x).nll - b.nll);
    INFO("mu " << mu << ": t profiled term " << ta << ", shapesys fitted " << tb);
    REQUIRE(std::abs(ta - tb) < 1e-6 * std::max(1.0, tb));
  }
  // The term matters here: without it the interval is narrower.
  Region plain = r;
  plain.mc_stat = false;
  LikelihoodModel lp(s);
  lp.add_region(plain);
  const stats::FitResult c = stats::fit(stats::RegionModel(std::make_shared<const LikelihoodModel>(lp), "plain"));
  INFO("error without the term " << c.error[0]);
  REQUIRE(c.error[0] < 0.95 * a.error[0]);
}

TEST_CASE("Simulated-sample statistics: an unbinned region split into cells has the same likelihood without the term",
          "[likelihood][mcstat]") {
  // The cells only regroup the expected yields: sum_b lambda_b = sum_p N_p Y_p.
  const analytic::GaussianToy one(2000, 8000, 5, analytic::YieldEstimate::kFractions, 0);
  const analytic::GaussianToy ten(2000, 8000, 5, analytic::YieldEstimate::kFractions, 10);
  torch::Generator g1 = make_generator(6), g2 = make_generator(6);
  LikelihoodModel a = one.model(one.pseudo_data(1.2, 0.3, -0.4, g1));
  LikelihoodModel b = ten.model(ten.pseudo_data(1.2, 0.3, -0.4, g2));
  REQUIRE(b.regions()[0].n_bins == 10);
  for (Region& r : b.regions()) r.mc_stat = false;
  Eigen::VectorXd x(3);
  x << 1.1, 0.2, -0.3;
  Eigen::VectorXd ga, gb;
  Eigen::MatrixXd ha, hb;
  const double va = a.evaluate(x, &ga, &ha), vb = b.evaluate(x, &gb, &hb);
  REQUIRE(std::abs(va - vb) < 1e-10 * std::abs(va));
  REQUIRE((ga - gb).norm() < 1e-10 * ga.norm());
  REQUIRE((ha - hb).norm() < 1e-10 * ha.norm());
  // Every event is counted in one cell.
  double sum_obs = 0.0;
  for (double v : b.regions()[0].observed) sum_obs += v;
  REQUIRE(sum_obs == double(b.regions()[0].events.n));
  // The model's yields of the region come per cell (the region binned in
  // the signal fraction), adding up to its total; the data per cell too.
  const stats::RegionModel cells(std::make_shared<const LikelihoodModel>(b), "ten cells");
  const auto yields = cells.expected_yields(x);
  REQUIRE(yields.size() == 2);
  double total = 0.0;
  for (const auto& y : yields) {
    REQUIRE(y.bins.size() == 10);
    for (double v : y.bins) total += v;
  }
  REQUIRE(std::abs(total - b.expected(x)[0][0]) <= 1e-10 * total);
  const auto data = cells.observed_yields();
  REQUIRE(data.size() == 1);
  REQUIRE(data[0].bins == b.regions()[0].observed);
  // Cells of equal share: 0..999 with unit weights in four cells are cut
  // midway between 249 and 250, 499 and 500, 749 and 750; doubling the
  // weights above 500 moves the cuts to equal weight, not equal count.
  torch::Tensor v = torch::arange(1000, torch::kFloat64).flip(0);
  REQUIRE(equal_share_edges(v, torch::ones({1000}, torch::kFloat64), 4) == std::vector<double>{249.5, 499.5, 749.5});
  torch::Tensor w = torch::where(v >= 500, torch::full({1000}, 2.0, torch::kFloat64), torch::ones({1000}, torch::kFloat64));
  REQUIRE(equal_share_edges(v, w, 3) == std::vector<double>{499.5, 749.5});
  REQUIRE(cell_index(torch::tensor({0.0, 499.5, 600.0, 800.0}, torch::kFloat64), {499.5, 749.5}).equal(torch::tensor({0, 1, 1, 2}, torch::kInt64)));
}

TEST_CASE("Simulated-sample statistics restore the coverage that a simulated sample as small as the data breaks (Gaussian toy, 2 x 400 pseudo-experiments)",
          "[likelihood][mcstat][coverage]") {
  // ~1050 observed events; the simulated sample has 1000 background and 50
  // signal events of weight 1, so the expected yields carry statistical
  // errors as large as the data's. Without the term the intervals ignore
  // them and under-cover; with ten cells of the signal fraction they cover.
  const int n = 400;
  if (std::getenv("REFINERY_MCSTAT_SEEDS"))  // the study of docs/htautau.md: six seeds, 10 and 25 cells
    for (uint64_t sd = 1; sd <= 6; ++sd) {
      const Coverage a = gaussian_toy_coverage(n, 50, 1000, 0, sd), b = gaussian_toy_coverage(n, 50, 1000, 10, sd),
                     c = gaussian_toy_coverage(n, 50, 1000, 25, sd);
      WARN("seed " << sd << ": coverage without the term " << a.fraction() << ", 10 cells " << b.fraction()
                   << ", 25 cells " << c.fraction());
    }
  const Coverage without = gaussian_toy_coverage(n, 50, 1000, 0, 71);
  const Coverage with = gaussian_toy_coverage(n, 50, 1000, 10, 71);
  require_term_restores_coverage(without, with, n);
}

TEST_CASE("The learned chain covers with simulated-sample statistics: variation samples, a trained DCR, fits of 2 x 400 pseudo-experiments with nuisances from their priors",
          "[likelihood][mcstat][coverage][dcr]") {
  // Simulate the background's variation samples (nu = +-1, +-2 from the same
  // base draws), train the DCR network on them, and use its coefficients in
  // every fit, on the data and on the simulated sample of the expected
  // yields, as the measurement does. Pseudo-data are exact draws at nu and
  // norm from their priors.
  const analytic::DcrToy variations = analytic::GaussianToy::background_variations();
  DCRTrainingData data = dcr_toy_training_data(variations, 100000, 1.0, 2.0, 17);
  torch::manual_seed(3);
  DCRNetwork net(DCRNetworkOptions(1, 1).hidden({32, 32}));
  DCRTrainOptions opt = refinery::testing::dcr_test_options(8, 100, 4096, 0.85);
  train_dcr(net, data, opt);
  const analytic::DcrCoefficients learned = [&](const torch::Tensor& x) {
    return dcr_coefficients_cache(net, x.view({-1, 1}).to(torch::kFloat32));
  };
  // The network has learned the shift: log r at nu = 1 against the exact
  // 0.2 x - 0.02 for x in [-2, 2].
  const torch::Tensor x = torch::linspace(-2.0, 2.0, 41, torch::kFloat64);
  const torch::Tensor coef = learned(x);
  const double err = (coef.select(1, 0) + coef.select(1, 1) - (0.2 * x - 0.02)).abs().max().item<double>();
  INFO("largest error of the learned log r(x|1) on [-2, 2]: " << err);
  REQUIRE(err < 0.05);  // 0.017 here; log r itself spans -0.42 .. 0.38

  const int n = 400;
  const Coverage without = gaussian_toy_coverage(n, 50, 1000, 0, 72, learned);
  const Coverage with = gaussian_toy_coverage(n, 50, 1000, 10, 72, learned);
  require_term_restores_coverage(without, with, n);
}

TEST_CASE("Thinning the expected-yield sample by the signal fraction keeps its yields, and the same events whatever their order",
          "[mcstat][thinning]") {
  // 100k signal and 100k background events; the background's signal
  // fraction uniform in [0, 0.04), so a quarter of it lies below 0.01.
  const int64_t n = 200000;
  std::mt19937_64 rng(20261204);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  torch::Tensor process = torch::cat({torch::zeros({n / 2}, torch::kInt64), torch::ones({n / 2}, torch::kInt64)});
  torch::Tensor fs = torch::empty({n}, torch::kFloat64);
  for (int64_t i = 0; i < n; ++i) fs[i] = i < n / 2 ? 0.5 * u(rng) : 0.04 * u(rng);
  torch::Tensor events = torch::arange(1, n + 1, torch::kInt64) * 3;  // numbers, not rows
  const std::vector<SignalFractionThinning> rules = {{1, 0.01, 0.25}};
  const ThinningSelection s = select_by_signal_fraction(process, fs, events, rules);

  const torch::Tensor thinned = process.eq(1).logical_and(fs.lt(0.01));
  const int64_t n_thinned = thinned.sum().item<int64_t>();
  const torch::Tensor kept = torch::zeros({n}, torch::kBool).index_fill_(0, s.rows, true);
  // Everything outside the rule is kept at its weight.
  CHECK(kept.logical_or(thinned).all().item<bool>());
  const torch::Tensor factor = torch::ones({n}, torch::kFloat64).index_copy_(0, s.rows, s.weight_factor);
  CHECK(factor.masked_select(thinned.logical_not()).eq(1.0).all().item<bool>());
  CHECK(factor.masked_select(kept.logical_and(thinned)).eq(4.0).all().item<bool>());
  // Independent draws: each kept event's (w / keep)^2 is its variance share.
  CHECK(s.variance_factor.eq(1.0).all().item<bool>());
  // The thinned part's yield (unit weights) is unbiased: Var = n_thinned (1/keep - 1).
  const double yield = factor.masked_select(kept.logical_and(thinned)).sum().item<double>();
  CHECK(n_thinned > 20000);
  CHECK(std::abs(yield - double(n_thinned)) < 4.0 * std::sqrt(3.0 * double(n_thinned)));

  // The decision follows the event number, not the row: reversed rows keep the same events.
  const torch::Tensor flip = torch::arange(n - 1, -1, -1, torch::kInt64);
  const ThinningSelection r = select_by_signal_fraction(process.index_select(0, flip), fs.index_select(0, flip),
                                                        events.index_select(0, flip), rules);
  const torch::Tensor a = std::get<0>(events.index_select(0, s.rows).sort());
  const torch::Tensor b = std::get<0>(events.index_select(0, flip).index_select(0, r.rows).sort());
  CHECK(torch::equal(a, b));
  // keep = 1 keeps every event at its weight.
  const ThinningSelection all = select_by_signal_fraction(process, fs, events, {{1, 0.01, 1.0}});
  CHECK(all.rows.size(0) == n);
  CHECK(all.weight_factor.eq(1.0).all().item<bool>());
}

TEST_CASE("Stratified thinning keeps the share of every region and signal-fraction interval exact to one event",
          "[mcstat][thinning]") {
  // As above, with the events spread over three regions (groups) and one
  // outside them (-1).
  const int64_t n = 200000;
  std::mt19937_64 rng(20261206);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  torch::Tensor process = torch::cat({torch::zeros({n / 2}, torch::kInt64), torch::ones({n / 2}, torch::kInt64)});
  torch::Tensor fs = torch::empty({n}, torch::kFloat64), group = torch::empty({n}, torch::kInt64);
  for (int64_t i = 0; i < n; ++i) {
    fs[i] = i < n / 2 ? 0.5 * u(rng) : 0.04 * u(rng);
    group[i] = int64_t(4 * u(rng)) - 1;
  }
  torch::Tensor events = torch::arange(1, n + 1, torch::kInt64) * 3;
  const double keep = 0.25;
  SignalFractionThinning rule{1, 0.01, keep};
  rule.stratified = true;
  const ThinningSelection s = select_by_signal_fraction(process, fs, events, {rule}, group);
  const torch::Tensor kept = torch::zeros({n}, torch::kBool).index_fill_(0, s.rows, true);
  const torch::Tensor thinned = process.eq(1).logical_and(fs.lt(0.01));
  CHECK(kept.logical_or(thinned).all().item<bool>());
  const torch::Tensor factor = torch::ones({n}, torch::kFloat64).index_copy_(0, s.rows, s.weight_factor);
  CHECK(factor.masked_select(kept.logical_and(thinned)).eq(1.0 / keep).all().item<bool>());
  const torch::Tensor variance = torch::ones({n}, torch::kFloat64).index_copy_(0, s.rows, s.variance_factor);
  CHECK(variance.masked_select(kept.logical_and(thinned)).eq(keep).all().item<bool>());
  CHECK(variance.masked_select(thinned.logical_not()).eq(1.0).all().item<bool>());
  // In every group, the kept count of `eligible` events below each cut of
  // `variable` within one event of `rate` times their number (independent
  // draws scatter it by sqrt(n keep (1 - keep)), about 50).
  auto exact_along = [&](const torch::Tensor& chosen, const torch::Tensor& eligible_events, const torch::Tensor& variable,
                         std::initializer_list<double> cuts, double rate, double at_least) {
    for (int64_t g = -1; g < 3; ++g)
      for (const double cut : cuts) {
        const torch::Tensor cell = eligible_events.logical_and(group.eq(g)).logical_and(variable.lt(cut));
        const double eligible = cell.sum().item<double>(), k = chosen.logical_and(cell).sum().item<double>();
        INFO("group " << g << ", below " << cut << ": " << k << " of " << eligible);
        REQUIRE(eligible > at_least);
        REQUIRE(std::abs(k - rate * eligible) < 1.0);
      }
  };
  // Every region's kept count below each cut of the signal fraction.
  exact_along(kept, thinned, fs, {0.001, 0.0025, 0.005, 0.0075, 0.01}, keep, 300);
  // The simulated-sample statistics of the kept events, one bin per
  // region: with the variance factors, the relative error of each bin's
  // yield is the unthinned sample's, 1 / sqrt(eligible events) (unit
  // weights), since the thinning draws nothing within a stratum; counted as
  // independent draws ((w / keep)^2) it would be 1 / sqrt(keep) = 2 times that.
  {
    const torch::Tensor rows = s.rows.masked_select(thinned.index_select(0, s.rows).logical_and(group.index_select(0, s.rows).ge(0)));
    const int64_t m = rows.size(0);
    const torch::Tensor bin = group.index_select(0, rows);
    const torch::Tensor w = torch::full({m}, 1.0 / keep, torch::kFloat64);
    const torch::Tensor labels = torch::ones({m}, torch::kInt64);
    const torch::Tensor fractions = torch::full({m, 2}, 0.5, torch::kFloat64);
    const torch::Tensor coef = torch::zeros({m, 2, 1}, torch::kFloat32);
    const torch::Tensor v = torch::full({m}, keep, torch::kFloat64);
    const likelihood::Cells exact = likelihood::Cells::from_events(bin, 3, w, labels, fractions, coef, true, v);
    const likelihood::Cells drawn = likelihood::Cells::from_events(bin, 3, w, labels, fractions, coef, true);
    for (int64_t g = 0; g < 3; ++g) {
      const double eligible = thinned.logical_and(group.eq(g)).sum().item<double>();
      INFO("region " << g << ": " << eligible << " eligible events, relative error " << exact.rel_error[size_t(g)]);
      // (the kept count is keep * eligible to one event: 1e-3 covers it)
      CHECK(exact.rel_error[size_t(g)] == Approx(1.0 / std::sqrt(eligible)).epsilon(1e-3));
      CHECK(drawn.rel_error[size_t(g)] == Approx(2.0 / std::sqrt(eligible)).epsilon(1e-3));
    }
  }
  // The same events whatever the rows' order.
  const torch::Tensor flip = torch::arange(n - 1, -1, -1, torch::kInt64);
  const ThinningSelection r = select_by_signal_fraction(process.index_select(0, flip), fs.index_select(0, flip),
                                                        events.index_select(0, flip), {rule}, group.index_select(0, flip));
  CHECK(torch::equal(std::get<0>(events.index_select(0, s.rows).sort()),
                     std::get<0>(events.index_select(0, flip).index_select(0, r.rows).sort())));
  // Without the groups, the stratum is the whole sample: the total exact only.
  const ThinningSelection one = select_by_signal_fraction(process, fs, events, {rule});
  const double total = thinned.sum().item<double>();
  CHECK(std::abs(double(one.rows.size(0) - (n - int64_t(total))) - keep * total) < 1.0);

  // Two rules of the background on disjoint intervals of the signal
  // fraction, [0, 0.01) at 1/4 and [0.01, 0.04) at 1/2: each interval thinned
  // at its own rate, with its own weight and variance factors, and every
  // region's kept count below and above each cut exact to one event.
  SignalFractionThinning upper{1, 0.04, 0.5};
  upper.stratified = true;
  upper.signal_fraction_above = 0.01;
  const ThinningSelection two = select_by_signal_fraction(process, fs, events, {rule, upper}, group);
  const torch::Tensor kept2 = torch::zeros({n}, torch::kBool).index_fill_(0, two.rows, true);
  const torch::Tensor factor2 = torch::ones({n}, torch::kFloat64).index_copy_(0, two.rows, two.weight_factor);
  const torch::Tensor variance2 = torch::ones({n}, torch::kFloat64).index_copy_(0, two.rows, two.variance_factor);
  const torch::Tensor background = process.eq(1);
  CHECK(kept2.logical_or(background).all().item<bool>());
  const torch::Tensor low = background.logical_and(fs.lt(0.01)), high = background.logical_and(fs.ge(0.01));
  CHECK(factor2.masked_select(kept2.logical_and(low)).eq(4.0).all().item<bool>());
  CHECK(factor2.masked_select(kept2.logical_and(high)).eq(2.0).all().item<bool>());
  CHECK(variance2.masked_select(kept2.logical_and(high)).eq(0.5).all().item<bool>());
  // The lower rule's choice is the one-rule choice: the upper rule leaves it alone.
  CHECK(torch::equal(kept2.logical_and(low), kept.logical_and(low)));
  exact_along(kept2, high, fs, {0.015, 0.02, 0.03, 0.04}, 0.5, 300);

  // An order within the groups (a region's binning variable, here uniform
  // and independent of the signal fraction): the kept count of every
  // interval of it in every group exact to one event, for each rule (the
  // signal fraction's intervals are then no longer exact).
  torch::Tensor binning = torch::empty({n}, torch::kFloat64);
  for (int64_t i = 0; i < n; ++i) binning[i] = u(rng);
  const ThinningSelection along = select_by_signal_fraction(process, fs, events, {rule, upper}, group, binning);
  const torch::Tensor kept3 = torch::zeros({n}, torch::kBool).index_fill_(0, along.rows, true);
  exact_along(kept3, low, binning, {0.1, 0.25, 0.5, 0.75, 1.0}, keep, 100);
  exact_along(kept3, high, binning, {0.1, 0.25, 0.5, 0.75, 1.0}, 0.5, 100);
  // The same events whatever the rows' order.
  const ThinningSelection along_flipped =
      select_by_signal_fraction(process.index_select(0, flip), fs.index_select(0, flip), events.index_select(0, flip),
                                {rule, upper}, group.index_select(0, flip), binning.index_select(0, flip));
  CHECK(torch::equal(std::get<0>(events.index_select(0, along.rows).sort()),
                     std::get<0>(events.index_select(0, flip).index_select(0, along_flipped.rows).sort())));
}

TEST_CASE("Stratified thinning along further features: the response sums over the kept events draw far less",
          "[mcstat][thinning]") {
  // One background, thinned at 1/16 in one region, ordered by the region's
  // variable b (uniform) alone or, with stratify_features, by the Morton
  // order of b and a feature x (standard normal, independent of b). What a
  // nuisance's response makes of the kept events, sum_kept r(x) / keep
  // with r = exp(0.2 x) (a DCR of 20% per unit of x), scatters over event
  // samples by the thinning's draw: about sqrt((1 - keep) / (keep n))
  // sd(r) / mean(r) alone, far less when the order spreads the kept events
  // along x too. 16 samples of 100k events each.
  const int64_t n = 100000;
  const double keep = 1.0 / 16.0;
  SignalFractionThinning rule{0, 0.5, keep};
  rule.stratified = true;
  double sum_plain = 0.0, sum_spread = 0.0, worst_count = 0.0;
  const int samples = 16;
  for (int k = 0; k < samples; ++k) {
    torch::manual_seed(1000 + k);
    const torch::Tensor b = torch::rand({n}, torch::kFloat64), x = torch::randn({n}, torch::kFloat64);
    const torch::Tensor process = torch::zeros({n}, torch::kInt64), fs = torch::full({n}, 0.1, torch::kFloat64);
    const torch::Tensor events = torch::arange(n, torch::kInt64) + int64_t(k) * n;
    const torch::Tensor group = torch::zeros({n}, torch::kInt64);
    const torch::Tensor r = (0.2 * x).exp();
    const double full = r.sum().item<double>();
    auto error = [&](const torch::Tensor& order) {
      const ThinningSelection s = select_by_signal_fraction(process, fs, events, {rule}, group, order);
      return (r.index_select(0, s.rows) * s.weight_factor).sum().item<double>() / full - 1.0;
    };
    const torch::Tensor spread = stratified_order(b, torch::ones({n}, torch::kBool), x.unsqueeze(1));
    const double e_plain = error(b), e_spread = error(spread);
    sum_plain += e_plain * e_plain;
    sum_spread += e_spread * e_spread;
    // The region's variable keeps its intervals' shares nearly exact.
    const ThinningSelection s = select_by_signal_fraction(process, fs, events, {rule}, group, spread);
    const torch::Tensor kept_b = b.index_select(0, s.rows);
    for (const double cut : {0.25, 0.5, 0.75, 0.9}) {
      const double kept = kept_b.lt(cut).sum().item<double>(), all = b.lt(cut).sum().item<double>();
      worst_count = std::max(worst_count, std::abs(kept - keep * all));
    }
  }
  const double rms_plain = std::sqrt(sum_plain / samples), rms_spread = std::sqrt(sum_spread / samples);
  const double expected = std::sqrt((1.0 - keep) / (keep * n)) * std::sqrt(std::exp(0.04) - 1.0);
  INFO("rms relative error of the response sum: " << rms_plain << " along b alone (expected " << expected << "), "
                                                   << rms_spread << " along b and x; worst count " << worst_count);
  // Along b alone: the independent draw's size (16 samples: within a factor 1.6).
  CHECK(rms_plain > expected / 1.6);
  CHECK(rms_plain < expected * 1.6);
  CHECK(rms_spread < 0.2 * rms_plain);
  CHECK(worst_count < 10.0);
}
