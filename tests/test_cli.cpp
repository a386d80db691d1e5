// The refinery executable: help, version, exit codes, one-line errors.
#include "testing.hpp"

#include <fstream>

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
  REQUIRE(missing.output == "refinery train: error: WHAT: train what? 'classifier', 'dcr' or 'sannt', got ''\n");
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
}
