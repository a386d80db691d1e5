// Experiment configs: schema validation with errors naming file and key path,
// defaults, and the config hash recorded in outputs.
#include "testing.hpp"

#include <fstream>

#include "src/config/experiment_config.h"
#include "src/core/error.h"

using namespace refinery;
using refinery::testing::TempDir;

namespace {
std::string load_error(const TempDir& tmp, const std::string& text) {
  std::ofstream(tmp.path("c.json")) << text;
  try {
    ExperimentConfig::load(tmp.path("c.json"));
  } catch (const ConfigError& e) {
    return e.what();
  } catch (const InputError& e) {
    return std::string("input: ") + e.what();
  }
  return "<no error>";
}
}  // namespace

TEST_CASE("config defaults are filled in and hashed", "[config]") {
  ExperimentConfig c = ExperimentConfig::from_json({{"name", "t"}}, "mem");
  REQUIRE(c.document["seed"] == 1);
  REQUIRE(c.document["simulation"]["luminosity"] == 10.0);
  REQUIRE(c.document["simulation"]["variation_grid"]["step"] == 0.5);
  REQUIRE(c.hash.size() == 16);
  // Spelling a default out does not change the hash; changing a value does.
  ExperimentConfig same = ExperimentConfig::from_json({{"name", "t"}, {"seed", 1}}, "mem");
  ExperimentConfig other = ExperimentConfig::from_json({{"name", "t"}, {"seed", 2}}, "mem");
  REQUIRE(same.hash == c.hash);
  REQUIRE(other.hash != c.hash);
}

TEST_CASE("the shipped experiment configs validate", "[config]") {
  for (const char* f : {"experiments/htautau.json", "experiments/htautau_full.json", "experiments/inferno.json"}) {
    INFO(f);
    ExperimentConfig c = ExperimentConfig::load(refinery::testing::source_path(f));
    REQUIRE(c.document.contains("simulation"));
  }
}

// The hash of a config enters every output made with it: toy shards merge
// only with the hash they were made with, DCR ensemble members and event
// files are matched by it. A schema change that gives a new key a default
// therefore moves the hash of every config and orphans what users made
// before it (stop 49 met this: a default "" for a response nuisance's `of`).
// The shipped configs' hashes are pinned here; a change of one must be
// deliberate, and said in its commit.
TEST_CASE("the shipped experiment configs keep their hashes", "[config]") {
  const std::pair<const char*, const char*> pinned[] = {{"experiments/htautau.json", "39f7c71f11e73df6"},
                                                        {"experiments/htautau_full.json", "3be64a8309b18d37"},
                                                        {"experiments/inferno.json", "2e5fa0ad48266e53"},
                                                        {"experiments/user_events.json", "d57741b8c75bc586"}};
  for (const auto& [file, hash] : pinned) {
    INFO(file);
    CHECK(ExperimentConfig::load(refinery::testing::source_path(file)).hash == hash);
  }
}

TEST_CASE("bad configs name the file and the key", "[config][bad-input]") {
  TempDir tmp("config_bad");
  const std::string f = tmp.path("c.json");
  REQUIRE(load_error(tmp, R"({"name": "x", "sead": 3})") ==
          f + ": sead: unknown key (allowed: name, description, seed, threads, output_dir, simulation, inputs, classifier, sannt, dcr, measurement)");
  REQUIRE(load_error(tmp, R"({"name": "x", "simulation": {"luminosty": 3}})")
              .rfind(f + ": simulation.luminosty: unknown key", 0) == 0);
  REQUIRE(load_error(tmp, R"({"name": "x", "seed": "three"})") ==
          f + ": seed: expected integer, got string");
  REQUIRE(load_error(tmp, R"({"name": "x", "simulation": {"luminosity": -1}})") ==
          f + ": simulation.luminosity: value -1 below minimum 1e-06");
  REQUIRE(load_error(tmp, R"({"name": "x", "simulation": {"events": 2.5}})") ==
          f + ": simulation.events: expected integer, got 2.5");
  REQUIRE(load_error(tmp, R"({"seed": 3})") == f + ": name: required key missing");
  REQUIRE(load_error(tmp, R"({"name": "x", "measurement": {"nuisances": [{"name": "a", "type": "shapesys"}]}})") ==
          f + ": measurement.nuisances[0].type: 'shapesys' is not one of: calibration, normsys, response");
  REQUIRE(load_error(tmp, R"({"name": "x", "simulation": {"variations": [{"tes": 1}, {"jes": "a"}]}})") ==
          f + ": simulation.variations[1].jes: expected number, got string");
  // The DCR ansatz's coordinates are refused when the config is loaded, by
  // the parser the training and the archives use (dcr_coordinate.h).
  REQUIRE(load_error(tmp, R"({"name": "x", "dcr": {"coordinates": {"a": "cube"}}})") ==
          f + ": dcr.coordinates.a: expected linear, square, cubic or knot:T, got 'cube'");
  REQUIRE(load_error(tmp, R"({"name": "x", "dcr": {"coordinates": {"a": "knot:2", "b": "knot:2.05"}}})") ==
          f + ": dcr.coordinates.b: a knot on a grid of 0.1, got 'knot:2.05'");
  REQUIRE(load_error(tmp, R"({"name": "x", "dcr": {"coordinates": {"a": "knot:"}}})") ==
          f + ": dcr.coordinates.a: a knot's position after 'knot:', got 'knot:'");
  REQUIRE(load_error(tmp, R"({"name": "x", "dcr": {"coordinates": {"a": "knot:150"}}})") ==
          f + ": dcr.coordinates.a: a knot within (-100, 100), got 150.000000");
  REQUIRE(load_error(tmp, R"({"name": "x", "dcr": {"coordinates": {"a": 2}}})") ==
          f + ": dcr.coordinates.a: expected string, got integer");
  REQUIRE(load_error(tmp, R"({"name": "x", "dcr": {"coordinates": {"a": "knot:-1.5", "b": "square"}}})") ==
          "<no error>");
  REQUIRE(load_error(tmp, "[1, 2]") == f + ": (top level): expected object, got array");
  REQUIRE(load_error(tmp, "{\n  \"name\": \"x\",\n  \"seed\": 1,,\n}") ==
          "input: " + f + ": line 3 column 13: malformed JSON");
  REQUIRE(load_error(tmp, "").rfind("input: " + f + ": line 1", 0) == 0);
}

TEST_CASE("a missing config file is an input error", "[config][bad-input]") {
  try {
    ExperimentConfig::load("/no/such/config.json");
    FAIL("no error");
  } catch (const InputError& e) {
    REQUIRE(std::string(e.what()) == "/no/such/config.json: no such file");
  }
}

TEST_CASE("docs/formats.md documents every config key", "[config][docs]") {
  std::string doc = refinery::testing::read_file(refinery::testing::source_path("docs/formats.md"));
  std::string table = experiment_schema().describe();
  size_t start = 0;
  int rows = 0;
  while (start < table.size()) {
    size_t end = table.find('\n', start);
    std::string row = table.substr(start, end - start);
    INFO("row missing from docs/formats.md (regenerate with `refinery config --schema`): " << row);
    REQUIRE(doc.find(row) != std::string::npos);
    start = end + 1;
    ++rows;
  }
  REQUIRE(rows >= 10);
}
