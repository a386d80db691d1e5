// The command-line flags of the common training options (TrainOptions):
// their checks report the flag the user gave, or the config key the value
// came from, instead of the trainer's field names.
#pragma once
#include <cxxopts.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/distributed/collective.h"

#include "train/trainer.h"

namespace refinery {

// InputError naming "--epochs", "--steps", "--lr" or "--lr-decay" (or
// `config_section`/<key> when the flag was not given and the value came
// from the config; empty `config_section`: flags only) if `opt` is invalid.
// Hidden layer sizes "128,128" of flag `flag`, each in [1, 65536] (""
// gives none: the caller's default); InputError naming the flag otherwise.
std::vector<int64_t> parse_layer_sizes(const std::string& text, const std::string& flag);

void check_training_flags(const TrainOptions& opt, const cxxopts::ParseResult& flags,
                          const std::string& config_file, const std::string& config_section);

// Data-parallel training: --world-size N (alone: start N local processes),
// --rank R and --master HOST:PORT (one rank of a group started elsewhere),
// --join-timeout S (how long a rank waits for its peers; default 300 s).
void add_distributed_options(cxxopts::Options& options);
// With --world-size N > 1 and no --rank: runs the N ranks as local
// processes (src/distributed/local_launcher.h) and returns the exit code for
// this process to return. Otherwise nothing (nullopt).
std::optional<int> launch_ranks_if_asked(const cxxopts::ParseResult& flags);
// The group this process trains in: one process without the flags; the
// Gloo group of --world-size, --rank and --master (InputError naming the
// flag when one is missing or wrong).
std::shared_ptr<distributed::Collective> join_training_group(const cxxopts::ParseResult& flags);

}  // namespace refinery
