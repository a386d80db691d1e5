// The user-events example (README "Your own events"): an analysis whose
// events another program wrote with h5py (experiments/user_events/
// make_events.py), with its own process and nuisance names, no generator, a
// learned calibration nuisance and a rate systematic, an unbinned and a
// binned region, run end to end from experiments/user_events.json with no
// code change; and the config errors a physicist declaring an analysis can
// make.
#include "tests/testing.hpp"

#include <cmath>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "infer/toy_summary.h"

#include "src/io/event_reader.h"

using namespace refinery::testing;
using nlohmann::json;

namespace {

void write_json(const std::string& path, const json& j) { std::ofstream(path) << j.dump(2); }

// The example's config with short trainings, in `dir`.
json small_user_config(const std::string& dir) {
  json c = json::parse(read_file(source_path("experiments/user_events.json")));
  c["output_dir"] = dir;
  c["inputs"]["directory"] = dir + "/source";
  c["classifier"] = {{"epochs", 4}, {"steps_per_epoch", 60}, {"hidden", {32, 32}}};
  c["dcr"] = {{"epochs", 4}, {"steps", 60}, {"batch", 2048}, {"hidden", {32, 32}}, {"report_features", {"pt_lead", "m_reco"}}};
  c["measurement"]["toys"]["n"] = 6;
  return c;
}

std::string error_line(const std::string& command) {
  auto r = run_refinery(command);
  INFO(r.output);
  REQUIRE(r.exit_code == 2);
  return r.output;
}

}  // namespace

