// Toy-based hypothesis tests (src/stats/toy_calculator.h, `refinery hypotest
// --calculator toybased`): CLs+b, CLb, CLs and p0 against the exact sums of
// Poisson probabilities on a one-bin counting model with a known background
// (where the test statistic is a decreasing function of the count, so
// "q >= q_obs" is "n <= n_obs"); against the asymptotic formulae at high
// counts with a constrained nuisance; shards and threads give the same
// toys; failed toys are counted, not used; the command's shards merge into
// the unsharded result and bad merges are refused.
#include "tests/testing.hpp"

#include <cmath>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "src/core/worker_threads.h"
#include "src/histfactory/hf_model.h"
#include "src/histfactory/workspace.h"
#include "src/stats/hypotest.h"
#include "src/stats/toy_calculator.h"
#include "src/stats/workspace_model.h"

using namespace refinery;
using nlohmann::json;

namespace {

// n ~ Poisson(mu s + b): signal s with the normfactor mu, background b known.
json counting_doc(double s, double b, double n) {
  json doc = json::parse(R"({"version": "1.0.0",
    "channels": [{"name": "sr", "samples": [
      {"name": "signal", "data": [0], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "background", "data": [0], "modifiers": []}]}],
    "observations": [{"name": "sr", "data": [0]}],
    "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}]})");
  doc["channels"][0]["samples"][0]["data"][0] = s;
  doc["channels"][0]["samples"][1]["data"][0] = b;
  doc["observations"][0]["data"][0] = n;
  return doc;
}

stats::WorkspaceModel model_of(const json& doc) {
  return stats::WorkspaceModel(histfactory::HistFactoryModel(histfactory::Workspace::from_json(doc, "toy_test.json")));
}

// P(N <= n) for N ~ Poisson(lambda), summed in logs.
double poisson_cdf(int n, double lambda) {
  double sum = 0.0;
  for (int k = 0; k <= n; ++k) sum += std::exp(k * std::log(lambda) - lambda - std::lgamma(k + 1.0));
  return sum;
}

stats::ToyOptions toys(std::int64_t n, std::uint64_t seed) {
  stats::ToyOptions o;
  o.ntoys = n;
  o.seed = seed;
  return o;
}

}  // namespace

TEST_CASE("Toy CLs: equals the exact Poisson sums on a one-bin counting model", "[toys][hypotest]") {
  set_worker_threads(2);
  struct Case {
    double s, b;
    int n;
    double mu;
  };
  // Small counts, where the asymptotic formulae are off by 30-50%.
  for (const Case& c : {Case{6, 5, 4, 1.0}, Case{3, 2, 1, 1.5}, Case{10, 8, 9, 0.8}}) {
    INFO("s " << c.s << " b " << c.b << " n " << c.n << " mu " << c.mu);
    const stats::WorkspaceModel m = model_of(counting_doc(c.s, c.b, c.n));
    stats::ToyCalculator calc(m, m.poi(), stats::TestStat::kQtilde);
    const stats::ToyHypotestResult r = calc.hypotest(c.mu, toys(20000, 11));
    REQUIRE(r.converged);
    REQUIRE(r.null.failed() == 0);
    REQUIRE(r.alt.failed() == 0);
    const double clsb = poisson_cdf(c.n, c.mu * c.s + c.b), clb = poisson_cdf(c.n, c.b);
    CHECK(std::abs(r.p.clsb - clsb) < 3 * r.p.clsb_error);
    CHECK(std::abs(r.p.clb - clb) < 3 * r.p.clb_error);
    CHECK(std::abs(r.p.cls - clsb / clb) < 3 * r.p.cls_error);
    // The errors are the binomial ones of 20000 toys.
    CHECK(r.p.clsb_error == Approx(std::sqrt(clsb * (1 - clsb) / 20000)).epsilon(0.1));
  }
  // p0 with q0: P(N >= n_obs | b), the excess counted from the background.
  const stats::WorkspaceModel m = model_of(counting_doc(6, 5, 11));
  stats::ToyCalculator calc(m, m.poi(), stats::TestStat::kQ0);
  const stats::ToyHypotestResult r = calc.hypotest(1.0, toys(20000, 12));
  REQUIRE(r.converged);
  const double p0 = 1.0 - poisson_cdf(10, 5.0);
  CHECK(std::abs(r.p.clsb - p0) < 3 * r.p.clsb_error);
  CHECK(r.p.clb == 1.0);
  // The signal toys (mu = 1: N ~ Poisson(11)) have their median at n = 11,
  // whose p0 is the observed one.
  CHECK(r.p.expected[2] == Approx(r.p.clsb).margin(1e-12));
}

