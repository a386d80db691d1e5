// Combinations of analyses (infer/combination_source.h): two pyhf
// workspaces sharing the POI and one correlated nuisance equal the
// hand-built workspace that holds both (NLL, CLs, limits), and what a
// combination must refuse is refused with one line.
#include "tests/testing.hpp"

#include <fstream>
#include <random>
#include <set>

#include "infer/combination_source.h"
#include "src/histfactory/hf_model.h"
#include "src/histfactory/workspace.h"
#include "src/stats/hypotest.h"
#include "src/stats/workspace_model.h"

using namespace refinery;
using nlohmann::json;

namespace {

json read(const std::string& name) {
  return json::parse(refinery::testing::read_file(refinery::testing::source_path("tests/data/pyhf/workspaces/" + name)));
}

// The workspace's channels and parameters renamed for the hand-built
// combination: channel c -> <prefix>_c, parameter p -> <prefix>/p except
// the POI and the names in `keep`.
void rename_into(const json& ws, const std::string& prefix, const std::set<std::string>& keep, json* out) {
  auto name = [&](const std::string& p) { return keep.count(p) ? p : prefix + "/" + p; };
  for (json c : ws["channels"]) {
    c["name"] = prefix + "_" + c["name"].get<std::string>();
    for (auto& s : c["samples"])
      for (auto& m : s["modifiers"]) m["name"] = name(m["name"]);
    (*out)["channels"].push_back(c);
  }
  for (json o : ws["observations"]) {
    o["name"] = prefix + "_" + o["name"].get<std::string>();
    (*out)["observations"].push_back(o);
  }
  for (json p : ws["measurements"][0]["config"]["parameters"]) {
    p["name"] = name(p["name"]);
    (*out)["measurements"][0]["config"]["parameters"].push_back(p);
  }
}

}  // namespace

TEST_CASE("A combination of two workspaces is the workspace that holds both, and what it must refuse is refused",
          "[combination][cli]") {
  refinery::testing::TempDir tmp("combination");
  const json a = read("twobin_lumi_multi.json"), b = read("threebin_histosys_staterror.json");
  std::ofstream(tmp.path("a.json")) << a.dump();
  std::ofstream(tmp.path("b.json")) << b.dump();
  const json combination = {{"combination", 1},
                            {"poi", "mu"},
                            {"analyses", {{{"name", "A"}, {"workspace", "a.json"}}, {{"name", "B"}, {"workspace", "b.json"}}}},
                            {"correlated", {{"jes", {"A/jes", "B/jes"}}}},
                            {"overlapping", json::array({json::array({"B", "C"})})}};
  std::ofstream(tmp.path("c.json")) << combination.dump();
  const auto combined = cli::load_combination(combination, tmp.path("c.json"));

  json both = {{"channels", json::array()},
               {"observations", json::array()},
               {"measurements", {{{"name", "m"}, {"config", {{"poi", "mu"}, {"parameters", json::array()}}}}}},
               {"version", "1.0.0"}};
  rename_into(a, "A", {"mu", "jes"}, &both);
  rename_into(b, "B", {"mu", "jes"}, &both);
  const stats::WorkspaceModel hand(histfactory::HistFactoryModel(histfactory::Workspace::from_json(both, "both.json")));
  REQUIRE(combined->size() == hand.size());
  REQUIRE(combined->index("jes") >= 0);
  REQUIRE(combined->index("A/lumi") >= 0);
  REQUIRE(combined->index("B/staterror_sr[0]") >= 0);
  std::mt19937_64 rng(5);
  std::normal_distribution<double> z(0.0, 0.3);
  for (int trial = 0; trial < 5; ++trial) {
    Eigen::VectorXd x = combined->init(), y(hand.size());
    for (int i = 0; i < x.size(); ++i)
      if (!combined->parameters()[i].fixed) x[i] = std::clamp(x[i] + z(rng), combined->lower()[i], combined->upper()[i]);
    for (int i = 0; i < x.size(); ++i) y[hand.index(combined->parameters()[i].name)] = x[i];
    REQUIRE(combined->nll(x) == Approx(hand.nll(y)).epsilon(1e-12));
  }
  stats::AsymptoticCalculator ca(*combined, combined->poi()), cb(hand, hand.poi());
  const auto ra = ca.hypotest(1.0), rb = cb.hypotest(1.0);
  REQUIRE(ra.cls == Approx(rb.cls).margin(1e-8));
  REQUIRE(ca.upper_limits().observed == Approx(cb.upper_limits().observed).epsilon(1e-6));

  // Through the CLI, in a workspace's place.
  auto r = refinery::testing::run_refinery("limit " + tmp.path("c.json") + " --quiet");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  r = refinery::testing::run_refinery("inspect " + tmp.path("c.json"));
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.output.find("analysis A: 4 own parameters\nanalysis B: 3 own parameters\nshared: jes, mu (POI)\n") !=
          std::string::npos);
  // Toy shards of a combination carry the files it names in their identity:
  // a shard made after one of the workspaces changed is not merged.
  REQUIRE(refinery::testing::run_refinery("toys " + tmp.path("c.json") + " --n 4 --shard 0/2 --quiet --out " + tmp.path("s0.csv"))
              .exit_code == 0);
  json changed = b;
  changed["observations"][0]["data"][0] = changed["observations"][0]["data"][0].get<double>() + 5.0;
  std::ofstream(tmp.path("b.json")) << changed.dump();
  REQUIRE(refinery::testing::run_refinery("toys " + tmp.path("c.json") + " --n 4 --shard 1/2 --quiet --out " + tmp.path("s1.csv"))
              .exit_code == 0);
  std::ofstream(tmp.path("b.json")) << b.dump();
  r = refinery::testing::run_refinery("toys --merge " + tmp.path("s0.csv") + " " + tmp.path("s1.csv") + " --workspace " +
                                      tmp.path("c.json") + " --out " + tmp.path("m.csv"));
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.output.rfind("refinery toys: error: " + tmp.path("s1.csv.json") + ": config_hash: ", 0) == 0);
  auto refused = [&](json c, const std::string& message) {
    std::ofstream(tmp.path("bad.json")) << c.dump();
    const auto e = refinery::testing::run_refinery("fit " + tmp.path("bad.json"));
    INFO(e.output);
    REQUIRE(e.exit_code == 2);
    REQUIRE(e.output == "refinery fit: error: " + tmp.path("bad.json") + ": " + message + "\n");
  };
  json c = combination;
  c["overlapping"] = json::array({json::array({"A", "B"})});
  refused(c, "overlapping[0]: analyses 'A' and 'B' are marked as overlapping (their events are not independent): "
             "combine at most one of them");
  c = combination;
  c["correlated"]["lumi"] = {"A/lumi", "B/lumi"};
  refused(c, "correlated.lumi: 'B/lumi': the analysis has no such parameter");
  c = combination;
  c["analyses"][1]["name"] = "A";
  refused(c, "analyses[1].name: 'A' twice");
  c = combination;
  c["correlated"]["jes"] = {"A/jes", "D/jes"};
  refused(c, "correlated.jes[1]: 'D/jes': expected \"analysis/parameter\" of an analysis in \"analyses\"");
}
