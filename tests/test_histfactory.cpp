// HistFactory workspaces against pyhf's reference results
// (tests/data/pyhf/refs.json), the exact derivatives against LibTorch
// autograd and finite differences, interpolation identities, analytic
// truth, and bad input.
#include "testing.hpp"
#include "input_error.hpp"

#include <cmath>
#include <fstream>

#include "src/config/schema.h"
#include "src/core/error.h"
#include "src/histfactory/hf_model.h"
#include "src/stats/fit.h"
#include "src/stats/hypotest.h"
#include "src/stats/workspace_model.h"

using namespace refinery;
using namespace refinery::histfactory;
using nlohmann::json;
using refinery::testing::input_error_of;

namespace {

stats::FitOptions start_at(const Eigen::VectorXd& x) {
  stats::FitOptions o;
  o.start = x;
  return o;
}

std::string pyhf_dir() { return refinery::testing::source_path("tests/data/pyhf"); }

const json& refs() {
  static const json r = read_json_file(pyhf_dir() + "/refs.json");
  return r;
}

Workspace load_case(const json& c) {
  std::vector<std::string> patches;
  for (const auto& p : c["patches"]) patches.push_back(pyhf_dir() + "/" + p.get<std::string>());
  return Workspace::load(pyhf_dir() + "/" + c["workspace"].get<std::string>(), patches);
}

bool is_atlas(const std::string& name) { return name.rfind("stau", 0) == 0; }


}  // namespace

TEST_CASE("histfactory: fits agree with pyhf on every reference case", "[histfactory][pyhf]") {
  for (const auto& [name, c] : refs()["cases"].items()) {
    INFO(name);
    // refs.json labels the interpolation "pyhf default (normsys code1,
    // histosys code0)", but its numbers are pyhf's actual defaults, code4 and
    // code4p: the "_code4" case equals the default one to the last digit, and
    // only code4/code4p reproduce twice_nll_init (see docs/histfactory.md).
    HistFactoryModel model(load_case(c));
    REQUIRE(model.parameter_names() == c["parameters"].get<std::vector<std::string>>());
    REQUIRE(model.parameters()[model.poi_index()].name == c["poi"].get<std::string>());
    const double init = 2.0 * model.nll(model.init(), model.observed());
    REQUIRE(init == Approx(c["twice_nll_init"].get<double>()).epsilon(1e-9));
    stats::FitResult f = stats::fit(stats::WorkspaceModel(model));
    REQUIRE(f.ok());
    const double ref_nll = c["twice_nll_bestfit"].get<double>();
    REQUIRE(f.twice_nll() == Approx(ref_nll).epsilon(1e-6));
    // Our minimum is never above pyhf's (to rounding): where parameters differ
    // by more than 1e-4, pyhf's minimiser stopped early along a flat direction.
    REQUIRE(f.twice_nll() <= ref_nll + 1e-9 * std::abs(ref_nll));
    auto best = c["bestfit"].get<std::vector<double>>();
    for (size_t i = 0; i < best.size(); ++i) {
      INFO(model.parameters()[i].name << " ours " << f.x[i] << " pyhf " << best[i] << " error " << f.error[i]);
      const double tol = std::max(1e-4, 0.02 * f.error[i]) * std::max(1.0, std::abs(best[i]));
      REQUIRE(std::abs(f.x[i] - best[i]) < tol);
    }
  }
}

TEST_CASE("histfactory: CLs and upper limits agree with pyhf", "[histfactory][pyhf]") {
  for (const auto& [name, c] : refs()["cases"].items()) {
    INFO(name);
    HistFactoryModel model(load_case(c));
    stats::WorkspaceModel calc_model(model);
    stats::AsymptoticCalculator calc(calc_model, calc_model.poi(), stats::TestStat::kQtilde);
    stats::HypotestResult h = calc.hypotest(1.0);
    REQUIRE(h.converged);
    const double tol = is_atlas(name) ? 5e-4 : 1e-4;
    REQUIRE(std::abs(h.cls - c["cls_obs_mu1_qtilde"].get<double>()) < tol);
    auto exp = c["cls_exp_mu1_qtilde"].get<std::vector<double>>();
    for (int k = 0; k < 5; ++k) REQUIRE(std::abs(h.cls_exp[k] - exp[k]) < tol);
    if (!c.contains("upper_limit_95_obs")) continue;
    auto lim = calc.upper_limits(0.05);
    REQUIRE(lim.observed == Approx(c["upper_limit_95_obs"].get<double>()).epsilon(1e-3));
    auto uexp = c["upper_limit_95_exp"].get<std::vector<double>>();
    for (int k = 0; k < 5; ++k) REQUIRE(lim.expected[k] == Approx(uexp[k]).epsilon(1e-3));
  }
}

