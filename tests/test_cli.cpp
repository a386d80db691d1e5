// The refinery executable: help, version, exit codes, one-line errors.
#include "testing.hpp"

#include <fstream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

using refinery::testing::run_refinery;
using refinery::testing::TempDir;

namespace {
int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}
}  // namespace

TEST_CASE("refinery --help lists the commands and --version names the libraries", "[cli]") {
  auto help = run_refinery("--help");
  REQUIRE(help.exit_code == 0);
  for (const char* c : {"simulate", "inspect", "config", "train classifier", "train dcr", "train sannt", "toys"})
    REQUIRE(help.output.find(c) != std::string::npos);
  // A group of commands (registered by its stage as "train SUB"): its own
  // help, and one line for a missing or unknown member.
  auto group = run_refinery("train --help");
  REQUIRE(group.exit_code == 0);
  REQUIRE(group.output.rfind("Usage: refinery train WHAT [options]\n  classifier  ", 0) == 0);
  auto missing = run_refinery("train");
  REQUIRE(missing.exit_code == 2);
  REQUIRE(missing.output == "refinery train: error: WHAT: train what? 'classifier', 'dcr', 'sannt', 'ratio' or 'sally', got ''\n");
  auto member = run_refinery("train dcr --help");
  REQUIRE(member.exit_code == 0);
  REQUIRE(member.output.find("--nominal") != std::string::npos);
  auto version = run_refinery("--version");
  REQUIRE(version.exit_code == 0);
  REQUIRE(version.output.find("LibTorch 1.13") != std::string::npos);
  REQUIRE(version.output.find("HDF5 1.10") != std::string::npos);
  REQUIRE(version.output.find("commit") != std::string::npos);
  auto sub = run_refinery("inspect --help");
  REQUIRE(sub.exit_code == 0);
  REQUIRE(sub.output.find("--threads") != std::string::npos);
}

TEST_CASE("every command refinery --help lists answers --help with its usage", "[cli]") {
  const auto help = run_refinery("--help");
  REQUIRE(help.exit_code == 0);
  std::vector<std::string> commands{"simulate theory"};  // a generator with its own options
  std::istringstream lines_in(help.output.substr(help.output.find("Commands:\n") + 10));
  for (std::string line; std::getline(lines_in, line) && line.rfind("  ", 0) == 0;)
    commands.push_back(line.substr(2, line.find("  ", 2) - 2));
  REQUIRE(commands.size() > 25);
  for (const auto& c : commands) {
    INFO(c);
    const auto r = run_refinery(c + " --help");
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("Usage:") != std::string::npos);
    const auto h = run_refinery(c + " -h");
    CHECK(h.exit_code == 0);
  }
}

TEST_CASE("usage and input errors exit with 2 and one line", "[cli][bad-input]") {
  TempDir tmp("cli_bad");
  auto unknown = run_refinery("frobnicate");
  REQUIRE(unknown.exit_code == 2);
  REQUIRE(lines(unknown.output) == 1);

  auto bad_option = run_refinery("inspect --no-such-flag x.h5");
  REQUIRE(bad_option.exit_code == 2);
  REQUIRE(lines(bad_option.output) == 1);

  auto missing = run_refinery("inspect " + tmp.path("missing.h5"));
  REQUIRE(missing.exit_code == 2);
  REQUIRE(missing.output == "refinery inspect: error: " + tmp.path("missing.h5") + ": no such file\n");

  std::ofstream(tmp.path("bad.json")) << R"({"name": "x", "simulation": {"evnets": 5}})";
  auto config = run_refinery("config --config " + tmp.path("bad.json"));
  REQUIRE(config.exit_code == 2);
  REQUIRE(lines(config.output) == 1);
  REQUIRE(config.output.find(tmp.path("bad.json") + ": simulation.evnets: unknown key") !=
          std::string::npos);

  auto threads = run_refinery("config --threads -3");
  REQUIRE(threads.exit_code == 2);
}

TEST_CASE("refinery config prints the document with defaults and its hash", "[cli][config]") {
  auto r = run_refinery("config --config " + refinery::testing::source_path("experiments/htautau.json"));
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.output.find("config hash: ") != std::string::npos);
  REQUIRE(r.output.find("\"luminosity\": 10.0") != std::string::npos);
  // --get takes keys as messages write them, and the JSON-pointer form.
  const std::string cfg = " --config " + refinery::testing::source_path("experiments/htautau.json");
  auto dotted = run_refinery("config" + cfg + " --get measurement.regions[0].name");
  REQUIRE(dotted.exit_code == 0);
  CHECK(dotted.output == "vbf\n");
  CHECK(run_refinery("config" + cfg + " --get measurement/regions/0/name").output == dotted.output);
  CHECK(run_refinery("config" + cfg + " --get simulation.luminosity").output == "10.0\n");
  auto missing = run_refinery("config" + cfg + " --get simulation.lumi");
  CHECK(missing.exit_code == 2);
  CHECK(missing.output.find(": simulation.lumi: no such key") != std::string::npos);
}

