// The command-line flags of the common training options (TrainOptions):
// their checks report the flag the user gave, or the config key the value
// came from, instead of the trainer's field names.
#pragma once
#include <cxxopts.hpp>
#include <string>

#include "train/trainer.h"

namespace refinery {

// InputError naming "--epochs", "--steps", "--lr" or "--lr-decay" (or
// `config_section`/<key> when the flag was not given and the value came
// from the config; empty `config_section`: flags only) if `opt` is invalid.
void check_training_flags(const TrainOptions& opt, const cxxopts::ParseResult& flags,
                          const std::string& config_file, const std::string& config_section);

}  // namespace refinery
