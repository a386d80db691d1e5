#include "train/training_flags.h"

#include "src/core/error.h"

namespace refinery {

void check_training_flags(const TrainOptions& opt, const cxxopts::ParseResult& flags,
                          const std::string& config_file, const std::string& config_section) {
  auto fail = [&](const char* flag, const char* key, const std::string& what) {
    if (flags.count(flag) || config_section.empty()) throw InputError("", std::string("--") + flag, what);
    throw InputError(config_file, config_section + "/" + key, what);
  };
  if (opt.epochs < 1) fail("epochs", "epochs", "must be >= 1, got " + std::to_string(opt.epochs));
  if (opt.steps_per_epoch < 1)
    fail("steps", "steps_per_epoch", "must be >= 1, got " + std::to_string(opt.steps_per_epoch));
  if (!(opt.learning_rate > 0)) fail("lr", "learning_rate", "must be positive");
  if (!(opt.lr_decay > 0 && opt.lr_decay <= 1)) fail("lr-decay", "lr_decay", "must lie in (0, 1]");
}

}  // namespace refinery