TEST_CASE("User events written by h5py: train, fit, scan, impacts and resampled toys from the config alone",
          "[cli][measurement][user-events]") {
  TempDir tmp("user_events");
  const std::string cfg = tmp.path("c.json");
  write_json(cfg, small_user_config(tmp.dir()));
  const std::string make = "/usr/bin/python3 " + source_path("experiments/user_events/make_events.py") + " " +
                           tmp.dir() + " --scale 0.2 --seed 11 > " + tmp.path("make.log") + " 2>&1";
  INFO(make);
  REQUIRE(std::system(make.c_str()) == 0);
  for (const std::string& stage : {"import --config " + cfg, "train classifier --config " + cfg, "train dcr --config " + cfg}) {
    auto r = run_refinery(stage + " --quiet --threads 2");
    INFO(stage << "\n" << r.output);
    REQUIRE(r.exit_code == 0);
  }

  // The DCR report bins in the config's features (dcr.report_features); an
  // unknown one is refused before any training.
  {
    const json report = json::parse(read_file(tmp.path("dcr_signal.pt.json")));
    std::set<std::string> binned;
    for (const auto& [feature, bins] : report["validation"][0]["bins"].items()) binned.insert(feature);
    REQUIRE(binned == std::set<std::string>{"pt_lead", "m_reco"});
    json bad = small_user_config(tmp.dir());
    bad["dcr"]["report_features"] = {"pt_sub"};
    write_json(tmp.path("bad_report.json"), bad);
    CHECK(error_line("train dcr --config " + tmp.path("bad_report.json") + " --quiet") ==
          "refinery train: error: " + tmp.path("bad_report.json") + ": dcr.report_features: unknown feature "
          "'pt_sub' (the event files': m_reco, pt_lead, eta_lead)\n");
  }

  // Fits Asimov data at `truth` (the POI first, then the nuisances; the
  // auxiliary data at the truth too) with `config` and checks that every
  // parameter, in the parameter table's order, returns its true value.
  auto asimov_returns_truth = [&](const std::string& config, const std::vector<std::pair<std::string, double>>& truth,
                                  const std::string& out) {
    std::string nus;
    for (size_t i = 1; i < truth.size(); ++i)
      nus += (i > 1 ? "," : "") + truth[i].first + "=" + std::to_string(truth[i].second);
    auto fit = run_refinery("fit --config " + config + " --asimov --mu-true " + std::to_string(truth[0].second) +
                            " --nu-true " + nus + " --threads 2 --quiet --out " + out);
    INFO(fit.output);
    REQUIRE(fit.exit_code == 0);
    const json a = json::parse(read_file(out));
    REQUIRE(a["fit"]["status"] == "converged");
    const json& p = a["fit"]["parameters"];
    REQUIRE(p.size() == truth.size());
    for (size_t i = 0; i < truth.size(); ++i) {
      INFO(p[i].dump());
      REQUIRE(p[i]["name"] == truth[i].first);
      CHECK(std::abs(p[i]["value"].get<double>() - truth[i].second) < 1e-5);
    }
  };

  // Asimov data at a shifted truth, auxiliary data included: the fit
  // returns the truth (the likelihood is self-consistent whatever the
  // networks learned).
  auto r = run_refinery("fit --config " + cfg + " --asimov --mu-true 1.5 --nu-true energy_scale=0.8,top_xsec=-0.5 "
                        "--threads 2 --quiet --out " + tmp.path("a.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  json a = json::parse(read_file(tmp.path("a.json")));
  REQUIRE(a["fit"]["status"] == "converged");
  const json& p = a["fit"]["parameters"];
  REQUIRE(p.size() == 3);
  REQUIRE(p[0]["name"] == "mu");
  REQUIRE(p[1]["name"] == "energy_scale");
  REQUIRE(p[2]["name"] == "top_xsec");
  CHECK(std::abs(p[0]["value"].get<double>() - 1.5) < 1e-6);
  CHECK(std::abs(p[1]["value"].get<double>() - 0.8) < 1e-6);
  CHECK(std::abs(p[2]["value"].get<double>() + 0.5) < 1e-6);

  // The pseudo-data (mu = 1, energy_scale = 0.5): mu within four of its
  // standard errors. energy_scale's error (0.02 sigma, a 0.1% scale) is below
  // what DCR networks trained for seconds resolve: it is held to a quarter
  // sigma (the network's accuracy, which issue 14 puts in the likelihood).
  r = run_refinery("fit --config " + cfg + " --data " + tmp.path("data.h5") + " --threads 2 --quiet --out " +
                   tmp.path("d.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  json d = json::parse(read_file(tmp.path("d.json")));
  REQUIRE(d["fit"]["status"] == "converged");
  const json& q = d["fit"]["parameters"];
  CHECK(std::abs(q[0]["value"].get<double>() - 1.0) < 4 * q[0]["error"].get<double>());
  CHECK(std::abs(q[1]["value"].get<double>() - 0.5) < 0.25);
  REQUIRE(d["regions"].size() == 2);
  REQUIRE(d["regions"][0]["name"] == "high_pt");
  REQUIRE(d["regions"][1]["type"] == "binned");

  r = run_refinery("scan --config " + cfg + " --data " + tmp.path("data.h5") + " --points 3 --threads 2 --quiet --out " +
                   tmp.path("s.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  REQUIRE(json::parse(read_file(tmp.path("s.json")))["scan"]["points"].size() == 3);
  r = run_refinery("impacts --config " + cfg + " --data " + tmp.path("data.h5") + " --threads 2 --quiet --out " +
                   tmp.path("i.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  std::set<std::string> ranked;
  const json impacts = json::parse(read_file(tmp.path("i.json")));
  for (const auto& im : impacts["impacts"]["impacts"]) ranked.insert(im["name"].get<std::string>());
  REQUIRE(ranked == std::set<std::string>{"energy_scale", "top_xsec"});

  // Toys resampled from toys.h5: the CSV names the analysis' parameters;
  // with nominal nuisances the truths are the centres.
  r = run_refinery("toys --config " + cfg + " --threads 2 --quiet --out " + tmp.path("toys.csv"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string csv = read_file(tmp.path("toys.csv"));
  REQUIRE(csv.rfind("index,mu_true,energy_scale,top_xsec,energy_scale_hat,top_xsec_hat,energy_scale_error,top_xsec_error,"
                    "energy_scale_constraint_slope,top_xsec_constraint_slope,events,converged,",
                    0) == 0);
  int rows = 0, converged = 0;
  for (const refinery::ToyRow& row : refinery::read_toy_csv(tmp.path("toys.csv"))) {
    ++rows;
    REQUIRE(row.nu_true == std::vector<double>{0.0, 0.0});
    CHECK(row.events > 0);
    converged += row.converged;
  }
  REQUIRE(rows == 6);
  REQUIRE(converged == 6);
  // The same toy twice: the same events (seeded by the config's seed, mu and the index).
  auto t1 = run_refinery("fit --config " + cfg + " --toy 4 --threads 2 --json");
  auto t2 = run_refinery("fit --config " + cfg + " --toy 4 --threads 2 --json");
  REQUIRE(t1.exit_code == 0);
  const json j1 = json::parse(t1.output), j2 = json::parse(t2.output);
  REQUIRE(j1["data"] == j2["data"]);
  REQUIRE(j1["regions"] == j2["regions"]);
  REQUIRE(j1["fit"]["parameters"] == j2["fit"]["parameters"]);
  REQUIRE(j1["data"].get<std::string>().find("resampled") != std::string::npos);

  // A response nuisance (top's learned response to energy_scale uncertain
  // by 20%, docs/htautau.md): Asimov data at a shifted truth, the
  // response's included, return it (the extended coefficients are the same
  // in the data and in the expected yields); pseudo-experiments with the
  // nuisances from their priors keep it at its centre (it describes the
  // networks, not the events).
  {
    json c = small_user_config(tmp.dir());
    c["measurement"]["nuisances"].push_back({{"name", "top_es_response"}, {"type", "response"}, {"of", "energy_scale"},
                                             {"size", 0.2}, {"processes", {"top"}}});
    const std::string c3 = tmp.path("c3.json");
    write_json(c3, c);
    asimov_returns_truth(c3, {{"mu", 1.5}, {"energy_scale", 0.8}, {"top_xsec", -0.5}, {"top_es_response", 0.7}},
                         tmp.path("a3.json"));
    r = run_refinery("toys --config " + c3 + " --n 3 --nu-true from-priors,energy_scale=0.3 --threads 2 --quiet --out " +
                     tmp.path("toys3.csv"));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    int drawn = 0;
    for (const refinery::ToyRow& row : refinery::read_toy_csv(tmp.path("toys3.csv"))) {
      REQUIRE(row.nu_true.size() == 3);
      CHECK(row.nu_true[0] == 0.3);
      CHECK(row.nu_true[2] == 0.0);
      drawn += row.nu_true[1] != 0.0;
    }
    CHECK(drawn == 3);
  }
  // Networks with a cubic term in energy_scale (dcr.coordinates), trained
  // on the same files in a directory of their own: the measurement reads
  // the coordinates from the archives, Asimov data at a shifted truth return
  // it; a range reaching beyond the training points (-2..2) by more than a
  // fifth of their span is refused (a cubic runs away there), and so is a
  // response nuisance beside a cubic network.
  {
    const std::string dir = tmp.path("cubic");
    std::filesystem::create_directories(dir);
    for (const auto& entry : std::filesystem::directory_iterator(tmp.dir())) {
      const std::string name = entry.path().filename().string();
      const bool input = entry.path().extension() == ".h5" || name.rfind("classifier.pt", 0) == 0;
      if (input && entry.is_regular_file()) std::filesystem::create_symlink(entry.path(), dir + "/" + name);
    }
    json c = small_user_config(tmp.dir());
    c["output_dir"] = dir;
    c["dcr"]["coordinates"] = {{"energy_scale", "cubic"}};
    c["measurement"]["nuisances"][0]["range"] = {-2.5, 2.5};
    const std::string c4 = tmp.path("c4.json");
    write_json(c4, c);
    auto train = run_refinery("train dcr --config " + c4 + " --quiet --threads 2");
    INFO(train.output);
    REQUIRE(train.exit_code == 0);
    REQUIRE(json::parse(read_file(dir + "/dcr_top.pt.json"))["coordinates"] == json::array({"cubic"}));
    asimov_returns_truth(c4, {{"mu", 1.5}, {"energy_scale", 0.8}, {"top_xsec", -0.5}}, tmp.path("a4.json"));
    c["measurement"]["nuisances"][0]["range"] = {-4, 4};
    write_json(c4, c);
    CHECK(error_line("fit --config " + c4 + " --asimov --quiet") ==
          "refinery fit: error: " + c4 + ": measurement.nuisances[0].range: [-4, 4] reaches beyond the DCR networks' "
          "training points for 'energy_scale' ([-2, 2]), where their cubic term extrapolates: give a range within "
          "[-2.8, 2.8]\n");
    c["measurement"]["nuisances"][0]["range"] = {-2.5, 2.5};
    c["measurement"]["nuisances"].push_back({{"name", "top_es_response"}, {"type", "response"}, {"of", "energy_scale"},
                                             {"size", 0.2}, {"processes", {"top"}}});
    write_json(c4, c);
    CHECK(error_line("fit --config " + c4 + " --asimov --quiet")
              .find(": measurement.nuisances: a response nuisance ('top_es_response') with DCR networks that carry a "
                    "cubic term") != std::string::npos);
  }
  // A truth where the networks extrapolate (this config's energy_scale has
  // a 0.1% effect per unit, learned in seconds: at 5 units an event's
  // exp(phi . Delta) is astronomical) is refused in one line, exit 2,
  // instead of a Poisson draw of ~1e10 that never ends.
  {
    auto bad_truth = run_refinery("fit --config " + cfg + " --toy 0 --nu-true energy_scale=5 --threads 2 --quiet");
    INFO(bad_truth.output);
    CHECK(bad_truth.exit_code == 2);
    CHECK(bad_truth.output.find("refinery fit: error: pseudo-experiment: truth: resampled at mu = 1, energy_scale = 5, "
                                "top_xsec = 0: simulated event ") != std::string::npos);
    CHECK(bad_truth.output.find("the DCR networks extrapolate there") != std::string::npos);
  }

  // Norm factors. The POI's range down to 0: q0 tests mu = 0, and equals
  // the profile scan's t there (both 2 (NLL(0) - NLL(mu_hat))); Asimov data
  // at mu = 0 give q0 = 0, p0 = 1/2.
  {
    json c = small_user_config(tmp.dir());
    c["measurement"]["poi"]["range"] = {0.0, 10.0};
    const std::string c0 = tmp.path("c0.json");
    write_json(c0, c);
    const std::string data = " --data " + tmp.path("data.h5") + " --threads 2 --quiet";
    r = run_refinery("hypotest --config " + c0 + data + " --test-stat q0 --out " + tmp.path("q0.json"));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    const json h = json::parse(read_file(tmp.path("q0.json")));
    r = run_refinery("scan --config " + c0 + data + " --range 0:0.5 --points 2 --out " + tmp.path("s0.json"));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    const json s0 = json::parse(read_file(tmp.path("s0.json")))["scan"]["points"][0];
    INFO(h.dump() << "\n" << s0.dump());
    REQUIRE(s0["value"].get<double>() == 0.0);
    const double q0 = h["q_obs"].get<double>();
    CHECK(q0 > 1.0);
    CHECK(std::abs(q0 - s0["t"].get<double>()) < 1e-5 * q0);
    CHECK(std::abs(h["p0_obs"].get<double>() - 0.5 * std::erfc(std::sqrt(q0 / 2))) < 1e-9);
    r = run_refinery("hypotest --config " + c0 + " --asimov --mu-true 0 --test-stat q0 --threads 2 --quiet --json");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    const json h0 = json::parse(r.output);
    CHECK(std::abs(h0["q_obs"].get<double>()) < 1e-6);
    CHECK(std::abs(h0["p0_obs"].get<double>() - 0.5) < 1e-3);

    // A second POI (the multijet rate), a free normalisation of top in the
    // binned region alone, top_xsec acting in the unbinned region alone:
    // Asimov data at a shifted truth return it, the new parameters named in
    // the result; the second POI scans in 2D with the first.
    c["measurement"]["normfactors"] = {
        {{"name", "mu_multijet"}, {"processes", {"multijet"}}, {"poi", true}},
        {{"name", "k_top"}, {"processes", {"top"}}, {"regions", {"low_pt"}}, {"range", {0.0, 5.0}}}};
    c["measurement"]["nuisances"][1]["regions"] = {"high_pt"};
    const std::string c2 = tmp.path("c2.json");
    write_json(c2, c);
    asimov_returns_truth(c2, {{"mu", 1.5}, {"mu_multijet", 0.9}, {"k_top", 1.3}, {"energy_scale", 0.8}, {"top_xsec", -0.5}},
                         tmp.path("a2.json"));
    // top_xsec acts on top in high_pt only, k_top in low_pt only: their
    // correlation is that of parameters of separate regions, small.
    r = run_refinery("scan --config " + c2 + " --asimov --poi2 mu_multijet --points 3 --points2 3 --threads 2 --quiet "
                     "--out " + tmp.path("s2.json"));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    REQUIRE(json::parse(read_file(tmp.path("s2.json")))["scan"]["points"].size() == 9);
  }

  // Bad declarations: one line naming the file and key, exit 2.
  auto with = [&](const std::function<void(json&)>& edit) {
    json c = small_user_config(tmp.dir());
    edit(c);
    write_json(tmp.path("bad.json"), c);
    return error_line("fit --config " + tmp.path("bad.json") + " --asimov --quiet");
  };
  const std::string bad = tmp.path("bad.json");
  CHECK(with([](json& c) { c["measurement"]["poi"]["processes"] = {"higgs"}; }) ==
        "refinery fit: error: " + bad + ": measurement.poi.processes: unknown process 'higgs' (the classifier's processes: "
        "signal, multijet, top)\n");
  CHECK(with([](json& c) { c["measurement"]["poi"]["processes"] = json::array(); }) ==
        "refinery fit: error: " + bad + ": measurement.poi.processes: the POI 'mu' scales no process: name the signal "
        "process(es) (the classifier's: signal, multijet, top)\n");
  CHECK(with([](json& c) { c["measurement"]["nuisances"][1]["processes"] = {"tt"}; }) ==
        "refinery fit: error: " + bad + ": measurement.nuisances[1].processes: unknown process 'tt' (the classifier's "
        "processes: signal, multijet, top)\n");
  CHECK(with([](json& c) {
          c["measurement"]["nuisances"].push_back({{"name", "energy_scale"}, {"type", "normsys"}, {"size", 0.1},
                                                   {"processes", {"top"}}});
        }) == "refinery fit: error: " + bad + ": measurement.nuisances[2].name: 'energy_scale' is declared twice (as "
              "calibration and as normsys)\n");
  CHECK(with([](json& c) { c["measurement"]["nuisances"].erase(0); }) ==
        "refinery fit: error: " + tmp.path("dcr_signal.pt") + ": metadata.json: nuisances: the DCR networks' nuisance "
        "'energy_scale' is not declared as a calibration nuisance in " + bad + " (measurement.nuisances)\n");
  CHECK(with([](json& c) {
          c["measurement"]["nuisances"].push_back({{"name", "pileup"}, {"type", "calibration"}});
        }) == "refinery fit: error: " + bad + ": measurement.nuisances[2].name: calibration nuisance 'pileup' is not one "
              "of the DCR networks' nuisances (energy_scale): retrain them with it (dcr.nuisances) or declare it as "
              "normsys\n");
  CHECK(with([](json& c) { c["measurement"]["nuisances"][1]["size"] = 0.0; }) ==
        "refinery fit: error: " + bad + ": measurement.nuisances[1].size: a normsys needs a non-zero size above -1 (its "
        "factor is (1 + size)^nu)\n");
  CHECK(with([](json& c) { c["measurement"]["nuisances"][0]["range"] = {2.0, -2.0}; }) ==
        "refinery fit: error: " + bad + ": measurement.nuisances[0].range: expected [low, high] with low < high\n");
  CHECK(with([](json& c) { c["measurement"]["nuisances"][0]["centre"] = 7.0; }) ==
        "refinery fit: error: " + bad + ": measurement.nuisances[0].centre: the constraint's centre lies outside the "
        "range\n");
  CHECK(with([](json& c) { c["measurement"]["nuisances"][1]["type"] = "shapesys"; }) ==
        "refinery fit: error: " + bad + ": measurement.nuisances[1].type: 'shapesys' is not one of: calibration, "
        "normsys, response\n");
  // Response nuisances: of a nuisance of the networks, for named processes,
  // with a positive size.
  auto response = [](const std::string& of, double size, const json& processes) {
    return [=](json& c) {
      c["measurement"]["nuisances"].push_back(
          {{"name", "es_response"}, {"type", "response"}, {"of", of}, {"size", size}, {"processes", processes}});
    };
  };
  CHECK(with(response("pileup", 0.1, {"top"})) ==
        "refinery fit: error: " + bad + ": measurement.nuisances[2].of: a response nuisance scales the learned response "
        "to one of the DCR networks' nuisances (energy_scale), got 'pileup'\n");
  CHECK(with(response("energy_scale", 0.0, {"top"})) ==
        "refinery fit: error: " + bad + ": measurement.nuisances[2].size: a response nuisance needs a positive size (the "
        "relative response uncertainty)\n");
  CHECK(with(response("energy_scale", 0.1, json::array())) ==
        "refinery fit: error: " + bad + ": measurement.nuisances[2].processes: a response nuisance scales at least one "
        "process's response\n");
  CHECK(with(response("energy_scale", 0.1, {"tt"})) ==
        "refinery fit: error: " + bad + ": measurement.nuisances[2].processes: unknown process 'tt' (the classifier's "
        "processes: signal, multijet, top)\n");
  CHECK(with([](json& c) { c["measurement"]["nuisances"][1]["regions"] = {"signal_region"}; }) ==
        "refinery fit: error: " + bad + ": measurement.nuisances[1].regions: unknown region 'signal_region' "
        "(measurement.regions: high_pt, low_pt)\n");
  CHECK(with([](json& c) { c["measurement"]["nuisances"][0]["regions"] = {"low_pt"}; }) ==
        "refinery fit: error: " + bad + ": measurement.nuisances[0].regions: a calibration nuisance acts through the "
        "DCR networks of every process in every region (no size, processes or regions)\n");
  CHECK(with([](json& c) {
          c["measurement"]["normfactors"] = {{{"name", "k_top"}, {"processes", {"top"}}, {"range", {-1.0, 5.0}}}};
        }) == "refinery fit: error: " + bad + ": measurement.normfactors[0].range: expected 0 <= low (a normfactor "
              "multiplies a rate)\n");
  CHECK(with([](json& c) {
          c["measurement"]["normfactors"] = {{{"name", "top_xsec"}, {"processes", {"top"}}}};
        }) == "refinery fit: error: " + bad + ": measurement.nuisances[1].name: 'top_xsec' is declared twice (as "
              "normfactor and as normsys)\n");
  CHECK(with([](json& c) { c["measurement"]["normfactors"] = {{{"name", "k"}, {"processes", {"qcd"}}}}; }) ==
        "refinery fit: error: " + bad + ": measurement.normfactors[0].processes: unknown process 'qcd' (the "
        "classifier's processes: signal, multijet, top)\n");
  CHECK(with([](json& c) { c["measurement"]["poi"]["range"] = {-1.0, 10.0}; }) ==
        "refinery fit: error: " + bad + ": measurement.poi.range: expected 0 <= low (the POI multiplies a rate)\n");
  CHECK(with([](json& c) { c["measurement"]["regions"][0]["selection"] = "pt_sub > 3"; })
            .find(bad + ": measurement.regions[0].selection") != std::string::npos);
  // A toy sample with a negative weight is refused, naming the file and row.
  const std::string neg = "/usr/bin/python3 -c \"import h5py; f = h5py.File('" + tmp.path("toys.h5") +
                          "', 'r+'); w = f['weights']; w[5] = -w[5]; f.close()\"";
  REQUIRE(std::system(neg.c_str()) == 0);
  CHECK(error_line("fit --config " + cfg + " --toy 0 --quiet") ==
        "refinery fit: error: " + tmp.path("toys.h5") + ": weights: negative weight in row 5: toys draw each event "
        "Poisson(w R) times, which needs w >= 0\n");
  // An expected-yield sample without events of a process the networks know.
  const std::string drop = "/usr/bin/python3 -c \"import h5py\n"
                           "with h5py.File('" + tmp.path("mc.h5") + "', 'r') as f:\n"
                           "    keep = f['process'][:] != 2\n"
                           "    data = {k: f[k][:][keep] for k in ('features', 'weights', 'process')}\n"
                           "    attrs = dict(f.attrs)\n"
                           "with h5py.File('" + tmp.path("mc.h5") + "', 'w') as g:\n"
                           "    for k, v in data.items(): g.create_dataset(k, data=v)\n"
                           "    for k, v in attrs.items(): g.attrs[k] = v\n\"";
  REQUIRE(std::system(drop.c_str()) == 0);
  CHECK(error_line("fit --config " + cfg + " --asimov --quiet") ==
        "refinery fit: error: " + tmp.path("mc.h5") + ": process: no simulated events of process 'top' (the expected "
        "yields need them)\n");
}

TEST_CASE("refinery import: other programs' per-process files into event files, exact, and bad declarations in one line",
          "[cli][import][user-events]") {
  TempDir tmp("import");
  // Two processes in two layouts: a 2D int16 feature dataset with float32
  // weights and a scale, and float64/uint8 columns in a group.
  const std::string make = "/usr/bin/python3 -c \"import h5py, numpy as np\n"
                           "with h5py.File('" + tmp.path("a.h5") + "', 'w') as f:\n"
                           "    f['x'] = np.array([[1, -2], [3, 4], [5, 600]], dtype=np.int16)\n"
                           "    f['w'] = np.array([0.5, 1.5, 2.0], dtype=np.float32)\n"
                           "    f['evt'] = np.array([10, 11, 12], dtype=np.int64)\n"
                           "    f['name'] = np.array([b'a', b'b', b'c'])\n"
                           "    f['short'] = np.array([1.0, 2.0])\n"
                           "with h5py.File('" + tmp.path("b.h5") + "', 'w') as f:\n"
                           "    f['cols/f1'] = np.array([7, 8], dtype=np.uint8)\n"
                           "    f['cols/f2'] = np.array([0.25, -1e-3])\n"
                           "    f['w'] = np.array([3.0, 4.0])\n"
                           "    f['evt'] = np.array([20, 21])\n"
                           "    f['nan'] = np.array([1.0, np.nan])\n"
                           "\"";
  REQUIRE(std::system(make.c_str()) == 0);
  json c = {{"name", "import_test"},
            {"output_dir", tmp.path("out")},
            {"simulation", {{"luminosity", 2.0}}},
            {"inputs",
             {{"features", {"f1", "f2"}},
              {"processes", {"s", "b"}},
              {"samples",
               {{{"sample", "nominal"}, {"process", "s"}, {"file", "a.h5"}, {"features", "x"}, {"weights", "w"},
                 {"scale", 2.0}, {"event", "evt"}},
                {{"sample", "nominal"}, {"process", "b"}, {"file", "b.h5"}, {"group", "cols"}, {"weights", "w"},
                 {"event", "evt"}},
                {{"sample", "variations"}, {"process", "b"}, {"file", "b.h5"}, {"group", "cols"},
                 {"weights", "w"}, {"nuisances", {{"jes", 1.0}}}},
                {{"sample", "data"}, {"file", "a.h5"}, {"features", "x"}, {"weights", ""}}}}}}};
  const std::string cfg = tmp.path("c.json");
  write_json(cfg, c);
  auto r = run_refinery("import --config " + cfg);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  refinery::EventMeta meta;
  refinery::EventSet e = refinery::read_events(tmp.path("out/nominal.h5"), &meta);
  REQUIRE(meta.feature_names == std::vector<std::string>{"f1", "f2"});
  REQUIRE(meta.process_names == std::vector<std::string>{"s", "b"});
  REQUIRE(meta.luminosity == 2.0);
  REQUIRE(meta.generator == "refinery import");
  REQUIRE(torch::equal(e.features, torch::tensor({1.f, -2.f, 3.f, 4.f, 5.f, 600.f, 7.f, 0.25f, 8.f, -1e-3f}).view({5, 2})));
  REQUIRE(torch::equal(e.weights, torch::tensor({1.0, 3.0, 4.0, 3.0, 4.0}, torch::kFloat64)));
  REQUIRE(torch::equal(e.process, torch::tensor({0, 0, 0, 1, 1}, torch::kInt32)));
  REQUIRE(torch::equal(e.event, torch::tensor({10, 11, 12, 20, 21}, torch::kInt64)));
  refinery::EventMeta vmeta;
  refinery::EventSet v = refinery::read_events(tmp.path("out/variations.h5"), &vmeta);
  REQUIRE(vmeta.nuisance_names == std::vector<std::string>{"jes"});
  REQUIRE(torch::equal(v.nuisances, torch::ones({2, 1})));
  refinery::EventSet d = refinery::read_events(tmp.path("out/data.h5"));
  REQUIRE(torch::equal(d.weights, torch::ones({3}, torch::kFloat64)));
  REQUIRE(r.output.find("variations  b") != std::string::npos);
  REQUIRE(r.output.find("jes=1") != std::string::npos);

  // Bad declarations and files: one line naming the file and key or
  // dataset, exit 2, and no event file written.
  auto fails = [&](const std::function<void(json&)>& edit) {
    json b = c;
    b["output_dir"] = tmp.path("bad_out");
    edit(b);
    write_json(tmp.path("bad.json"), b);
    auto res = run_refinery("import --config " + tmp.path("bad.json") + " --quiet");
    INFO(res.output);
    REQUIRE(res.exit_code == 2);
    REQUIRE(std::count(res.output.begin(), res.output.end(), '\n') == 1);
    REQUIRE(!std::filesystem::exists(tmp.path("bad_out")));
    return res.output;
  };
  const std::string bad = tmp.path("bad.json"), a = tmp.path("a.h5"), bfile = tmp.path("b.h5");
  auto s0 = [](json& b) -> json& { return b["inputs"]["samples"][0]; };
  CHECK(fails([&](json& b) { s0(b)["file"] = "none.h5"; }) ==
        "refinery import: error: " + tmp.path("none.h5") + ": file: not found\n");
  CHECK(fails([&](json& b) { s0(b)["weights"] = "weight"; }) ==
        "refinery import: error: " + a + ": weight: no such dataset\n");
  CHECK(fails([&](json& b) { s0(b)["weights"] = "short"; }) ==
        "refinery import: error: " + a + ": short: has 2 rows where x has 3 (" + bad + ": inputs.samples[0].file)\n");
  CHECK(fails([&](json& b) { s0(b)["weights"] = "name"; }) ==
        "refinery import: error: " + a + ": name: is not numeric (integer or floating point)\n");
  CHECK(fails([&](json& b) { b["inputs"]["features"] = {"f1", "f2", "f3"}; }) ==
        "refinery import: error: " + a + ": x: has 2 columns, inputs.features names 3 (" + bad +
            ": inputs.samples[0].features)\n");
  CHECK(fails([&](json& b) { b["inputs"]["samples"][1]["weights"] = "nan"; }) ==
        "refinery import: error: " + bfile + ": weights: non-finite value (NaN or inf) in row 1\n");
  CHECK(fails([&](json& b) { s0(b)["process"] = "q"; }) ==
        "refinery import: error: " + bad + ": inputs.samples[0].process: unknown process 'q' (inputs.processes)\n");
  CHECK(fails([&](json& b) { b["inputs"]["samples"][2].erase("nuisances"); }) ==
        "refinery import: error: " + bad + ": inputs.samples[2].nuisances: a variation sample names the nuisance "
        "values it was simulated at\n");
  CHECK(fails([&](json& b) { b["inputs"]["samples"][1].erase("event"); }) ==
        "refinery import: error: " + bad + ": inputs.samples[1].event: every file of the nominal sample gives event "
        "numbers, or none does\n");
  CHECK(fails([&](json& b) { b["inputs"]["samples"][1]["group"] = "rows"; }) ==
        "refinery import: error: " + bfile + ": rows/f1: no such dataset\n");
  CHECK(fails([&](json& b) { b["inputs"]["samples"] = json::array(); }) ==
        "refinery import: error: " + bad + ": inputs.samples: no samples declared: name each sample's file per "
        "process\n");
}
