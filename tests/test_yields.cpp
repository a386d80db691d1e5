// Expected yields with errors (src/stats/yields.h, `refinery yields`):
// pre- and post-fit yields against pyhf's expected_data (tests/data/pyhf/
// refs_expected.json, pyhf 0.7.6), errors against the analytic error of a
// one-bin model, against sampling the parameters from the covariance, and
// the totals' correlations (not summed in quadrature).
#include "tests/testing.hpp"

#include <cmath>
#include <iomanip>
#include <map>

#include <nlohmann/json.hpp>

#include "data/random.h"
#include "src/histfactory/hf_model.h"
#include "src/histfactory/workspace.h"
#include "src/stats/fit.h"
#include "src/stats/workspace_model.h"
#include "src/stats/yields.h"

using namespace refinery;
using nlohmann::json;

namespace {

std::string pyhf_dir() { return refinery::testing::source_path("tests/data/pyhf"); }

// The region totals per bin, by region.
std::map<std::string, std::vector<double>> totals(const std::vector<stats::YieldWithError>& yields) {
  std::map<std::string, std::vector<double>> out;
  for (const auto& y : yields)
    if (y.process == "total") out[y.region] = y.bins;
  return out;
}

// One bin, two samples (30 and 70) sharing one staterror factor (errors 6
// and 8: delta = 10 / 100), 120 observed; no POI (a background-only model).
stats::WorkspaceModel one_bin_staterror() {
  auto sample = [](const std::string& name, double n, double err) {
    return json{{"name", name},
                {"data", {n}},
                {"modifiers", {{{"name", "mc_stat"}, {"type", "staterror"}, {"data", {err}}}}}};
  };
  const json doc = {{"version", "1.0.0"},
                    {"channels", {{{"name", "sr"}, {"samples", {sample("a", 30, 6), sample("b", 70, 8)}}}}},
                    {"observations", {{{"name", "sr"}, {"data", {120.0}}}}},
                    {"measurements", {{{"name", "m"}, {"config", {{"poi", "mu"}, {"parameters", json::array()}}}}}}};
  return stats::WorkspaceModel(histfactory::HistFactoryModel(histfactory::Workspace::from_json(doc, "one_bin.json")));
}

}  // namespace

TEST_CASE("Yields: pre- and post-fit expected counts equal pyhf's expected_data", "[yields][pyhf]") {
  const json refs = json::parse(refinery::testing::read_file(pyhf_dir() + "/refs_expected.json"));
  int compared = 0;
  for (const auto& [name, c] : refs["cases"].items()) {
    INFO(name);
    const auto files = c["files"].get<std::vector<std::string>>();
    std::vector<std::string> patches;
    for (size_t k = 1; k < files.size(); ++k) patches.push_back(pyhf_dir() + "/" + files[k]);
    const stats::WorkspaceModel model(
        histfactory::HistFactoryModel(histfactory::Workspace::load(pyhf_dir() + "/" + files[0], patches)));
    const auto pre = totals(stats::yields_with_errors(model, model.init(), stats::prefit_covariance(model)));
    // pyhf's best fit, by parameter name: its expected data there are the
    // post-fit reference, to the same precision as the pre-fit.
    Eigen::VectorXd best = model.init();
    const auto names = c["parameters"].get<std::vector<std::string>>();
    for (size_t k = 0; k < names.size(); ++k) {
      const int i = model.index(names[k]);
      REQUIRE(i >= 0);
      best[i] = c["bestfit"][k].get<double>();
    }
    const auto at_best = totals(stats::yields_with_errors(model, best, stats::prefit_covariance(model)));
    // Our own fit ends at an NLL no higher than pyhf's. Its post-fit yields
    // agree to 1e-5 relative on the small workspaces; on the ATLAS one the
    // NLL is flat to 1e-7 between the two best fits, and they agree to 1% of
    // the post-fit error (3e-5 relative).
    const stats::FitResult f = stats::fit(model);
    REQUIRE(f.ok());
    const double nll_pyhf = model.nll(best);
    INFO("NLL at the best fit: refinery " << std::setprecision(12) << f.nll << ", at pyhf's " << nll_pyhf);
    REQUIRE(f.nll <= nll_pyhf + 1e-7);
    const bool atlas = name.rfind("atlas", 0) == 0;
    const auto post_yields = stats::yields_with_errors(model, f.x, f.covariance);
    const auto post = totals(post_yields);
    std::map<std::string, std::vector<double>> post_error;
    for (const auto& y : post_yields)
      if (y.process == "total") post_error[y.region] = y.errors;
    for (const auto& [channel, expected] : c["expected_prefit"].items()) {
      INFO(channel);
      REQUIRE(pre.count(channel));
      const auto want_pre = expected.get<std::vector<double>>();
      const auto want_post = c["expected_postfit"][channel].get<std::vector<double>>();
      REQUIRE(pre.at(channel).size() == want_pre.size());
      for (size_t b = 0; b < want_pre.size(); ++b) {
        INFO("bin " << b << ": pre-fit " << pre.at(channel)[b] << " pyhf " << want_pre[b] << "; at pyhf's best fit "
                    << at_best.at(channel)[b] << ", post-fit " << post.at(channel)[b] << " pyhf " << want_post[b]);
        CHECK(std::abs(pre.at(channel)[b] - want_pre[b]) <= 1e-9 * std::max(1.0, std::abs(want_pre[b])));
        CHECK(std::abs(at_best.at(channel)[b] - want_post[b]) <= 1e-9 * std::max(1.0, std::abs(want_post[b])));
        const double tolerance = atlas ? 0.01 * post_error.at(channel)[b] : 1e-5 * std::max(1.0, std::abs(want_post[b]));
        CHECK(std::abs(post.at(channel)[b] - want_post[b]) <= tolerance);
        ++compared;
      }
    }
  }
  REQUIRE(compared >= 12);
}