TEST_CASE("the front end runs workspace commands without LibTorch and hands every other command line over",
          "[cli][front-end]") {
  using refinery::testing::run_command;
  using refinery::testing::source_path;
  // `refinery` links neither LibTorch nor OpenMP (app/front_end.cpp): a
  // whole-process HistFactory command does not pay their start-up.
  auto libs = run_command(std::string("ldd ") + REFINERY_BINARY);
  REQUIRE(libs.exit_code == 0);
  CHECK(libs.output.find("libtorch") == std::string::npos);
  CHECK(libs.output.find("libc10") == std::string::npos);
  CHECK(libs.output.find("libgomp") == std::string::npos);
  CHECK(libs.output.find("libhdf5") == std::string::npos);
  // ... and refinery-full, next to it, does.
  const std::string full = std::string(REFINERY_BINARY) + "-full";
  auto full_libs = run_command("ldd " + full);
  REQUIRE(full_libs.exit_code == 0);
  CHECK(full_libs.output.find("libtorch") != std::string::npos);

  // A workspace hypotest in the front end equals the full executable's, byte
  // for byte (the same code on the same model).
  const std::string ws = source_path("tests/data/pyhf/workspaces/twobin_lumi_multi.json");
  auto front = run_refinery("hypotest " + ws + " --mu 1.5 --json");
  auto back = run_command(full + " hypotest " + ws + " --mu 1.5 --json 2>&1");
  REQUIRE(front.exit_code == 0);
  REQUIRE(back.exit_code == 0);
  auto front_json = nlohmann::json::parse(front.output), back_json = nlohmann::json::parse(back.output);
  CHECK(front_json.at("status") == "converged");
  front_json.erase("seconds");  // the only field that may differ
  back_json.erase("seconds");
  CHECK(front_json == back_json);
  // Input errors in the front end: one line, exit 2, as in the full executable.
  auto bad = run_refinery("hypotest " + ws + " --mu 1e300");
  CHECK(bad.exit_code == 2);
  CHECK(lines(bad.output) == 1);
  CHECK(bad.output == run_command(full + " hypotest " + ws + " --mu 1e300 2>&1").output);

  // Handed over: the banner names LibTorch (only refinery-full links it),
  // exit codes and messages pass through, and an experiment given to a
  // model command runs in the full executable.
  auto version = run_refinery("--version");
  CHECK(version.exit_code == 0);
  CHECK(version.output.find("LibTorch") != std::string::npos);
  // Each passes its build to the other: a front end names its own to the
  // refinery-full it starts (a stand-in next to a copy of it prints what it
  // got), and refinery-full refuses a front end of another build, naming
  // both, instead of answering for a build the user did not run.
  {
    TempDir fe("front_end_build");
    REQUIRE(run_command("cp " + std::string(REFINERY_BINARY) + " " + fe.path("refinery")).exit_code == 0);
    std::ofstream(fe.path("refinery-full")) << "#!/bin/sh\necho \"full: $REFINERY_FRONT_END_BUILD\"\n";
    REQUIRE(run_command("chmod +x " + fe.path("refinery-full")).exit_code == 0);
    auto passed = run_command(fe.path("refinery") + " --version");
    REQUIRE(passed.exit_code == 0);
    REQUIRE(passed.output.rfind("full: ", 0) == 0);
    const std::string build = passed.output.substr(6, passed.output.size() - 7);  // "VERSION COMMIT"
    const std::string commit = build.substr(build.find(' ') + 1);
    CHECK(version.output.find("refinery " + build.substr(0, build.find(' ')) + " (commit " + commit + ")") == 0);
  }
  auto other = run_command("REFINERY_FRONT_END_BUILD='0.0.0 000000000000' " + full + " --version");
  CHECK(other.exit_code == 1);
  CHECK(other.output.rfind("refinery: internal error: ", 0) == 0);
  CHECK(other.output.find(", the front end that started it refinery 0.0.0 000000000000: install the two together\n") !=
        std::string::npos);
  auto unknown = run_refinery("simulate --no-such-flag");
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.output.rfind("refinery simulate: usage error:", 0) == 0);
  TempDir tmp("front_end");
  {
    std::ofstream(tmp.path("c.json")) << "{\"name\": \"fe\", \"output_dir\": \"" << tmp.dir() << "/out\"}";
  }
  auto experiment = run_refinery("fit --config " + tmp.path("c.json") + " --quiet");
  CHECK(experiment.exit_code == 2);  // no networks trained there: named by the full executable
  CHECK(lines(experiment.output) == 1);
  CHECK(experiment.output.find("refinery fit: error: ") == 0);
  CHECK(experiment.output.find(tmp.dir() + "/out/classifier.pt: file: missing") != std::string::npos);
}
