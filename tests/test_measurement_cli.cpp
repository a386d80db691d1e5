// `refinery fit|scan|impacts|toys --config` on a small but complete chain
// (simulate -> classifier -> DCR networks -> measurement), and the bad
// inputs the issue lists: data with other features than the models, a
// region selection naming an unknown feature, a region that selects nothing,
// a fit that cannot converge.
#include "tests/testing.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

using namespace refinery::testing;
using nlohmann::json;

namespace {

json small_config(const std::string& dir) {
  json c = json::parse(read_file(source_path("experiments/htautau.json")));
  c["output_dir"] = dir;
  c["simulation"]["events"] = 150000;
  c["simulation"]["mc_events"] = 300000;
  // The chain's own expected-yield shares, without the main job's thinning
  // (tested on its own below and in test_htautau_simulator.cpp).
  c["simulation"]["mc_shares"] = {{"htautau", 0.05}, {"ztautau", 0.8}, {"ttbar", 0.1}, {"diboson", 0.05}};
  c["simulation"].erase("mc_thinning");
  c["simulation"]["luminosity"] = 1.0;
  c["simulation"]["variation_grid"] = {{"nuisances", {"tes", "jes", "soft_met"}}, {"step", 1.0}, {"max_l1", 2.0}};
  c["simulation"]["variations"] = json::array({{{"soft_met", 3.0}}, {{"soft_met", 5.0}}});  // the chain's own, fewer than the main job's
  c["classifier"] = {{"epochs", 2}, {"steps_per_epoch", 20}};
  c["dcr"] = {{"epochs", 1}, {"steps", 10}, {"batch", 1024}, {"hidden", {16}}};
  c["measurement"]["toys"] = {{"n", 3}, {"mu_true", {1.0}}, {"nu_true", "nominal"}};
  c["measurement"]["mc_statistics"]["enabled"] = false;  // --mc-statistics on turns it on
  c["measurement"].erase("mc_thinning");
  c["measurement"]["yield_calibration"]["enabled"] = false;  // on in its own block below
  // The default regions, spelled out so that tests can edit them.
  auto r = run_refinery("config --config " + source_path("experiments/htautau.json") + " --get measurement.regions");
  c["measurement"]["regions"] = json::parse(r.output);
  return c;
}

void write_json(const std::string& path, const json& j) { std::ofstream(path) << j.dump(2); }

}  // namespace