TEST_CASE("Yields: errors are the analytic ones on a one-bin model, and totals keep the correlations", "[yields]") {
  const stats::WorkspaceModel model = one_bin_staterror();
  // Pre-fit: the factor gamma has width 0.1: a = 30 +- 3, b = 70 +- 7, and
  // the total 100 +- 10, fully correlated (in quadrature it would be 7.6).
  const auto pre = stats::yields_with_errors(model, model.init(), stats::prefit_covariance(model));
  REQUIRE(pre.size() == 3);
  CHECK(pre[0].process == "a");
  CHECK(pre[0].total == Approx(30.0).epsilon(1e-12));
  CHECK(pre[0].total_error == Approx(3.0).epsilon(1e-6));
  CHECK(pre[1].total_error == Approx(7.0).epsilon(1e-6));
  CHECK(pre[2].process == "total");
  CHECK(pre[2].total == Approx(100.0).epsilon(1e-12));
  CHECK(pre[2].total_error == Approx(10.0).epsilon(1e-6));
  // Post-fit with 120 observed: -log L = 100 g - 120 log(100 g) + (g - 1)^2 /
  // (2 0.01) has its minimum at g^2 = 1.2 and curvature 120 / g^2 + 100 =
  // 200: the total 100 sqrt(1.2) +- 100 / sqrt(200).
  const stats::FitResult f = stats::fit(model);
  REQUIRE(f.ok());
  const auto post = stats::yields_with_errors(model, f.x, f.covariance);
  CHECK(post[2].total == Approx(100.0 * std::sqrt(1.2)).epsilon(1e-7));
  CHECK(post[2].total_error == Approx(100.0 / std::sqrt(200.0)).epsilon(1e-5));
  const auto data = model.observed_yields();
  REQUIRE(data.size() == 1);
  CHECK(data[0].bins == std::vector<double>{120.0});
}

TEST_CASE("Yields: post-fit errors agree with sampling the parameters from the covariance", "[yields]") {
  for (const std::string name : {"sr_cr_coupled.json", "threebin_histosys_staterror.json"}) {
    INFO(name);
    const stats::WorkspaceModel model(histfactory::HistFactoryModel(
        histfactory::Workspace::load(pyhf_dir() + "/workspaces/" + name)));
    const stats::FitResult f = stats::fit(model);
    REQUIRE(f.ok());
    REQUIRE(f.covariance_ok);
    const auto post = stats::yields_with_errors(model, f.x, f.covariance);
    // 4000 parameter points from N(x_hat, C): the spread of each region's
    // total (1.1% statistical precision on a standard deviation).
    const Eigen::MatrixXd L = f.covariance.llt().matrixL();
    std::mt19937_64 rng(17);
    std::normal_distribution<double> z;
    std::map<std::string, std::pair<double, double>> sum;  // region -> (sum, sum of squares)
    const int n = 4000;
    for (int k = 0; k < n; ++k) {
      Eigen::VectorXd u(model.size());
      for (int i = 0; i < u.size(); ++i) u[i] = z(rng);
      std::map<std::string, double> t;
      for (const auto& y : model.expected_yields(f.x + L * u))
        for (double v : y.bins) t[y.region] += v;
      for (const auto& [region, v] : t) {
        sum[region].first += v;
        sum[region].second += v * v;
      }
    }
    for (const auto& y : post) {
      if (y.process != "total") continue;
      const double mean = sum[y.region].first / n;
      const double sd = std::sqrt(sum[y.region].second / n - mean * mean);
      INFO(y.region << ": propagated " << y.total_error << ", sampled " << sd);
      CHECK(std::abs(y.total_error / sd - 1.0) < 0.05);
    }
  }
}

TEST_CASE("Yields CLI: a table and JSON with pre-fit, post-fit and data", "[yields][cli]") {
  using refinery::testing::run_refinery;
  const std::string ws = pyhf_dir() + "/workspaces/sr_cr_coupled.json";
  auto r = run_refinery("yields " + ws + " --json");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.output);
  REQUIRE(j["prefit"].size() == j["postfit"].size());
  REQUIRE(j["fit"]["status"] == "converged");
  std::map<std::string, double> data;
  for (const auto& d : j["data"]) data[d["region"]] = d["bins"][0].get<double>() + d["bins"][1].get<double>();
  REQUIRE(data.size() == 2);
  int region_totals = 0;
  for (const auto& y : j["postfit"]) {
    REQUIRE(y["errors"].size() == y["bins"].size());
    if (y["process"] == "total") ++region_totals;
  }
  REQUIRE(region_totals == 2);
  r = run_refinery("yields " + ws);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.output.find("post-fit") != std::string::npos);
  REQUIRE(r.output.find("total") != std::string::npos);
  r = run_refinery("yields " + ws + " --prefit-only --json");
  REQUIRE(r.exit_code == 0);
  REQUIRE(!json::parse(r.output).contains("postfit"));
  // Binning in a feature is for an experiment's unbinned regions.
  r = run_refinery("yields " + ws + " --variable x --edges 0,1");
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.output.find("--variable: bins an experiment's unbinned regions") != std::string::npos);
}