TEST_CASE("histfactory: exact gradient and Hessian match autograd and finite differences", "[histfactory]") {
  // The stau likelihood: samples with tens of normsys factors and histosys
  // deltas each, the long products the Hessian's pair terms are made of.
  for (const char* ws : {"workspaces/twobin_lumi_multi.json", "workspaces/threebin_histosys_staterror.json",
                         "workspaces/twobin_shapesys.json", "workspaces/sr_cr_coupled.json",
                         "atlas-susy-2018-04/BkgOnly.json"}) {
    for (InterpOptions interp : {InterpOptions{}, InterpOptions{NormsysCode::kCode1, HistosysCode::kCode0}}) {
      INFO(ws);
      const std::string path = pyhf_dir() + "/" + ws;
      const bool stau = std::string(ws).find("susy") != std::string::npos;
      HistFactoryModel model(stau ? Workspace::load(path, {pyhf_dir() + "/atlas-susy-2018-04/patch.DS_100_1_Staus.json"})
                                  : Workspace::load(path),
                             "", interp);
      Eigen::VectorXd x = model.init();
      for (int i = 0; i < x.size(); ++i) x[i] += 0.3 * std::sin(3.0 * i + 1.0);  // inside |alpha| < 1 and beyond
      x[model.poi_index()] = 0.0;  // a zero factor: the product rule must not divide by it
      // Expected counts: double path vs autograd path.
      torch::Tensor xt = torch::from_blob(x.data(), {x.size()}, torch::kFloat64).clone().requires_grad_(true);
      torch::Tensor nu_t = model.expected_torch(xt);
      Eigen::VectorXd nu = model.expected_main(x);
      for (int b = 0; b < nu.size(); ++b) REQUIRE(nu_t[b].item<double>() == Approx(nu[b]).epsilon(1e-12));
      // Autograd through expected_torch vs finite differences of the double
      // path, for the main Poisson term (checks the differentiable module).
      const Eigen::VectorXd& n = model.observed().main;
      torch::Tensor nt = torch::from_blob(const_cast<double*>(n.data()), {n.size()}, torch::kFloat64);
      torch::Tensor main_nll = (nu_t - nt * torch::log(nu_t)).sum();
      torch::Tensor g_t = torch::autograd::grad({main_nll}, {xt})[0];
      auto main_term = [&](const Eigen::VectorXd& p) {
        Eigen::VectorXd e = model.expected_main(p);
        return (e.array() - n.array() * e.array().log()).sum();
      };
      // The exact gradient and Hessian of the whole NLL vs finite differences.
      Eigen::VectorXd g;
      Eigen::MatrixXd H;
      model.nll(x, model.observed(), &g, &H);
      for (int i = 0; i < x.size(); ++i) {
        const double h = stau ? 1e-4 : 1e-6;  // stau: NLLs of ~1e3, rounding would dominate a smaller step
        Eigen::VectorXd xp = x, xm = x;
        xp[i] += h;
        xm[i] -= h;
        REQUIRE(g_t[i].item<double>() == Approx((main_term(xp) - main_term(xm)) / (2 * h)).margin(1e-6).epsilon(1e-6));
        Eigen::VectorXd gp, gm;
        Eigen::MatrixXd Hd;
        const double num = (model.nll(xp, model.observed(), &gp, &Hd) - model.nll(xm, model.observed(), &gm, &Hd)) / (2 * h);
        REQUIRE(g[i] == Approx(num).margin(1e-6).epsilon(1e-6));
        for (int j = 0; j < x.size(); ++j) REQUIRE(H(j, i) == Approx((gp[j] - gm[j]) / (2 * h)).margin(1e-5).epsilon(1e-5));
      }
    }
  }
}