TEST_CASE("Measurement commands on a small chain: Asimov closure, toys, merge, impacts, bad inputs", "[cli][measurement]") {
  TempDir tmp("measurement_cli");
  const std::string cfg = tmp.path("c.json");
  json config = small_config(tmp.dir());
  // One process's own settings: an ensemble for ttbar, a running average of
  // the weights for diboson.
  config["dcr"]["per_process"] = {{"ttbar", {{"ensemble", 2}}}, {"diboson", {{"average_steps", 5}}}};
  write_json(cfg, config);
  for (const std::string& stage : {"simulate --config " + cfg + " --out " + tmp.dir(), "train classifier --config " + cfg,
                                   "train dcr --config " + cfg}) {
    auto r = run_refinery(stage + " --quiet --threads 2");
    INFO(stage << "\n" << r.output);
    REQUIRE(r.exit_code == 0);
  }
  // dcr.per_process reached ttbar's training alone.
  REQUIRE(json::parse(read_file(tmp.path("dcr_ttbar.pt.json")))["ensemble"]["members"] == 2);
  REQUIRE_FALSE(json::parse(read_file(tmp.path("dcr_ztautau.pt.json"))).contains("ensemble"));
  REQUIRE(json::parse(read_file(tmp.path("dcr_diboson.pt.json")))["training"]["average_steps"] == 5);
  REQUIRE_FALSE(json::parse(read_file(tmp.path("dcr_ztautau.pt.json")))["training"].contains("average_steps"));
  {
    // --process with --config retrains the named process alone, into its
    // own file: the same settings give the same bytes, the others untouched.
    // (With --threads 2 the stage above trained in two workers, ttbar's
    // ensemble and diboson here and htautau and ztautau in a second process;
    // the retraining below runs in one: a network's bytes do not depend on
    // the split.)
    const std::string signal = read_file(tmp.path("dcr_htautau.pt")), z = read_file(tmp.path("dcr_ztautau.pt"));
    const auto z_time = std::filesystem::last_write_time(tmp.path("dcr_ztautau.pt"));
    std::filesystem::remove(tmp.path("dcr_htautau.pt"));
    auto again = run_refinery("train dcr --config " + cfg + " --process htautau --quiet --threads 2");
    INFO(again.output);
    REQUIRE(again.exit_code == 0);
    CHECK(read_file(tmp.path("dcr_htautau.pt")) == signal);
    CHECK(read_file(tmp.path("dcr_ztautau.pt")) == z);
    CHECK(std::filesystem::last_write_time(tmp.path("dcr_ztautau.pt")) == z_time);
    again = run_refinery("train dcr --config " + cfg + " --process htautau,nope --quiet");
    CHECK(again.exit_code == 2);
    CHECK(again.output.find("--process: 'nope' is not one of the config's DCR processes (") != std::string::npos);
    again = run_refinery("train dcr --config " + cfg + " --threads x2 --quiet");
    CHECK(again.exit_code == 2);
    CHECK(again.output.find("--threads: must lie in 0..") != std::string::npos);
    again = run_refinery("train dcr --config " + cfg + " --out " + tmp.path("one.pt") + " --quiet");
    CHECK(again.exit_code == 2);
    CHECK(again.output.find("--out: with --config each network goes to output_dir/dcr_<process>.pt") != std::string::npos);
  }
  // Asimov fit returns the truth; the JSON has what a physicist needs.
  auto r = run_refinery("fit --config " + cfg + " --asimov --mu-true 1.5 --threads 2 --quiet --out " + tmp.path("f.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  json f = json::parse(read_file(tmp.path("f.json")));
  REQUIRE(f["fit"]["status"] == "converged");
  REQUIRE(f["setup"] == "evaluated");  // and cached: see the end
  REQUIRE(std::abs(f["fit"]["parameters"][0]["value"].get<double>() - 1.5) < 1e-6);
  for (int i = 1; i < 7; ++i) {
    const double expect = f["fit"]["parameters"][i]["name"] == "soft_met" ? 1.0 : 0.0;
    REQUIRE(std::abs(f["fit"]["parameters"][i]["value"].get<double>() - expect) < 1e-6);
  }
  REQUIRE(f["fit"]["correlation"].size() == 7);
  REQUIRE(f.contains("config_hash"));
  REQUIRE(f.contains("seed"));
  const double lo = f["interval_68"]["lower"]["value"], hi = f["interval_68"]["upper"]["value"];
  REQUIRE(lo < 1.5);
  REQUIRE(hi > 1.5);
  REQUIRE(f["interval_95"]["lower"]["value"].get<double>() < lo);

  // The simulated-sample statistics: Asimov data still return the truth (the
  // cells observe their expectation, every factor is 1), the POI's error
  // grows, and each region reports its bins' (cells') relative errors.
  r = run_refinery("fit --config " + cfg + " --asimov --mu-true 1.5 --mc-statistics on --threads 2 --quiet --out " +
                   tmp.path("fm.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  json fm = json::parse(read_file(tmp.path("fm.json")));
  REQUIRE(fm["setup"] == "networks from the cache, regions fitted");  // other settings, same networks and mc.h5
  for (int i = 0; i < 7; ++i)
    REQUIRE(std::abs(fm["fit"]["parameters"][i]["value"].get<double>() - f["fit"]["parameters"][i]["value"].get<double>()) < 1e-6);
  REQUIRE(fm["fit"]["parameters"][0]["error"].get<double>() > 1.02 * f["fit"]["parameters"][0]["error"].get<double>());
  for (const json& region : fm["regions"]) {
    INFO(region.dump());
    REQUIRE(region.contains("mc_statistics"));
    const json& rel = region["mc_statistics"]["rel_error"];
    if (region["type"] == "unbinned") {  // measurement.mc_statistics.cells = 10 (fewer if values repeat)
      REQUIRE(rel.size() == region["mc_statistics"]["cell_edges"].size() + 1);
      REQUIRE(rel.size() >= 5);
      REQUIRE(rel.size() <= 10);
    }
    for (const json& e : rel) REQUIRE((e.get<double>() > 0.0 && e.get<double>() <= 1.0));
  }
  REQUIRE(!f["regions"][0].contains("mc_statistics"));
  REQUIRE(fm["mc_statistics"] == true);
  REQUIRE(f["mc_statistics"] == false);
  r = run_refinery("fit --config " + cfg + " --asimov --mc-statistics maybe --quiet");
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.output.find("--mc-statistics: expected on or off, got 'maybe'") != std::string::npos);
  {
    // measurement.yield_calibration: the binned reference's yields corrected
    // on the chain's paired sample (src/likelihood/paired_yield_calibration.h,
    // tested on its own): Asimov data still return the truth, and a paired
    // sample that is missing is named.
    json cal = config;
    cal["measurement"]["yield_calibration"] = {{"enabled", true}, {"min_events", 50}};
    write_json(tmp.path("cal.json"), cal);
    auto rc = run_refinery("fit --config " + tmp.path("cal.json") + " --asimov --mu-true 1.5 --reference --threads 2 --out " +
                           tmp.path("fc.json"));
    INFO(rc.output);
    REQUIRE(rc.exit_code == 0);
    REQUIRE(rc.output.find("yield calibration on the paired sample (") != std::string::npos);
    json fc = json::parse(read_file(tmp.path("fc.json")));
    REQUIRE(std::abs(fc["fit"]["parameters"][0]["value"].get<double>() - 1.5) < 1e-6);
    for (int i = 1; i < 7; ++i) {
      const double expect = fc["fit"]["parameters"][i]["name"] == "soft_met" ? 1.0 : 0.0;
      REQUIRE(std::abs(fc["fit"]["parameters"][i]["value"].get<double>() - expect) < 1e-6);
    }
    // measurement.yield_calibration.regions: only the signal regions (the
    // unbinned ones, whose bins only the reference has): the reference is
    // corrected in fewer cells and still returns the truth, the unbinned
    // analysis is the uncalibrated one to the last bit (its control regions
    // are not corrected), an unknown region is named.
    const auto cells_fitted = [](const std::string& out) {
      const std::string tag = "yield calibration on the paired sample (";
      const size_t at = out.find("cells fitted", out.find(tag));
      REQUIRE(at != std::string::npos);
      const size_t of = out.rfind(" of ", at);
      return std::stoll(out.substr(out.rfind(": ", of) + 2));
    };
    const long long all_cells = cells_fitted(rc.output);
    json signal_only = cal;
    signal_only["measurement"]["yield_calibration"]["regions"] = json::array();
    for (const auto& region : config["measurement"]["regions"])
      if (region["type"] == "unbinned") signal_only["measurement"]["yield_calibration"]["regions"].push_back(region["name"]);
    REQUIRE(signal_only["measurement"]["yield_calibration"]["regions"].size() >= 2);
    write_json(tmp.path("cal_signal.json"), signal_only);
    rc = run_refinery("fit --config " + tmp.path("cal_signal.json") + " --asimov --mu-true 1.5 --reference --threads 2 --out " +
                      tmp.path("fcs.json"));
    INFO(rc.output);
    REQUIRE(rc.exit_code == 0);
    const long long signal_cells = cells_fitted(rc.output);
    CHECK(signal_cells > 0);
    CHECK(signal_cells < all_cells);
    json fcs = json::parse(read_file(tmp.path("fcs.json")));
    REQUIRE(std::abs(fcs["fit"]["parameters"][0]["value"].get<double>() - 1.5) < 1e-6);
    CHECK(fcs["fit"]["parameters"][0]["error"].get<double>() != fc["fit"]["parameters"][0]["error"].get<double>());
    json unbinned[2];
    for (int k = 0; k < 2; ++k) {
      rc = run_refinery("fit --config " + (k ? tmp.path("cal_signal.json") : cfg) +
                        " --asimov --mu-true 1.5 --threads 2 --quiet --no-interval --out " + tmp.path("fu.json"));
      REQUIRE(rc.exit_code == 0);
      unbinned[k] = json::parse(read_file(tmp.path("fu.json")));
    }
    for (int i = 0; i < 7; ++i) {
      CHECK(unbinned[1]["fit"]["parameters"][i]["value"].get<double>() == unbinned[0]["fit"]["parameters"][i]["value"].get<double>());
      CHECK(unbinned[1]["fit"]["parameters"][i]["error"].get<double>() == unbinned[0]["fit"]["parameters"][i]["error"].get<double>());
    }
    signal_only["measurement"]["yield_calibration"]["regions"] = {"nowhere"};
    write_json(tmp.path("cal_signal.json"), signal_only);
    rc = run_refinery("fit --config " + tmp.path("cal_signal.json") + " --asimov --quiet");
    CHECK(rc.exit_code == 2);
    CHECK(rc.output.find("measurement.yield_calibration.regions[0]: unknown region 'nowhere'") != std::string::npos);
    TempDir bare("measurement_cli_unpaired");
    for (const char* f : {"classifier.pt", "dcr_htautau.pt", "dcr_ztautau.pt", "dcr_ttbar.pt", "dcr_diboson.pt", "mc.h5", "nominal.h5"})
      std::filesystem::create_symlink(tmp.path(f), bare.path(f));
    rc = run_refinery("fit --config " + tmp.path("cal.json") + " --asimov --inputs " + bare.dir() + " --quiet");
    CHECK(rc.exit_code == 2);
    CHECK(rc.output.find(bare.path("variations.h5") + ": file: missing: measurement.yield_calibration needs") != std::string::npos);
  }
  {
    // Thinning the expected-yield sample by the signal fraction: the networks
    // run on fewer events (a new set-up), Asimov data made of the thinned
    // sample still return the truth, the POI's error barely moves; the signal
    // itself is refused by name.
    json thinned = json::parse(read_file(cfg));
    thinned["measurement"]["mc_thinning"] = {{{"process", "ztautau"}, {"signal_fraction_below", 0.05}, {"keep", 0.5}}};
    // Per-event draws, then stratified (systematic in region and signal
    // fraction), then also spread along two features: all unbiased.
    for (const int stratify : {0, 1, 2}) {
      INFO("stratify " << stratify);
      thinned["measurement"]["mc_thinning"][0]["stratify"] = stratify > 0;
      if (stratify == 2) thinned["measurement"]["mc_thinning"][0]["stratify_features"] = {"PRI_had_pt", "PRI_met"};
      write_json(tmp.path("thinned.json"), thinned);
      r = run_refinery("fit --config " + tmp.path("thinned.json") + " --asimov --mu-true 1.5 --threads 2 --quiet --no-interval --out " +
                       tmp.path("ft.json"));
      INFO(r.output);
      REQUIRE(r.exit_code == 0);
      json ft = json::parse(read_file(tmp.path("ft.json")));
      REQUIRE(ft["setup"] == "evaluated");
      REQUIRE(std::abs(ft["fit"]["parameters"][0]["value"].get<double>() - 1.5) < 1e-6);
      const double ratio = ft["fit"]["parameters"][0]["error"].get<double>() / f["fit"]["parameters"][0]["error"].get<double>();
      REQUIRE(std::abs(ratio - 1.0) < 0.1);
    }
    // Features without stratify, and an unknown one, refused by name.
    thinned["measurement"]["mc_thinning"][0]["stratify"] = false;
    write_json(tmp.path("thinned.json"), thinned);
    r = run_refinery("fit --config " + tmp.path("thinned.json") + " --asimov --quiet");
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find("measurement.mc_thinning[0].stratify_features: needs stratify: true") != std::string::npos);
    thinned["measurement"]["mc_thinning"][0]["stratify"] = true;
    thinned["measurement"]["mc_thinning"][0]["stratify_features"] = {"PRI_had_pt", "pt"};
    write_json(tmp.path("thinned.json"), thinned);
    r = run_refinery("fit --config " + tmp.path("thinned.json") + " --asimov --quiet");
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find("measurement.mc_thinning[0].stratify_features[1]: unknown feature 'pt'") != std::string::npos);
    thinned["measurement"]["mc_thinning"][0].erase("stratify_features");
    thinned["measurement"]["mc_thinning"][0]["stratify"] = "yes";
    write_json(tmp.path("thinned.json"), thinned);
    r = run_refinery("fit --config " + tmp.path("thinned.json") + " --asimov --quiet");
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find("measurement.mc_thinning[0].stratify") != std::string::npos);
    thinned["measurement"]["mc_thinning"][0].erase("stratify");
    thinned["measurement"]["mc_thinning"][0]["process"] = "htautau";
    write_json(tmp.path("thinned.json"), thinned);
    r = run_refinery("fit --config " + tmp.path("thinned.json") + " --asimov --quiet");
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find("measurement.mc_thinning[0].process: 'htautau' is scaled by the POI") != std::string::npos);
    // Two rules of one process: an empty interval, and a stratified rule
    // overlapping another, are refused by name.
    thinned["measurement"]["mc_thinning"][0]["process"] = "ztautau";
    thinned["measurement"]["mc_thinning"][0]["signal_fraction_above"] = 0.05;
    write_json(tmp.path("thinned.json"), thinned);
    r = run_refinery("fit --config " + tmp.path("thinned.json") + " --asimov --quiet");
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find("measurement.mc_thinning[0].signal_fraction_above: must be below signal_fraction_below") != std::string::npos);
    thinned["measurement"]["mc_thinning"][0].erase("signal_fraction_above");
    thinned["measurement"]["mc_thinning"].push_back(
        {{"process", "ztautau"}, {"signal_fraction_above", 0.02}, {"signal_fraction_below", 0.5}, {"keep", 0.5}, {"stratify", true}});
    write_json(tmp.path("thinned.json"), thinned);
    r = run_refinery("fit --config " + tmp.path("thinned.json") + " --asimov --quiet");
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find("measurement.mc_thinning[1]: overlaps mc_thinning[0] of 'ztautau'") != std::string::npos);
  }

  // Profile scan on the same Asimov data: t = 0 at mu_hat, rising on both
  // sides, crossing 1 at the interval the fit found.
  r = run_refinery("scan --config " + cfg + " --asimov --mu-true 1.5 --points 5 --range " + std::to_string(lo) + ":" +
                   std::to_string(2 * 1.5 - lo) + " --threads 2 --quiet --out " + tmp.path("s.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  json sc = json::parse(read_file(tmp.path("s.json")));
  const json& pts = sc["scan"]["points"];
  REQUIRE(sc["scan"]["parameters"] == json::array({"mu"}));
  REQUIRE(pts.size() == 5);
  REQUIRE(std::abs(pts[0]["t"].get<double>() - 1.0) < 1e-3);  // the lower crossing
  REQUIRE(std::abs(pts[2]["t"].get<double>()) < 1e-6);        // mu_hat = 1.5
  REQUIRE(pts[1]["t"].get<double>() < pts[0]["t"].get<double>());
  REQUIRE(pts[3]["t"].get<double>() < pts[4]["t"].get<double>());
  REQUIRE(std::abs(sc["interval_68"]["lower"]["value"].get<double>() - lo) < 1e-4);

  // The workspace commands run on the measurement too: an asymptotic test of
  // the Asimov truth gives q = 0 (mu_hat = mu): CLs+b = 1/2, CLb = Phi(sqrt(q_A)).
  r = run_refinery("hypotest --config " + cfg + " --asimov --mu-true 1.5 --mu 1.5 --threads 2 --quiet --out " +
                   tmp.path("h.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  json h = json::parse(read_file(tmp.path("h.json")));
  REQUIRE(h["status"] == "converged");
  REQUIRE(h["kind"] == "experiment");
  // q = 0 up to the minimiser's tolerance (q ~ 1e-12 moves CLs+b by
  // sqrt(q) / sqrt(2 pi) ~ 1e-6): the formulae hold at the q found, and
  // CLs+b is 1/2 to that precision.
  const double q_obs = h["q_obs"].get<double>();
  REQUIRE(q_obs < 1e-6);
  const double q_a = h["q_asimov"].get<double>();
  REQUIRE(q_a > 1.0);
  REQUIRE(h["clsb_obs"].get<double>() == Approx(0.5 * std::erfc(std::sqrt(q_obs / 2.0))).epsilon(1e-9));
  REQUIRE(std::abs(h["clsb_obs"].get<double>() - 0.5) < 1e-3);
  REQUIRE(h["clb_obs"].get<double>() ==
          Approx(1.0 - 0.5 * std::erfc((std::sqrt(q_a) - std::sqrt(q_obs)) / std::sqrt(2.0))).epsilon(1e-9));
  // Limits on the background-only Asimov data (mu_true = 0, which the
  // Asimov weights now allow): the observed limit is the median expected one
  // (up to mu's lower bound 1e-3 in the fits).
  r = run_refinery("limit --config " + cfg + " --asimov --mu-true 0 --threads 2 --quiet --out " + tmp.path("l.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  json l = json::parse(read_file(tmp.path("l.json")));
  REQUIRE(l["status"] == "converged");
  const double median = l["upper_limit_exp"][2].get<double>();
  REQUIRE(l["upper_limit_exp"][1].get<double>() < median);
  REQUIRE(std::abs(l["upper_limit_obs"].get<double>() / median - 1.0) < 0.01);
  // Options of the other model kind are refused by name.
  r = run_refinery("fit --config " + cfg + " --patchset ps.json --quiet");
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.output.find("--patchset: applies to a workspace") != std::string::npos);

  // Toys in two shards, merged, equal the unsharded run.
  REQUIRE(run_refinery("toys --config " + cfg + " --n 3 --quiet --threads 2 --out " + tmp.path("all.csv")).exit_code == 0);
  REQUIRE(run_refinery("toys --config " + cfg + " --n 3 --shard 0/2 --quiet --threads 2 --out " + tmp.path("s0.csv")).exit_code == 0);
  REQUIRE(run_refinery("toys --config " + cfg + " --n 3 --shard 1/2 --quiet --threads 2 --out " + tmp.path("s1.csv")).exit_code == 0);
  r = run_refinery("toys --merge " + tmp.path("s0.csv") + " " + tmp.path("s1.csv") + " --config " + cfg + " --out " + tmp.path("m.csv"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // Bad merges: a shard twice, a missing shard, a header-only file, a shard
  // of another config.
  r = run_refinery("toys --merge " + tmp.path("s0.csv") + " " + tmp.path("s0.csv") + " --config " + cfg + " --out " + tmp.path("bad.csv"));
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.output.find("shard 0/2 is also " + tmp.path("s0.csv")) != std::string::npos);
  r = run_refinery("toys --merge " + tmp.path("s1.csv") + " --config " + cfg + " --out " + tmp.path("bad.csv"));
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.output.find("shard 0/2 is missing") != std::string::npos);
  {
    std::ifstream in(tmp.path("s0.csv"));
    std::string header;
    std::getline(in, header);
    std::ofstream(tmp.path("empty.csv")) << header << "\n";
    std::ofstream(tmp.path("empty.csv.json")) << read_file(tmp.path("s0.csv.json"));
  }
  r = run_refinery("toys --merge " + tmp.path("empty.csv") + " --config " + cfg + " --out " + tmp.path("bad.csv"));
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.output.find("no toys in the file") != std::string::npos);
  {
    // A shard fitted with the simulated-sample statistics term does not merge
    // with one fitted without it.
    const std::string original = read_file(tmp.path("s1.csv.json"));
    json other = json::parse(original);
    REQUIRE(other["mc_statistics"] == false);
    other["mc_statistics"] = true;
    std::ofstream(tmp.path("s1.csv.json")) << other.dump();
    r = run_refinery("toys --merge " + tmp.path("s0.csv") + " " + tmp.path("s1.csv") + " --config " + cfg + " --out " + tmp.path("bad.csv"));
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find("mc_statistics: differs between the shards") != std::string::npos);
    std::ofstream(tmp.path("s1.csv.json")) << original;
  }
  // Without --config the merge takes the config the shards name (their
  // summaries record it): the same merged file.
  REQUIRE(json::parse(read_file(tmp.path("s0.csv.json")))["config"] == std::filesystem::absolute(cfg).lexically_normal().string());
  r = run_refinery("toys --merge " + tmp.path("s0.csv") + " " + tmp.path("s1.csv") + " --out " + tmp.path("m2.csv"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.output.find("merging with the shards' config " + std::filesystem::absolute(cfg).lexically_normal().string()) != std::string::npos);
  REQUIRE(read_file(tmp.path("m2.csv")) == read_file(tmp.path("m.csv")));
  const std::string s0_summary = read_file(tmp.path("s0.csv.json")), s1_summary = read_file(tmp.path("s1.csv.json"));
  {
    json other = json::parse(s1_summary);
    other["config_hash"] = "0000000000000000";
    std::ofstream(tmp.path("s1.csv.json")) << other.dump();
  }
  r = run_refinery("toys --merge " + tmp.path("s0.csv") + " " + tmp.path("s1.csv") + " --config " + cfg + " --out " + tmp.path("bad.csv"));
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.output.find("config_hash: the shard was made with config") != std::string::npos);
  REQUIRE(r.output.find("not with --config " + cfg) != std::string::npos);
  REQUIRE(r.output.find("merge with --config naming the shards' own config") != std::string::npos);
  REQUIRE_FALSE(refinery::testing::file_exists(tmp.path("bad.csv")));
  // Without --config, the shards' own config still refuses the changed one.
  r = run_refinery("toys --merge " + tmp.path("s0.csv") + " " + tmp.path("s1.csv") + " --out " + tmp.path("bad.csv"));
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.output.find(tmp.path("s1.csv.json") + ": config_hash: the shard was made with config") != std::string::npos);
  // Shards that name no config (made before stop 61, or with the built-in
  // experiment) are compared with the built-in experiment, which says so;
  // a named config that is gone is named.
  {
    json first = json::parse(s0_summary);
    first.erase("config");
    std::ofstream(tmp.path("s0.csv.json")) << first.dump();
    r = run_refinery("toys --merge " + tmp.path("s0.csv") + " " + tmp.path("s1.csv") + " --out " + tmp.path("bad.csv"));
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find("not with the built-in experiment (no --config given)") != std::string::npos);
    first["config"] = tmp.path("gone.json");
    std::ofstream(tmp.path("s0.csv.json")) << first.dump();
    r = run_refinery("toys --merge " + tmp.path("s0.csv") + " " + tmp.path("s1.csv") + " --out " + tmp.path("bad.csv"));
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find(tmp.path("s0.csv.json") + ": config: the shards' config " + tmp.path("gone.json") + " is gone") != std::string::npos);
    std::ofstream(tmp.path("s0.csv.json")) << s0_summary;
    std::ofstream(tmp.path("s1.csv.json")) << s1_summary;
  }
  REQUIRE_FALSE(refinery::testing::file_exists(tmp.path("bad.csv")));
  json all = json::parse(read_file(tmp.path("all.csv.json"))), merged = json::parse(read_file(tmp.path("m.csv.json")));
  REQUIRE(merged["config_hash"] == all["config_hash"]);
  REQUIRE(all["overall"]["usable"] == 3);
  REQUIRE(merged["overall"]["usable"] == 3);
  REQUIRE(std::abs(all["overall"]["mean_width"].get<double>() - merged["overall"]["mean_width"].get<double>()) < 1e-9);
  REQUIRE(std::abs(all["overall"]["bias"].get<double>() - merged["overall"]["bias"].get<double>()) < 1e-9);
  {
    // --with-reference: the unbinned analysis and its binned reference on the
    // same pseudo-experiments, the events generated once; each equals its own
    // run, toy by toy.
    r = run_refinery("toys --config " + cfg + " --n 2 --with-reference --quiet --threads 2 --out " + tmp.path("wr.csv"));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    REQUIRE(run_refinery("toys --config " + cfg + " --n 2 --quiet --threads 2 --out " + tmp.path("u2.csv")).exit_code == 0);
    REQUIRE(run_refinery("toys --config " + cfg + " --n 2 --reference --quiet --threads 2 --out " + tmp.path("r2.csv")).exit_code == 0);
    for (const auto& [combined, alone] : {std::pair<std::string, std::string>{"wr.csv", "u2.csv"}, {"wr_reference.csv", "r2.csv"}}) {
      const json a = json::parse(read_file(tmp.path(combined + ".json"))), b = json::parse(read_file(tmp.path(alone + ".json")));
      INFO(combined << " against " << alone);
      REQUIRE(a["analysis"] == b["analysis"]);
      REQUIRE(a["overall"]["usable"] == 2);
      REQUIRE(a["overall"]["bias"].get<double>() == b["overall"]["bias"].get<double>());
      REQUIRE(a["overall"]["mean_width"].get<double>() == b["overall"]["mean_width"].get<double>());
    }
    REQUIRE(json::parse(read_file(tmp.path("wr_reference.csv.json")))["analysis"] == "binned reference");
    REQUIRE(json::parse(read_file(tmp.path("wr.csv.json")))["overall"]["bias"] !=
            json::parse(read_file(tmp.path("wr_reference.csv.json")))["overall"]["bias"]);
    r = run_refinery("toys --config " + cfg + " --n 2 --with-reference --reference --out " + tmp.path("bad.csv"));
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find("--with-reference: fits the reference beside the unbinned analysis: drop --reference") != std::string::npos);
  }
  {
    // A run at another signal strength merges with the merged file (the
    // same shard label 0/1 and toy numbers, other toys): one summary per
    // mu_true, as a campaign run per signal strength needs.
    REQUIRE(run_refinery("toys --config " + cfg + " --n 2 --mu-values 2.5 --quiet --threads 2 --out " + tmp.path("mu25.csv")).exit_code == 0);
    r = run_refinery("toys --merge " + tmp.path("m.csv") + " " + tmp.path("mu25.csv") + " --config " + cfg + " --out " +
                     tmp.path("m2.csv"));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    json both = json::parse(read_file(tmp.path("m2.csv.json")));
    REQUIRE(both["overall"]["usable"] == 5);
    REQUIRE(both["per_mu_true"].size() == 2);
    // The same run twice is still refused.
    r = run_refinery("toys --merge " + tmp.path("mu25.csv") + " " + tmp.path("mu25.csv") + " --config " + cfg + " --out " +
                     tmp.path("bad.csv"));
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find("shard 0/1 is also " + tmp.path("mu25.csv")) != std::string::npos);
  }

  {
    // Conditional toys: from-priors,NAME=VALUE holds that nuisance and draws
    // the others as the unconditional toys do (same truths, toy by toy).
    // Rows of a toys CSV by column name.
    auto read_toys = [&](const std::string& path) {
      std::ifstream in(path);
      std::string line, cell;
      std::getline(in, line);
      std::vector<std::string> header;
      for (std::stringstream s(line); std::getline(s, cell, ',');) header.push_back(cell);
      std::vector<std::map<std::string, double>> rows;
      while (std::getline(in, line)) {
        std::map<std::string, double> row;
        std::stringstream s(line);
        for (const auto& name : header) {
          std::getline(s, cell, ',');
          row[name] = std::stod(cell);
        }
        rows.push_back(row);
      }
      return rows;
    };
    auto truths = [&](const std::string& nu_true, const std::string& out) {
      auto t = run_refinery("toys --config " + cfg + " --n 3 --nu-true " + nu_true + " --quiet --threads 2 --out " +
                            tmp.path(out));
      INFO(t.output);
      REQUIRE(t.exit_code == 0);
      return read_toys(tmp.path(out));
    };
    const auto drawn = truths("from-priors", "p.csv"), held = truths("from-priors,soft_met=4.5", "c.csv");
    REQUIRE(drawn.size() == 3);
    REQUIRE(held.size() == 3);
    int differ = 0;
    for (int i = 0; i < 3; ++i) {
      REQUIRE(held[i].at("soft_met") == 4.5);
      REQUIRE(held[i].at("tes") == drawn[i].at("tes"));
      REQUIRE(held[i].at("jes") == drawn[i].at("jes"));
      REQUIRE(held[i].at("diboson_norm") == drawn[i].at("diboson_norm"));
      differ += drawn[i].at("tes") != drawn[i + 1 < 3 ? i + 1 : 0].at("tes");
    }
    REQUIRE(differ == 3);  // the nuisances were drawn, toy by toy
    {
      // A fit range beyond what the simulator accepts (soft_met <= 5, its
      // prior's clip): truths drawn from a wide constraint are clipped at 5,
      // as the simulator's prior is, never handed to it beyond.
      json wide = config;
      for (json& n : wide["measurement"]["nuisances"])
        if (n["name"] == "soft_met") {
          n["width"] = 3.0;
          n["range"] = {0.01, 50.0};
        }
      write_json(tmp.path("wide.json"), wide);
      auto t = run_refinery("toys --config " + tmp.path("wide.json") + " --n 8 --nu-true from-priors --quiet --threads 2 --out " +
                            tmp.path("w.csv"));
      INFO(t.output);
      REQUIRE(t.exit_code == 0);
      int at_clip = 0, rows = 0;
      for (const auto& row : read_toys(tmp.path("w.csv"))) {
        REQUIRE(row.at("soft_met") <= 5.0);
        at_clip += row.at("soft_met") == 5.0;
        ++rows;
      }
      REQUIRE(rows == 8);
      REQUIRE(at_clip >= 1);  // P(LogNormal(0, 3) > 5) = 0.30 per toy
    }
    {
      // A response nuisance (docs/htautau.md) in generator toys: never drawn
      // nor handed to the generator, so a toy's truths and events are those
      // of the same toy without it; a truth for it is refused.
      json resp = config;
      resp["measurement"]["nuisances"].push_back(
          {{"name", "z_jes_response"}, {"type", "response"}, {"of", "jes"}, {"size", 0.1}, {"processes", {"ztautau"}}});
      write_json(tmp.path("resp.json"), resp);
      auto with = run_refinery("toys --config " + tmp.path("resp.json") + " --n 1 --nu-true from-priors --quiet --threads 2 "
                               "--out " + tmp.path("resp.csv"));
      INFO(with.output);
      REQUIRE(with.exit_code == 0);
      auto without = run_refinery("toys --config " + cfg + " --n 1 --nu-true from-priors --quiet --threads 2 --out " +
                                  tmp.path("plain.csv"));
      INFO(without.output);
      REQUIRE(without.exit_code == 0);
      const auto a = read_toys(tmp.path("resp.csv")), b = read_toys(tmp.path("plain.csv"));
      REQUIRE(a.size() == 1);
      REQUIRE(b.size() == 1);
      CHECK(a[0].at("z_jes_response") == 0.0);
      for (const char* n : {"tes", "jes", "soft_met", "events"}) CHECK(a[0].at(n) == b[0].at(n));
      auto bad = run_refinery("toys --config " + tmp.path("resp.json") + " --n 1 --nu-true from-priors,z_jes_response=1 "
                              "--quiet --out " + tmp.path("bad.csv"));
      CHECK(bad.exit_code == 2);
      CHECK(bad.output == "refinery toys: error: --nu-true: 'z_jes_response' is a response nuisance: it describes the DCR "
                          "networks, not the events the generator draws, and stays at its centre in generator "
                          "pseudo-experiments\n");
    }
    for (const std::string& bad : {"from-priors,mu=2", "from-priors,", "from-priors,soft=1"}) {
      r = run_refinery("toys --config " + cfg + " --n 1 --nu-true " + bad + " --quiet --out " + tmp.path("bad.csv"));
      INFO(bad << ": " << r.output);
      REQUIRE(r.exit_code == 2);
      REQUIRE(r.output.find("--nu-true") != std::string::npos);
      REQUIRE_FALSE(refinery::testing::file_exists(tmp.path("bad.csv")));
    }
  }

  r = run_refinery("impacts --config " + cfg + " --asimov --quiet --threads 2 --out " + tmp.path("i.json"));
  REQUIRE(r.exit_code == 0);
  json im = json::parse(read_file(tmp.path("i.json")));
  REQUIRE(im["impacts"]["impacts"].size() == 6);
  REQUIRE(im["impacts"]["stat_only_error"].get<double>() <= im["impacts"]["mu_error"].get<double>() + 1e-12);

  // Bad inputs: one line naming the file and the field, exit code 2.
  {
    // An event file with other features than the models'.
    r = run_refinery("simulate inferno --events 1000 --out " + tmp.path("other.h5") + " --quiet");
    REQUIRE(r.exit_code == 0);
    r = run_refinery("fit --config " + cfg + " --data " + tmp.path("other.h5") + " --quiet");
    INFO(r.output);
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find("other.h5") != std::string::npos);
    REQUIRE(r.output.find("feature_names") != std::string::npos);
  }
  {
    json c = small_config(tmp.dir());
    c["measurement"]["regions"][0]["selection"] = "PRI_jet_numb >= 2";
    write_json(tmp.path("bad1.json"), c);
    r = run_refinery("fit --config " + tmp.path("bad1.json") + " --quiet");
    INFO(r.output);
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find("measurement.regions[0].selection") != std::string::npos);
    REQUIRE(r.output.find("PRI_jet_numb") != std::string::npos);
  }
  {
    json c = small_config(tmp.dir());
    c["measurement"]["regions"][1]["selection"] = "PRI_had_pt < 0";
    write_json(tmp.path("bad2.json"), c);
    r = run_refinery("fit --config " + tmp.path("bad2.json") + " --quiet");
    INFO(r.output);
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find("selects no simulated events") != std::string::npos);
  }
  {
    // report reads the fits under their default names (named after the
    // data: an Asimov fit and a toy fit no longer overwrite each other); a
    // result of the wrong kind is named, not read past its keys.
    REQUIRE(run_refinery("fit --config " + cfg + " --asimov --threads 2 --quiet").exit_code == 0);
    REQUIRE(refinery::testing::file_exists(tmp.path("fit_asimov.json")));
    r = run_refinery("report --config " + cfg);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    REQUIRE(r.output.find("Asimov (mu 1)") != std::string::npos);
    // A toy summary: coverage, width, bias and pull width of each mu_true.
    std::ofstream(tmp.path("toys.csv.json"))
        << R"({"per_mu_true": [{"usable": 40, "mu_true": 1.0, "mean_width": 0.25, "coverage": 0.675, "coverage_error": 0.074,)"
        << R"( "bias": -0.0123, "bias_error": 0.0211, "pull_sd": 1.0456, "score": 0.5}]})";
    r = run_refinery("report --config " + cfg);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    REQUIRE(r.output.find("40 toys, mu 1") != std::string::npos);
    REQUIRE(r.output.find("0.6750 +- 0.0740  -0.0123 +- 0.0211   1.0456") != std::string::npos);
    std::filesystem::remove(tmp.path("toys.csv.json"));
    std::ofstream(tmp.path("impacts.json")) << R"({"impacts": {"mu_error": 1}})";
    r = run_refinery("report --config " + cfg);
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find(tmp.path("impacts.json") + ": not a refinery result of the expected kind") != std::string::npos);
  }
  {
    // The report page (issue 16 item 7): the run's tables and figures in one
    // self-contained HTML file, opened in a real headless browser (Debian's
    // chromium-headless-shell, scripts/setup --test): every figure decodes
    // (the page's script counts them), and a screenshot of the page is taken.
    std::filesystem::create_directories(tmp.path("figures"));
    for (const std::string& step : {"impacts --config " + cfg + " --asimov --threads 2 --quiet",
                                    "toys --config " + cfg + " --n 4 --threads 2 --quiet",
                                    "plot pulls " + tmp.path("fit_asimov.json") + " --out " + tmp.path("figures/pulls.png"),
                                    "plot impacts " + tmp.path("impacts.json") + " --out " + tmp.path("figures/impacts.png"),
                                    "plot coverage " + tmp.path("toys.csv.json") + " --out " + tmp.path("figures/coverage.png"),
                                    "report --config " + cfg + " --html --quiet"}) {
      auto s = run_refinery(step);
      INFO(step << "\n" << s.output);
      REQUIRE(s.exit_code == 0);
    }
    const std::string page = read_file(tmp.path("report.html"));
    for (const char* part : {"<h2>Summary</h2>", "<h2>Fits</h2>", "fit_asimov.json", "<h2>Pseudo-experiments</h2>",
                             "<h2>Impacts</h2>", "<h2>Figures (3)</h2>", "data:image/png;base64,"})
      REQUIRE(page.find(part) != std::string::npos);
    const std::string browser = "chromium-headless-shell --no-sandbox --disable-gpu --headless --hide-scrollbars ";
    auto dom = refinery::testing::run_command(browser + "--dump-dom file://" + tmp.path("report.html") + " 2>/dev/null");
    INFO(dom.output.substr(0, 500));
    REQUIRE(dom.exit_code == 0);
    REQUIRE(dom.output.find("data-figures=\"3/3\"") != std::string::npos);
    auto shot = refinery::testing::run_command(browser + "--window-size=1280,2400 --screenshot=" + tmp.path("report.png") + " file://" +
                                               tmp.path("report.html") + " 2>&1");
    INFO(shot.output);
    REQUIRE(shot.exit_code == 0);
    REQUIRE(refinery::testing::png_size(tmp.path("report.png")) == std::pair<int, int>(1280, 2400));
    // A damaged figure does not load, and the page says so.
    std::ofstream(tmp.path("figures/broken.png")) << "not a png";
    REQUIRE(run_refinery("report --config " + cfg + " --html --quiet").exit_code == 0);
    dom = refinery::testing::run_command(browser + "--dump-dom file://" + tmp.path("report.html") + " 2>/dev/null");
    REQUIRE(dom.output.find("data-figures=\"3/4\"") != std::string::npos);
    std::filesystem::remove(tmp.path("figures/broken.png"));
  }
  {
    // A DCR process the simulated file does not have is blamed on the config key.
    json c = small_config(tmp.dir());
    c["dcr"]["processes"] = {"nope"};
    write_json(tmp.path("bad3.json"), c);
    r = run_refinery("train dcr --config " + tmp.path("bad3.json") + " --quiet");
    INFO(r.output);
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find(tmp.path("bad3.json") + ": dcr.processes[0]: no process 'nope' in ") != std::string::npos);
    // So is a process's own setting for a process that is not trained.
    c = small_config(tmp.dir());
    c["dcr"]["per_process"] = {{"nope", {{"ensemble", 2}}}};
    write_json(tmp.path("bad3.json"), c);
    r = run_refinery("train dcr --config " + tmp.path("bad3.json") + " --quiet");
    INFO(r.output);
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find(tmp.path("bad3.json") + ": dcr.per_process.nope: no DCR network is trained for a process 'nope'") !=
            std::string::npos);
  }
  {
    // Two data sources at once.
    r = run_refinery("fit --config " + cfg + " --asimov --toy 3 --quiet");
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find("--toy: conflicts with --asimov") != std::string::npos);
    // Drawn nuisances need a pseudo-experiment; a name that only starts
    // like the keyword is not it (and names no parameter).
    for (const std::string nus : {"from-priors", "from-priors,tes=1"}) {
      r = run_refinery("fit --config " + cfg + " --asimov --nu-true " + nus + " --quiet");
      INFO(nus << ": " << r.output);
      CHECK(r.exit_code == 2);
      CHECK(r.output.find("--nu-true: from-priors needs --toy") != std::string::npos);
    }
    r = run_refinery("fit --config " + cfg + " --asimov --nu-true from-priorsX --quiet");
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("from-priors needs --toy") == std::string::npos);
  }
  {
    // A fit that cannot converge (one Newton iteration allowed): status in
    // the JSON, non-zero exit.
    r = run_refinery("fit --config " + cfg + " --toy 1 --max-iterations 1 --quiet --out " + tmp.path("nc.json"));
    INFO(r.output);
    REQUIRE(r.exit_code == 1);
    json nc = json::parse(read_file(tmp.path("nc.json")));
    REQUIRE(nc["fit"]["converged"] == false);
    REQUIRE(nc["fit"]["status"].get<std::string>().rfind("failed", 0) == 0);
  }
  {
    // An expected-yield sample simulated at a nuisance point nu_e (its rows
    // tagged, as simulation.mc_nu makes them) is brought to the networks'
    // reference point by w / r_p(x|nu_e): at nu_e the model's expected yields
    // are the sample's own weights, whatever the networks learned. The same
    // events tagged soft_met = 1 under a measurement centred there give at its
    // centre the yields the untagged sample gives at soft_met = 0.
    auto yields_at_centre = [&](const json& config, const std::string& name) {
      write_json(tmp.path(name + ".json"), config);
      auto y = run_refinery("yields --config " + tmp.path(name + ".json") + " --asimov --prefit-only --labels --threads 2 --quiet --out " +
                            tmp.path(name + "_yields.json"));
      INFO(name << "\n" << y.output);
      REQUIRE(y.exit_code == 0);
      const json result = json::parse(read_file(tmp.path(name + "_yields.json")));
      INFO(result.dump().substr(0, 2000));
      std::map<std::string, double> totals;
      for (const json& e : result.at("prefit"))
        if (e.contains("process")) totals[e["region"].get<std::string>() + "/" + e["process"].get<std::string>()] = e["total"];
      REQUIRE(totals.size() == 5 * config["measurement"]["regions"].size());  // per region 4 processes and the total
      return totals;
    };
    json at_zero = json::parse(read_file(cfg));
    for (json& n : at_zero["measurement"]["nuisances"])
      if (n["name"] == "soft_met") n = {{"name", "soft_met"}, {"type", "calibration"}, {"constraint", "gaussian"}, {"centre", 0.0}, {"width", 1.0}, {"range", {-5, 5}}};
    const auto plain = yields_at_centre(at_zero, "at_zero");  // sum of w
    const auto at_one = yields_at_centre(json::parse(read_file(cfg)), "at_one");  // sum of w r(x|1)
    const std::string tagged_dir = tmp.path("tagged");
    std::filesystem::create_directories(tagged_dir);
    for (const auto& e : std::filesystem::directory_iterator(tmp.dir()))
      if (e.path().extension() == ".pt") std::filesystem::copy_file(e.path(), tagged_dir + "/" + e.path().filename().string());
    const std::string tag = std::string(debian_python()) + " " + source_path("tests/python/with_nuisances.py") + " " +
                            tmp.path("mc.h5") + " " + tagged_dir + "/mc.h5 ";
    REQUIRE(std::system((tag + "tes=0,soft_met=1").c_str()) == 0);
    json tagged = json::parse(read_file(cfg));
    tagged["output_dir"] = tagged_dir;
    const auto back = yields_at_centre(tagged, "tagged");
    REQUIRE(back.size() == plain.size());
    double largest_effect = 0.0;
    for (const auto& [key, total] : plain) {
      INFO(key);
      REQUIRE(back.at(key) == Approx(total).epsilon(1e-9).margin(1e-12));
      largest_effect = std::max(largest_effect, std::abs(at_one.at(key) / total - 1.0));
    }
    REQUIRE(largest_effect > 1e-4);  // the networks do change the yields at soft_met = 1
    // A column the networks do not model, away from 0: one line, exit 2.
    REQUIRE(std::system((tag + "soft_met=1,pileup=0.5").c_str()) == 0);
    auto bad = run_refinery("fit --config " + tmp.path("tagged.json") + " --asimov --quiet");
    INFO(bad.output);
    REQUIRE(bad.exit_code == 2);
    REQUIRE(bad.output.find(tagged_dir + "/mc.h5: nuisances: events simulated at pileup != 0") != std::string::npos);
    // simulation.mc_nu names the generator's nuisances.
    json wrong = json::parse(read_file(cfg));
    wrong["simulation"]["mc_nu"] = {{"pileup", 1.0}};
    write_json(tmp.path("wrong.json"), wrong);
    bad = run_refinery("simulate --config " + tmp.path("wrong.json") + " --quiet --out " + tmp.path("never"));
    REQUIRE(bad.exit_code == 2);
    REQUIRE(bad.output.find("simulation.mc_nu") != std::string::npos);
    REQUIRE(bad.output.find("pileup") != std::string::npos);
    REQUIRE(!std::filesystem::exists(tmp.path("never")));
  }
  {
    // Yields of the unbinned regions binned in a chosen feature: one bin
    // spanning every value gives each region's expected yields, errors and
    // observed events exactly as the model's own cells do; finer bins add up
    // to them; the bins' errors come through the same covariance.
    const std::string base = "yields --config " + cfg + " --data " + tmp.path("data.h5") + " --threads 2 --quiet --out ";
    REQUIRE(run_refinery("simulate htautau --events 100000 --luminosity 1 --seed 5 --quiet --out " + tmp.path("data.h5")).exit_code == 0);
    auto read = [&](const std::string& options, const std::string& name) {
      auto y = run_refinery(base + tmp.path(name) + options);
      INFO(options << "\n" << y.output);
      REQUIRE(y.exit_code == 0);
      return json::parse(read_file(tmp.path(name)));
    };
    const json own = read("", "y_own.json");
    const json one = read(" --variable DER_mass_vis --edges -1e9,1e9", "y_one.json");
    const json many = read(" --variable DER_mass_vis --edges 0,50,70,90,120,1e9", "y_many.json");
    REQUIRE(one["binning"]["variable"] == "DER_mass_vis");
    REQUIRE(many["binning"]["edges"].size() == 6);
    for (const char* stage : {"prefit", "postfit"}) {
      const json& a = own[stage];
      REQUIRE(a.size() == one[stage].size());
      for (size_t k = 0; k < a.size(); ++k) {
        INFO(stage << " " << a[k]["region"] << "/" << a[k]["process"]);
        const json &b = one[stage][k], &c = many[stage][k];
        REQUIRE(b["region"] == a[k]["region"]);
        REQUIRE(b["process"] == a[k]["process"]);
        REQUIRE(b["total"].get<double>() == Approx(a[k]["total"].get<double>()).epsilon(1e-9).margin(1e-12));
        REQUIRE(b["total_error"].get<double>() == Approx(a[k]["total_error"].get<double>()).epsilon(1e-6).margin(1e-12));
        double sum = 0.0;
        for (const json& v : c["bins"]) sum += v.get<double>();
        REQUIRE(sum == Approx(a[k]["total"].get<double>()).epsilon(1e-9).margin(1e-12));
      }
    }
    for (size_t k = 0; k < own["data"].size(); ++k) {
      double n_own = 0.0, n_many = 0.0;
      for (const json& v : own["data"][k]["bins"]) n_own += v.get<double>();
      for (const json& v : many["data"][k]["bins"]) n_many += v.get<double>();
      REQUIRE(n_many == Approx(n_own).epsilon(1e-12));
    }
    // Bad requests: one line naming the option, exit 2.
    for (const auto& [options, message] : std::vector<std::pair<std::string, std::string>>{
             {" --variable no_such_feature --edges 0,1", "--variable: unknown variable 'no_such_feature'"},
             {" --variable DER_mass_vis", "--edges: needed to bin in the feature 'DER_mass_vis'"},
             {" --edges 0,1", "--edges: goes with --variable"},
             {" --variable DER_mass_vis --edges 5,1", "--edges: bin edges must increase"},
             {" --variable DER_mass_vis --edges 0,x", "--edges: not a number: 'x'"}}) {
      auto bad = run_refinery(base + tmp.path("never.json") + options);
      INFO(options << "\n" << bad.output);
      REQUIRE(bad.exit_code == 2);
      REQUIRE(bad.output.find(message) != std::string::npos);
      REQUIRE(!std::filesystem::exists(tmp.path("never.json")));
    }
  }
  {
    // The cached set-up (issue 14 item 5): the same fit from the cache, with
    // --no-cache, and after a damaged cache entry gives the same numbers to
    // the last bit; another mc.h5 (same name, other bytes) is evaluated afresh.
    const std::string fit = "fit --config " + cfg + " --asimov --mu-true 1.5 --threads 2 --quiet --out ";
    auto numbers = [](const json& j) {
      return std::vector<double>{j["fit"]["parameters"][0]["error"], j["fit"]["nll"], j["interval_68"]["lower"]["value"],
                                 j["interval_68"]["upper"]["value"]};
    };
    for (const auto& [option, source] : std::vector<std::pair<std::string, std::string>>{
             {"", "cache"}, {" --no-cache", "evaluated, not cached"}, {"", "cache"}}) {
      r = run_refinery(fit + tmp.path("again.json") + option);
      INFO(option << "\n" << r.output);
      REQUIRE(r.exit_code == 0);
      json again = json::parse(read_file(tmp.path("again.json")));
      REQUIRE(again["setup"] == source);
      REQUIRE(numbers(again) == numbers(f));
    }
    // Another number of toys leaves the regions as they were: from the cache.
    json other_toys = json::parse(read_file(cfg));
    other_toys["measurement"]["toys"]["n"] = 7;
    write_json(tmp.path("other_toys.json"), other_toys);
    r = run_refinery("fit --config " + tmp.path("other_toys.json") +
                     " --asimov --mu-true 1.5 --threads 2 --quiet --out " + tmp.path("again.json"));
    REQUIRE(r.exit_code == 0);
    REQUIRE(json::parse(read_file(tmp.path("again.json")))["setup"] == "cache");
    // One entry of the networks' outputs; the regions with and without the
    // MC-statistics term (and of the other configs here) beside it.
    std::vector<std::string> evaluated, regions;
    for (const auto& e : std::filesystem::directory_iterator(tmp.path("cache"))) {
      const std::string name = e.path().filename().string();
      (name.rfind("evaluated_", 0) == 0 ? evaluated : regions).push_back(e.path().string());
    }
    REQUIRE(evaluated.size() == 1);
    REQUIRE(regions.size() >= 2);
    const auto damaged_size = std::filesystem::file_size(evaluated[0]) / 2;
    std::filesystem::resize_file(evaluated[0], damaged_size);
    // A pseudo-experiment's fit reads only the regions' cells: the damaged
    // entry of the networks' outputs is neither read nor rewritten.
    r = run_refinery("fit --config " + cfg + " --toy 0 --threads 2 --quiet --out " + tmp.path("toy0.json"));
    REQUIRE(r.exit_code == 0);
    REQUIRE(json::parse(read_file(tmp.path("toy0.json")))["setup"] == "cache");
    REQUIRE(std::filesystem::file_size(evaluated[0]) == damaged_size);
    r = run_refinery(fit + tmp.path("again.json"));
    REQUIRE(r.exit_code == 0);
    json again = json::parse(read_file(tmp.path("again.json")));
    REQUIRE(again["setup"] == "evaluated");  // the damaged entry read as absent, and rewritten
    REQUIRE(numbers(again) == numbers(f));
    r = run_refinery("simulate htautau --events 300000 --luminosity 1 --seed 99 --quiet --out " + tmp.path("mc.h5"));
    REQUIRE(r.exit_code == 0);
    r = run_refinery(fit + tmp.path("again.json"));
    REQUIRE(r.exit_code == 0);
    again = json::parse(read_file(tmp.path("again.json")));
    REQUIRE(again["setup"] == "evaluated");
    REQUIRE(again["fit"]["parameters"][0]["error"].get<double>() != f["fit"]["parameters"][0]["error"].get<double>());
    // An mc.h5 without events is named as the cause, not the regions' selections.
    r = run_refinery("simulate htautau --events 1 --seed 3 --quiet --out " + tmp.path("mc.h5"));
    REQUIRE(r.exit_code == 0);
    r = run_refinery(fit + tmp.path("empty.json"));
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.find(tmp.path("mc.h5") + ": events: holds no events") != std::string::npos);
  }
}
