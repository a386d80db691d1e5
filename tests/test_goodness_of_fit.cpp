// Goodness of fit (src/stats/goodness_of_fit.h, `refinery gof`): the
// saturated-model statistic equals -2 log of the likelihood ratio of the
// best fit to the saturated model, computed from the model's own NLL, on
// workspaces with Gaussian (normsys, histosys, staterror, lumi) and Poisson
// (shapesys) constraints; by hand on a two-bin model; at high counts its
// toy distribution has the chi-square mean (bins - free parameters); the
// command writes the statistic, per-region and total p-values, and refuses
// bad options.
#include "tests/testing.hpp"

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "src/core/worker_threads.h"
#include "src/histfactory/hf_model.h"
#include "src/histfactory/workspace.h"
#include "src/stats/goodness_of_fit.h"
#include "src/stats/workspace_model.h"

using namespace refinery;
using nlohmann::json;

namespace {

stats::WorkspaceModel model_of(const json& doc, const std::string& name = "gof_test.json") {
  return stats::WorkspaceModel(histfactory::HistFactoryModel(histfactory::Workspace::from_json(doc, name)));
}

json read_workspace(const std::string& name) {
  return json::parse(refinery::testing::read_file(refinery::testing::source_path("tests/data/pyhf/workspaces/" + name)));
}

// -log L of the saturated model: every bin's expectation at its count, every
// constraint at the value its auxiliary datum prefers.
double saturated_nll(const stats::Model& m) {
  double nll = 0.0;
  for (const auto& d : m.observed_yields())
    for (double n : d.bins) nll += n > 0 ? n - n * std::log(n) + std::lgamma(n + 1.0) : 0.0;
  for (const auto& p : m.parameters()) {
    if (p.fixed || p.constraint == stats::Constraint::kNone) continue;
    const double mode = p.constraint == stats::Constraint::kPoisson ? p.aux / p.width : p.aux;
    nll += stats::constraint_nll(p.constraint, mode, p.aux, p.width).value;
  }
  return nll;
}

}  // namespace

TEST_CASE("GoF: the saturated statistic is -2 log of the likelihood ratio to the saturated model", "[gof]") {
  for (const std::string name : {"sr_cr_coupled.json", "threebin_histosys_staterror.json", "twobin_lumi_multi.json",
                                 "twobin_shapesys.json", "pyhf_docs_2bin_1channel.json"}) {
    INFO(name);
    const stats::WorkspaceModel m = model_of(read_workspace(name), name);
    const stats::FitResult f = stats::fit(m);
    REQUIRE(f.ok());
    const stats::GofStatistic s = stats::saturated_statistic(m, f.x);
    const double expected = 2.0 * (m.nll(f.x) - saturated_nll(m));
    CHECK(s.total == Approx(expected).epsilon(1e-9).margin(1e-9));
    CHECK(s.total >= 0.0);
    double regions = 0.0;
    for (double q : s.region_q) regions += q;
    CHECK(s.total == Approx(regions + s.constraint_q).epsilon(1e-12));
  }
  // By hand: signal 10 and 20 scaled by mu over no background, 12 and 25
  // observed: mu_hat = 37/30 and q = 2 sum [nu - n + n log(n / nu)].
  const json doc = json::parse(R"({"version": "1.0.0",
    "channels": [{"name": "sr", "samples": [
      {"name": "signal", "data": [10, 20], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]}]}],
    "observations": [{"name": "sr", "data": [12, 25]}],
    "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}]})");
  const stats::WorkspaceModel m = model_of(doc);
  const stats::FitResult f = stats::fit(m);
  REQUIRE(f.ok());
  CHECK(f.x[0] == Approx(37.0 / 30.0).epsilon(1e-9));
  const double mu = 37.0 / 30.0;
  const double q = 2 * (10 * mu - 12 + 12 * std::log(12 / (10 * mu))) + 2 * (20 * mu - 25 + 25 * std::log(25 / (20 * mu)));
  const stats::GofStatistic s = stats::saturated_statistic(m, f.x);
  CHECK(s.total == Approx(q).epsilon(1e-9));
  CHECK(s.constraint_q == 0.0);
}

