// setup_experiment (src/cli/options.h): in the library's LibTorch part, as
// it sets LibTorch's threads; the rest of options.cpp is LibTorch-free.
#include "src/cli/options.h"
#include "src/core/threads.h"

namespace refinery::cli {

ExperimentConfig setup_experiment(CommonOptions& common) {
  ExperimentConfig config = common.config_path.empty()
                                ? ExperimentConfig::default_experiment()
                                : ExperimentConfig::load(common.config_path);
  if (common.seed) {
    config.document["seed"] = *common.seed;
    config = ExperimentConfig::from_json(config.document, config.file);
  }
  int threads = common.threads > 0 ? common.threads : config.document.value("threads", 0);
  set_threads(threads);
  return config;
}

}  // namespace refinery::cli