TEST_CASE("Toy CLs: agrees with the asymptotic formulae at high counts with a constrained nuisance", "[toys][hypotest]") {
  set_worker_threads(2);
  const json doc = json::parse(R"({"version": "1.0.0",
    "channels": [{"name": "sr", "samples": [
      {"name": "signal", "data": [40, 30], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "background", "data": [800, 400],
       "modifiers": [{"name": "bkg_unc", "type": "normsys", "data": {"hi": 1.03, "lo": 0.97}}]}]}],
    "observations": [{"name": "sr", "data": [810, 395]}],
    "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}]})");
  const stats::WorkspaceModel m = model_of(doc);
  for (double mu : {0.7, 1.2}) {
    INFO("mu " << mu);
    stats::AsymptoticCalculator asym(m, m.poi(), stats::TestStat::kQtilde);
    const stats::HypotestResult a = asym.hypotest(mu);
    stats::ToyCalculator calc(m, m.poi(), stats::TestStat::kQtilde);
    const stats::ToyHypotestResult t = calc.hypotest(mu, toys(4000, 5));
    REQUIRE(t.converged);
    CHECK(t.q_obs == Approx(a.q_obs).epsilon(1e-6));
    CHECK(std::abs(t.p.cls - a.cls) < 3 * t.p.cls_error);
    CHECK(std::abs(t.p.clb - a.clb) < 3 * t.p.clb_error);
    // The expected median: a quantile of 4000 toys, within a few per cent.
    CHECK(t.p.expected[2] == Approx(a.cls_exp[2]).epsilon(0.15));
  }
}

TEST_CASE("Toy CLs: shards and threads draw the same toys, and failed toys are counted, not used", "[toys][hypotest]") {
  const stats::WorkspaceModel m = model_of(counting_doc(6, 5, 4));
  set_worker_threads(1);
  stats::ToyCalculator calc(m, m.poi(), stats::TestStat::kQtilde);
  const stats::ToyHypotestResult all = calc.hypotest(1.0, toys(300, 7));
  set_worker_threads(2);
  stats::ToySample joined = all.null;
  for (int shard = 0; shard < 3; ++shard) {
    stats::ToyOptions o = toys(300, 7);
    o.shard = shard;
    o.shards = 3;
    const stats::ToyHypotestResult part = calc.hypotest(1.0, o);
    REQUIRE(part.null.index.size() == 100);
    for (std::size_t k = 0; k < part.null.index.size(); ++k) {
      REQUIRE(part.null.index[k] % 3 == shard);
      CHECK(part.null.q[k] == all.null.q[part.null.index[k]]);
      CHECK(part.alt.q[k] == all.alt.q[part.alt.index[k]]);
    }
  }
  // Another seed draws other toys.
  const stats::ToyHypotestResult other = calc.hypotest(1.0, toys(300, 8));
  int same = 0;
  for (std::size_t k = 0; k < 300; ++k) same += other.alt.q[k] == all.alt.q[k];
  CHECK(same < 150);
  // A failed toy (q NaN) is left out of the p-values and counted.
  stats::ToySample null = all.null, alt = all.alt;
  const stats::ToyPValues before = stats::toy_pvalues(all.q_obs, null, alt, stats::TestStat::kQtilde);
  CHECK(before.clsb == all.p.clsb);
  null.q[0] = std::numeric_limits<double>::quiet_NaN();
  null.reason[0] = "free fit: test";
  CHECK(null.failed() == 1);
  CHECK(null.valid().size() == 299);
  const stats::ToyPValues after = stats::toy_pvalues(all.q_obs, null, alt, stats::TestStat::kQtilde);
  const double kept = all.null.q[0] >= all.q_obs - 1e-6 ? 1.0 : 0.0;
  CHECK(after.clsb == Approx((before.clsb * 300 - kept) / 299).epsilon(1e-12));
}

