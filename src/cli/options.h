// Options shared by every subcommand: --config, --threads, --seed, --out,
// --quiet, --help. Commands add their own on top.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "src/config/experiment_config.h"

namespace refinery::cli {

struct CommonOptions {
  std::string config_path;              // empty: built-in default experiment
  int threads = 0;                      // 0: config's value or all cores
  std::optional<std::uint64_t> seed;    // overrides the config's seed
  std::string out;
  bool quiet = false;
};

// Adds the common options to `options` (each flag optional by design).
void add_common_options(cxxopts::Options& options, bool with_config = true,
                        bool with_out = true);
// Parses; prints help and returns nullopt when --help was given.
std::optional<cxxopts::ParseResult> parse(cxxopts::Options& options, int argc, char** argv);
CommonOptions common_options(const cxxopts::ParseResult& result);
// A --threads value in 0..kMaxThreads (0: all cores); else InputError naming the flag.
int checked_threads(long threads);
// Loads the experiment (or the default one), applies --seed, sets threads
// (LibTorch's too: defined in setup_experiment.cpp, the library's LibTorch part).
ExperimentConfig setup_experiment(CommonOptions& common);

// A share of the pseudo-experiments, "i/N" (0 <= i < N): the toys whose
// index is i modulo N. Bad text: InputError naming `option` and the text.
struct Shard {
  int index = 0, count = 1;
};
Shard parse_shard(const std::string& text, const std::string& option = "--shard");

// `refinery COMMAND --merge SHARD...` of a sharded command: its shard files
// (InputError naming --merge when none is given), --out, --quiet, --json.
// nullopt after --help.
struct MergeCommand {
  std::vector<std::string> files;
  CommonOptions common;
  bool json = false;
};
std::optional<MergeCommand> parse_merge_command(int argc, char** argv, const std::string& what,
                                                const std::string& files_help);

// Finite numbers separated by commas ("0.5,1,2"). InputError naming
// `option` and the item that is not a number.
std::vector<double> parse_numbers(const std::string& text, const std::string& option);

}  // namespace refinery::cli
