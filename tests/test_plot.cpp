// Figures (`refinery plot`, python/refinery_plot.py): every kind drawn from a
// real result file of the command it shows; each output is a valid PNG of
// the size its sidecar states, and the sidecar's series (names, counts,
// ranges) are compared with the result file. Bad input (a result of the
// wrong kind, an unknown region, kind or format) is one line, exit 2.
#include "tests/testing.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "infer/report_html.h"

using nlohmann::json;
using refinery::testing::run_refinery;

namespace {

// Draws `kind` from `result`; checks the PNG against the sidecar, returns the sidecar.
json draw(refinery::testing::TempDir& tmp, const std::string& kind, const std::string& result, int width, int height,
          const std::string& extra = "") {
  const std::string out = tmp.path(kind + ".png");
  const auto r = run_refinery("plot " + kind + " " + result + " --out " + out + extra);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const json side = json::parse(refinery::testing::read_file(out + ".series.json"));
  CHECK(side["kind"] == kind);
  const auto [w, h] = refinery::testing::png_size(out);
  CHECK(w == side["width_px"].get<int>());
  CHECK(h == side["height_px"].get<int>());
  CHECK(w == width);
  CHECK(h == height);
  return side;
}

const json& series(const json& side, const std::string& name) {
  for (const auto& s : side["series"])
    if (s["name"] == name) return s;
  FAIL("no series " << name << " in " << side.dump());
  static json none;
  return none;
}

std::pair<double, double> range(const std::vector<double>& v) {
  return {*std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end())};
}

}  // namespace