TEST_CASE("GoF: at high counts the toys' statistic has the chi-square mean, and the p-values are the toys'", "[gof]") {
  set_worker_threads(2);
  // Ten bins of ~1000 events, a free normalisation and a constrained
  // normsys: ndf = 10 - 1 (the normsys' parameter and its auxiliary datum
  // cancel), so E[q] = 9 and sd(q) = sqrt(18).
  json doc = json::parse(R"({"version": "1.0.0",
    "channels": [{"name": "sr", "samples": [
      {"name": "signal", "data": [], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "background", "data": [],
       "modifiers": [{"name": "shape", "type": "normsys", "data": {"hi": 1.05, "lo": 0.95}}]}]}],
    "observations": [{"name": "sr", "data": []}],
    "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": [{"name": "mu", "bounds": [[-5, 10]]}]}}]})");
  for (int b = 0; b < 10; ++b) {
    doc["channels"][0]["samples"][0]["data"].push_back(100.0 + 10 * b);
    doc["channels"][0]["samples"][1]["data"].push_back(1000.0 - 30 * b);
    doc["observations"][0]["data"].push_back(std::round(1100.0 - 20 * b + 40 * std::sin(b)));
  }
  const stats::WorkspaceModel m = model_of(doc);
  const int ntoys = 2000;
  const stats::GofResult g = stats::goodness_of_fit(m, ntoys, 17);
  REQUIRE(g.ok());
  REQUIRE(g.failures.empty());
  double mean = 0.0;
  for (double q : g.toy_total) mean += q / ntoys;
  CHECK(std::abs(mean - 9.0) < 3 * std::sqrt(18.0 / ntoys));
  // The p-value is the fraction of toys at or above the observation.
  int above = 0;
  for (double q : g.toy_total) above += q >= g.observed.total;
  CHECK(g.p_value == Approx(double(above) / ntoys).epsilon(1e-12));
  CHECK(g.p_error == Approx(std::sqrt(g.p_value * (1 - g.p_value) / ntoys)).epsilon(1e-12));
  // One region: its p-value is the total's less the constraint part.
  REQUIRE(g.region_p.size() == 1);
  CHECK(g.observed.region_q[0] == Approx(g.observed.total - g.observed.constraint_q).epsilon(1e-12));
  // The same seed gives the same toys on one thread.
  set_worker_threads(1);
  const stats::GofResult again = stats::goodness_of_fit(m, 50, 17);
  for (int i = 0; i < 50; ++i) CHECK(again.toy_total[i] == g.toy_total[i]);
}

TEST_CASE("GoF CLI: statistic, per-region and total p-values as JSON and a table, bad options refused", "[gof][cli]") {
  using refinery::testing::run_refinery;
  refinery::testing::TempDir tmp("gof");
  const std::string ws = refinery::testing::source_path("tests/data/pyhf/workspaces/sr_cr_coupled.json");
  auto r = run_refinery("gof " + ws + " --ntoys 200 --seed 4 --out " + tmp.path("gof.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("goodness of fit (saturated model), 200 pseudo-experiments") != std::string::npos);
  const json j = json::parse(refinery::testing::read_file(tmp.path("gof.json")));
  const json& g = j["gof"];
  CHECK(g["statistic"] == "saturated");
  CHECK(g["ntoys"] == 200);
  CHECK(g["toys"]["q"].size() == 200);
  CHECK(g["regions"].size() == 2);
  double p = g["p_value"].get<double>();
  CHECK(p >= 0.0);
  CHECK(p <= 1.0);
  int above = 0;
  for (const auto& q : g["toys"]["q"]) above += q.get<double>() >= g["q_obs"].get<double>();
  CHECK(p == Approx(above / 200.0).epsilon(1e-12));
  r = run_refinery("gof " + ws + " --ntoys -3");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--ntoys: must lie in 0..1e8") != std::string::npos);
  r = run_refinery("gof " + tmp.path("missing.json"));
  CHECK(r.exit_code == 2);
}