TEST_CASE("Toy CLs CLI: a toy-based hypotest shards, merges into the unsharded result and refuses bad merges", "[toys][hypotest][cli]") {
  using refinery::testing::run_refinery;
  refinery::testing::TempDir tmp("toy_hypotest");
  const std::string ws = tmp.path("count.json");
  {
    std::ofstream f(ws);
    f << counting_doc(6, 5, 4).dump();
  }
  const std::string base = "hypotest " + ws + " --calculator toybased --ntoys 400 --seed 9 --quiet ";
  auto r = run_refinery(base + "--out " + tmp.path("all.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const json all = json::parse(refinery::testing::read_file(tmp.path("all.json")));
  CHECK(all["calculator"] == "toybased");
  CHECK(all["toys"]["null"]["n"] == 400);
  CHECK(all["toys"]["null"]["failed"] == 0);
  CHECK(all["toys"]["null"]["generated_at"]["mu"] == 1.0);
  CHECK(all["cls_obs"].get<double>() > 0.0);
  CHECK(all["cls_obs_error"].get<double>() > 0.0);
  for (const char* shard : {"0/2", "1/2"})
    REQUIRE(run_refinery(base + "--shard " + shard + " --out " + tmp.path(std::string("s") + shard[0] + ".json"))
                .exit_code == 0);
  r = run_refinery("hypotest --merge " + tmp.path("s0.json") + " " + tmp.path("s1.json") + " --quiet --out " +
                   tmp.path("m.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const json merged = json::parse(refinery::testing::read_file(tmp.path("m.json")));
  for (const char* key : {"cls_obs", "clsb_obs", "clb_obs", "cls_obs_error", "cls_exp", "q_obs"})
    CHECK(merged[key] == all[key]);
  CHECK(merged["toys"]["null"]["q"] == all["toys"]["null"]["q"]);
  // A missing shard, a shard given twice, a shard of another tested value.
  r = run_refinery("hypotest --merge " + tmp.path("s0.json"));
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("shard 1/2 is missing") != std::string::npos);
  r = run_refinery("hypotest --merge " + tmp.path("s0.json") + " " + tmp.path("s0.json"));
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("shard 0/2 is given twice") != std::string::npos);
  REQUIRE(run_refinery(base + "--mu 1.5 --shard 1/2 --out " + tmp.path("o1.json")).exit_code == 0);
  r = run_refinery("hypotest --merge " + tmp.path("s0.json") + " " + tmp.path("o1.json"));
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("o1.json: toys.mu: differs from") != std::string::npos);
  // A toy-based limit on the scan: the exact limit solves CLs(mu) =
  // P(N <= 4 | 6 mu + 5) / P(N <= 4 | 5) = 0.05 (mu = 0.9058); the toys'
  // error on it is CLs's error over the slope of CLs at the crossing.
  r = run_refinery("limit " + ws + " --calculator toybased --scan 0.5:1.5:21 --ntoys 4000 --seed 3 --quiet --out " +
                   tmp.path("limit.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const json lim = json::parse(refinery::testing::read_file(tmp.path("limit.json")));
  double lo = 0.0, hi = 3.0;
  for (int it = 0; it < 100; ++it) {
    const double m = 0.5 * (lo + hi);
    (poisson_cdf(4, 6 * m + 5) / poisson_cdf(4, 5) > 0.05 ? lo : hi) = m;
  }
  const double limit = lim["upper_limit_obs"].get<double>();
  const json& scan = lim["scan"];
  std::size_t k = 1;
  while (k < scan.size() && scan[k]["mu"].get<double>() < limit) ++k;
  REQUIRE(k < scan.size());
  const double slope = (scan[k]["cls_obs"].get<double>() - scan[k - 1]["cls_obs"].get<double>()) /
                       (scan[k]["mu"].get<double>() - scan[k - 1]["mu"].get<double>());
  const double sigma = scan[k]["cls_obs_error"].get<double>() / std::abs(slope);
  INFO("toy limit " << limit << " exact " << lo << " sigma " << sigma);
  CHECK(std::abs(limit - lo) < 3 * sigma);
  CHECK(sigma < 0.1);
  CHECK(lim["upper_limit_exp"].size() == 5);
  r = run_refinery("limit " + ws + " --calculator toybased");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--calculator: a toy-based limit is read off a scan") != std::string::npos);
  // Toy options without the toy calculator, an unknown calculator.
  r = run_refinery("hypotest " + ws + " --ntoys 10");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--ntoys: needs --calculator toybased") != std::string::npos);
  r = run_refinery("hypotest " + ws + " --calculator frequentist");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--calculator: unknown calculator 'frequentist'") != std::string::npos);
}