TEST_CASE("histfactory: interpolation codes are smooth and exact where defined", "[histfactory]") {
  const double hi = 1.2, lo = 0.85;
  auto a = code4_coefficients(hi, lo);
  for (double s : {-1.0, 1.0}) {
    Interp in = normsys(NormsysCode::kCode4, s * (1.0 - 1e-12), hi, lo, a);
    Interp out = normsys(NormsysCode::kCode4, s * (1.0 + 1e-12), hi, lo, a);
    REQUIRE(in.value == Approx(out.value).epsilon(1e-9));
    REQUIRE(in.d1 == Approx(out.d1).epsilon(1e-8));
    REQUIRE(in.d2 == Approx(out.d2).epsilon(1e-7));
  }
  REQUIRE(normsys(NormsysCode::kCode4, 0.0, hi, lo, a).value == 1.0);
  REQUIRE(normsys(NormsysCode::kCode1, 2.0, hi, lo, a).value == Approx(hi * hi));
  REQUIRE(normsys(NormsysCode::kCode1, -1.0, hi, lo, a).value == Approx(lo));
  for (double s : {-1.0, 1.0}) {
    Interp in = histosys(HistosysCode::kCode4p, s * (1.0 - 1e-12), 3.0, 1.0);
    Interp out = histosys(HistosysCode::kCode4p, s * (1.0 + 1e-12), 3.0, 1.0);
    REQUIRE(in.value == Approx(out.value).epsilon(1e-9));
    REQUIRE(in.d1 == Approx(out.d1).epsilon(1e-8));
    REQUIRE(in.d2 == Approx(out.d2).margin(1e-8));
  }
  REQUIRE(histosys(HistosysCode::kCode0, -0.5, 3.0, 1.0).value == -0.5);
  REQUIRE(histosys(HistosysCode::kCode0, 0.5, 3.0, 1.0).value == 1.5);
}

TEST_CASE("histfactory: one bin, one normsys: the analytic maximum", "[histfactory]") {
  // One bin cannot separate mu from the background normalisation: the
  // constraint pins bkg_norm at 0 and mu makes the expectation equal the count.
  HistFactoryModel model(Workspace::load(pyhf_dir() + "/workspaces/onebin_normsys.json"));
  stats::FitResult f = stats::fit(stats::WorkspaceModel(model));
  const int nuis = 1 - model.poi_index();
  REQUIRE(std::abs(f.x[nuis]) < 1e-8);
  // The fit stops at EDM < 1e-10, i.e. within ~1e-5 standard deviations
  // (sqrt(n) here) of the exact maximum.
  Eigen::VectorXd nu = model.expected_main(f.x);
  const double n = model.observed().main[0];
  REQUIRE(std::abs(nu[0] - n) < 1e-4 * std::sqrt(n));
}

TEST_CASE("histfactory: batch hypotest over a patchset", "[histfactory][cli]") {
  auto r = refinery::testing::run_refinery(
      "hypotest " + pyhf_dir() + "/atlas-susy-2018-04/BkgOnly.json --patchset " + pyhf_dir() +
      "/atlas-susy-2018-04/patchset.json --all --quiet");
  REQUIRE(r.exit_code == 0);
  int lines = 0;
  bool found = false;
  std::stringstream ss(r.output);
  std::string line;
  const json& c = refs()["cases"]["stau_DS_200_1"];
  while (std::getline(ss, line)) {
    json j = json::parse(line);
    ++lines;
    if (j["patch"] == "DS_200_1_Staus") {
      found = true;
      REQUIRE(std::abs(j["cls_obs"].get<double>() - c["cls_obs_mu1_qtilde"].get<double>()) < 5e-4);
    }
  }
  REQUIRE(lines == 57);
  REQUIRE(found);
}