TEST_CASE("Plot: SANNT's training curves from a real report, pre-training and the training on sigma(mu)", "[plot][cli][sannt]") {
  refinery::testing::TempDir tmp("plot_sannt");
  const auto r = run_refinery("train sannt --benchmark 0 --inits 2 --events 2000 --test-events 2000 --summary score "
                              "--pretrain-epochs 3 --epochs 3 --steps 5 --quiet --out " + tmp.path("sannt.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const json report = json::parse(refinery::testing::read_file(tmp.path("sannt.json")));
  const json side = draw(tmp, "training", tmp.path("sannt.json"), 1100, 480);
  const json& runs = report["benchmarks"]["0"]["runs"];
  REQUIRE(runs.size() == 2);
  for (int k = 0; k < 2; ++k)
    for (const char* phase : {"pretrain", "train"}) {
      const json& epochs = runs[k]["training"][phase]["epochs"];
      REQUIRE(epochs.size() == 3);
      std::vector<double> val;
      for (const auto& e : epochs) val.push_back(e["val_loss"].get<double>());
      const json& s = series(side, "benchmark 0, network " + std::to_string(k) + "/" + phase + "/val_loss");
      CHECK(s["n"] == 3);
      CHECK(s["y_range"][0].get<double>() == Approx(range(val).first));
      CHECK(s["y_range"][1].get<double>() == Approx(range(val).second));
    }
  // The training phase's loss is the POI's uncertainty the report gives.
  CHECK(runs[0]["training"]["train"]["best_val_loss"].get<double>() ==
        Approx(runs[0]["training"]["sigma"].get<double>()).epsilon(1e-6));
}

TEST_CASE("Plot: every figure kind from a real result, a PNG of the stated size, the series drawn are the result's", "[plot][cli]") {
  refinery::testing::TempDir tmp("plot");
  const std::string ws = refinery::testing::source_path("tests/data/pyhf/workspaces/sr_cr_coupled.json");
  auto make = [&](const std::string& args, const std::string& file) {
    const auto r = run_refinery(args + " --quiet --out " + tmp.path(file));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    return json::parse(refinery::testing::read_file(tmp.path(file)));
  };
  const json yields = make("yields " + ws, "yields.json");
  const json fit = make("fit " + ws, "fit.json");
  const json impacts = make("impacts " + ws, "impacts.json");
  const json scan = make("scan " + ws + " --points 15", "scan.json");
  const json scan2 = make("scan " + ws + " --poi2 k_bkg --points 9 --points2 7", "scan2.json");
  const json gof = make("gof " + ws + " --ntoys 300 --seed 2", "gof.json");

  {  // Two regions side by side: stacked processes, data, ratio.
    const json side = draw(tmp, "distributions", tmp.path("yields.json"), 1000, 550);
    for (const auto& d : yields["data"]) {
      const json& s = series(side, d["region"].get<std::string>() + "/data");
      CHECK(s["n"] == d["bins"].size());
      const auto [lo, hi] = range(d["bins"].get<std::vector<double>>());
      CHECK(s["y_range"][0].get<double>() == Approx(lo));
      CHECK(s["y_range"][1].get<double>() == Approx(hi));
    }
    for (const auto& p : yields["postfit"]) {
      if (p["process"] == "total") continue;
      const json& s = series(side, p["region"].get<std::string>() + "/" + p["process"].get<std::string>());
      const auto [lo, hi] = range(p["bins"].get<std::vector<double>>());
      CHECK(s["y_range"][0].get<double>() == Approx(lo).epsilon(1e-9));
      CHECK(s["y_range"][1].get<double>() == Approx(hi).epsilon(1e-9));
    }
    // One region, pre-fit.
    const json one = draw(tmp, "distributions", tmp.path("yields.json"), 500, 550, " --region sr --prefit");
    CHECK(series(one, "sr/bkg")["y_range"][1].get<double>() == Approx(20.0));
    CHECK(std::none_of(one["series"].begin(), one["series"].end(),
                       [](const json& s) { return s["name"].get<std::string>().rfind("cr/", 0) == 0; }));
  }
  {  // Pulls: the constrained parameters only (k_bkg is a free normalisation).
    const json side = draw(tmp, "pulls", tmp.path("fit.json"), 640, 300);
    const json& s = series(side, "pulls");
    REQUIRE(s["names"] == json::array({"coupled_histo"}));
    double value = 0;
    for (const auto& p : fit["fit"]["parameters"])
      if (p["name"] == "coupled_histo") value = p["value"].get<double>();
    CHECK(s["x_range"][0].get<double>() == Approx(value).epsilon(1e-9));  // centre 0, pre-fit error 1
  }
  {
    const json side = draw(tmp, "correlation", tmp.path("fit.json"), 580, 480);
    const json& s = series(side, "correlation");
    CHECK(s["names"] == json::array({"coupled_histo", "k_bkg", "mu"}));
    CHECK(s["y_range"][1].get<double>() == Approx(1.0));
  }
  {
    const json side = draw(tmp, "impacts", tmp.path("impacts.json"), 900, 400);
    json names = json::array();
    for (const auto& i : impacts["impacts"]["impacts"]) names.push_back(i["name"]);
    CHECK(series(side, "pulls")["names"] == names);
    CHECK(series(side, "post-fit_impacts")["n"] == 2 * names.size());
  }
  {
    const json side = draw(tmp, "scan", tmp.path("scan.json"), 640, 480);
    const json& s = series(side, "t");
    CHECK(s["n"] == scan["scan"]["points"].size());
    std::vector<double> t;
    for (const auto& p : scan["scan"]["points"]) t.push_back(p["t"].get<double>());
    CHECK(s["y_range"][0].get<double>() == Approx(range(t).first).margin(1e-12));
    CHECK(s["y_range"][1].get<double>() == Approx(range(t).second));
  }
  {
    const json side = draw(tmp, "contour", tmp.path("scan2.json"), 640, 520);
    CHECK(series(side, "t")["n"] == 9);  // the grid's columns
    CHECK(series(side, "contours")["paths"][0].get<int>() >= 1);  // a closed 68% contour
  }
  {
    const json side = draw(tmp, "gof", tmp.path("gof.json"), 640, 480);
    CHECK(series(side, "pseudo-experiments")["n"] == 300);
    CHECK(series(side, "observed")["x_range"][0].get<double>() == Approx(gof["gof"]["q_obs"].get<double>()));
  }
  {
    std::ofstream(tmp.path("count.json")) << R"({"version": "1.0.0",
      "channels": [{"name": "sr", "samples": [
        {"name": "signal", "data": [6], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
        {"name": "background", "data": [5], "modifiers": []}]}],
      "observations": [{"name": "sr", "data": [4]}],
      "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}]})";
    const json toys = make("hypotest " + tmp.path("count.json") + " --calculator toybased --ntoys 500", "toys.json");
    const json side = draw(tmp, "teststat", tmp.path("toys.json"), 640, 480);
    CHECK(series(side, "$\\mu = 1$ (null)")["n"] == 500);
    CHECK(series(side, "$\\mu = 0$")["n"] == 500);
    CHECK(series(side, "observed")["x_range"][0].get<double>() == Approx(toys["q_obs"].get<double>()));
  }
  {  // The Brazil band from limit --scan.
    const json lim = make("limit " + ws + " --scan 0:3:16", "limit.json");
    REQUIRE(lim["scan"].size() == 16);
    const json side = draw(tmp, "brazil", tmp.path("limit.json"), 640, 480);
    std::vector<double> obs;
    for (const auto& p : lim["scan"]) obs.push_back(p["cls_obs"].get<double>());
    const json& s = series(side, "observed");
    CHECK(s["n"] == 16);
    CHECK(s["y_range"][0].get<double>() == Approx(range(obs).first));
    CHECK(s["y_range"][1].get<double>() == Approx(range(obs).second));
    CHECK(series(side, "upper_limit_obs")["x_range"][0].get<double>() == Approx(lim["upper_limit_obs"].get<double>()));
    const auto bad = run_refinery("limit " + ws + " --scan 3:0:16");
    CHECK(bad.exit_code == 2);
    CHECK(bad.output.find("--scan: expected LO:HI:N") != std::string::npos);
  }
  {  // Coverage and pulls of a toys run (the summary and the CSV next to it).
    const auto r = run_refinery("toys " + ws + " --n 150 --mu-values 0.5,1.5 --seed 3 --quiet --out " + tmp.path("toys.csv"));
    REQUIRE(r.exit_code == 0);
    const json summary = json::parse(refinery::testing::read_file(tmp.path("toys.csv.json")));
    const json side = draw(tmp, "coverage", tmp.path("toys.csv.json"), 1000, 450);
    const json& c = series(side, "coverage");
    CHECK(c["n"] == 2);
    std::vector<double> cov;
    for (const auto& m : summary["per_mu_true"]) cov.push_back(m["coverage"].get<double>());
    CHECK(c["y_range"][0].get<double>() == Approx(range(cov).first));
    CHECK(c["y_range"][1].get<double>() == Approx(range(cov).second));
    CHECK(series(side, "pulls")["n"] == summary["overall"]["usable"]);
  }
  // Bad input: one line naming the file and key, exit 2, no figure.
  struct Bad {
    std::string args, message;
  };
  for (const Bad& b : {Bad{"impacts " + tmp.path("fit.json"), "fit.json: impacts: not in the file"},
                       Bad{"distributions " + tmp.path("yields.json") + " --region vr", "--region: no region 'vr'"},
                       Bad{"histogram " + tmp.path("fit.json"), "KIND: unknown figure 'histogram'"},
                       Bad{"scan " + tmp.path("scan2.json"), "scan.parameters: a 2D scan"},
                       Bad{"scan " + tmp.path("missing.json"), "missing.json: cannot read"},
                       Bad{"brazil " + tmp.path("fit.json"), "fit.json: upper_limit_obs: not in the file"}}) {
    const auto r = run_refinery("plot " + b.args + " --out " + tmp.path("bad.png"));
    INFO(b.args << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(b.message) != std::string::npos);
    CHECK_FALSE(refinery::testing::file_exists(tmp.path("bad.png")));
  }
  const auto r = run_refinery("plot scan " + tmp.path("scan.json") + " --out " + tmp.path("scan.jpg"));
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--out: ") != std::string::npos);
}

TEST_CASE("The report page's base64 encoding: RFC 4648's test vectors and bytes above 127", "[report][plot]") {
  using refinery::cli::base64;
  // RFC 4648, section 10.
  CHECK(base64("") == "");
  CHECK(base64("f") == "Zg==");
  CHECK(base64("fo") == "Zm8=");
  CHECK(base64("foo") == "Zm9v");
  CHECK(base64("foob") == "Zm9vYg==");
  CHECK(base64("fooba") == "Zm9vYmE=");
  CHECK(base64("foobar") == "Zm9vYmFy");
  // The PNG signature: bytes above 127 and a zero byte (the alphabet's last
  // two characters, '+' and '/', appear in the second vector).
  CHECK(base64(std::string("\x89PNG\r\n\x1a\n", 8)) == "iVBORw0KGgo=");
  CHECK(base64(std::string("\xfb\xff\xbf", 3)) == "+/+/");
  CHECK(base64(std::string("\0\0\0", 3)) == "AAAA");
}