TEST_CASE("histfactory: bad workspaces name the file and the JSON path", "[histfactory][bad-input]") {
  const json good = read_json_file(pyhf_dir() + "/workspaces/twobin_lumi_multi.json");
  auto err = [&](const std::function<void(json&)>& mutate) {
    json doc = good;
    mutate(doc);
    return input_error_of([&] { Workspace::from_json(doc, "ws.json"); });
  };
  REQUIRE(err([](json& d) { d.erase("channels"); }) == "ws.json: /channels: required key missing");
  REQUIRE(err([](json& d) { d["channels"][0]["samples"][1]["data"] = {1.0, 2.0, 3.0}; }) ==
          "ws.json: /channels/0/samples/1/data: has 3 entries but the channel has 2 bins");
  REQUIRE(err([](json& d) { d["channels"][0]["samples"][1]["name"] = "signal"; }) ==
          "ws.json: /channels/0/samples/1/name: duplicate sample name 'signal' in channel 'sr'");
  REQUIRE(err([](json& d) { d["channels"].push_back(d["channels"][0]); }) ==
          "ws.json: /channels/1/name: duplicate channel name 'sr'");
  REQUIRE(err([](json& d) { d["channels"][0]["samples"][1]["modifiers"][2]["data"].erase("hi_data"); }) ==
          "ws.json: /channels/0/samples/1/modifiers/2/data/hi_data: required key missing");
  REQUIRE(err([](json& d) { d["channels"][0]["samples"][0]["modifiers"][0]["type"] = "magic"; })
              .rfind("ws.json: /channels/0/samples/0/modifiers/0/type: unknown modifier type 'magic'", 0) == 0);
  // A POI no modifier defines is a valid workspace (background-only, as in
  // pyhf); the model refuses it where a POI is needed.
  json no_poi = good;
  no_poi["measurements"][0]["config"]["poi"] = "nope";
  HistFactoryModel no_poi_model(Workspace::from_json(no_poi, "ws.json"));
  REQUIRE(input_error_of([&] { no_poi_model.require_poi(); }) ==
          "ws.json: /measurements (meas)/config/poi: POI 'nope' is not defined by any modifier "
          "(a background-only workspace needs a signal patch)");
  // Malformed JSON: line and column.
  refinery::testing::TempDir tmp("hf_bad");
  std::ofstream(tmp.path("bad.json")) << "{\n  \"channels\": [\n    {\"name\": }\n  ]\n}\n";
  REQUIRE(input_error_of([&] { Workspace::load(tmp.path("bad.json")); }) ==
          tmp.path("bad.json") + ": line 3 column 14: malformed JSON");
  // A patch whose path does not exist; a patch name not in the patchset.
  std::ofstream(tmp.path("patch.json")) << R"([{"op": "replace", "path": "/channels/7/name", "value": "x"}])";
  std::string msg = input_error_of([&] { Workspace::load(pyhf_dir() + "/workspaces/twobin_lumi_multi.json", {tmp.path("patch.json")}); });
  REQUIRE(msg.rfind(tmp.path("patch.json") + ": /0 (path /channels/7/name): cannot apply patch operation", 0) == 0);
  std::string ps = pyhf_dir() + "/atlas-susy-2018-04/patchset.json";
  REQUIRE(input_error_of([&] { Workspace::load(pyhf_dir() + "/atlas-susy-2018-04/BkgOnly.json", {}, ps, "DS_999_Staus"); }) ==
          ps + ": /patches: no patch named 'DS_999_Staus' (the patchset has 57 patches)");
}

TEST_CASE("histfactory: negative expected yields are guarded and reported", "[histfactory][bad-input]") {
  // One bin: background 10 whose down variation is 5, so below alpha = -2
  // the expected count is negative. The NLL is +inf there (never NaN); a fit
  // starting there reports why it failed; a fit starting nearby converges
  // without stepping into the forbidden region.
  json doc = json::parse(R"({"version": "1.0.0",
    "channels": [{"name": "sr", "samples": [
      {"name": "sig", "data": [2.0], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "bkg", "data": [10.0], "modifiers": [{"name": "shape", "type": "histosys",
        "data": {"hi_data": [15.0], "lo_data": [5.0]}}]}]}],
    "observations": [{"name": "sr", "data": [11.0]}],
    "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}]})");
  HistFactoryModel model(Workspace::from_json(doc, "neg.json"));
  const int a = model.parameter_index("shape");
  Eigen::VectorXd bad = model.init();
  bad[a] = -3.0;
  REQUIRE(std::isinf(model.nll(bad, model.observed())));
  stats::FitResult f = stats::fit(stats::WorkspaceModel(model), start_at(bad));
  REQUIRE_FALSE(f.ok());
  REQUIRE(f.reason == "objective not finite at the starting point (non-positive expected yield?)");
  Eigen::VectorXd near = model.init();
  near[a] = -1.9;
  stats::FitResult g = stats::fit(stats::WorkspaceModel(model), start_at(near));
  REQUIRE(g.ok());
  REQUIRE((model.expected_main(g.x).array() > 0).all());
  auto cli = refinery::testing::run_refinery("fit /nonexistent/ws.json");
  REQUIRE(cli.exit_code == 2);
  REQUIRE(cli.output == "refinery fit: error: /nonexistent/ws.json: no such file\n");
}
