// The list of subcommands and the small ones that belong to no stage.
#include <iostream>

#include "src/cli/command.h"
#include "src/cli/options.h"
#include "src/core/error.h"
#include "src/core/atomic_file.h"
#include "src/io/event_summary.h"

namespace refinery::cli {

int run_simulate(int argc, char** argv);  // data/simulate_command.cpp
int run_fit(int argc, char** argv);       // infer/inference_commands.cpp
int run_scan(int argc, char** argv);
int run_impacts(int argc, char** argv);
int run_hypotest(int argc, char** argv);
int run_limit(int argc, char** argv);
int inspect_workspace(const std::string& path);  // infer/workspace_commands.cpp
int run_train(int argc, char** argv);     // train/train_command.cpp
int run_eval(int argc, char** argv);      // infer/eval_command.cpp
int run_toys(int argc, char** argv);     // infer/toys_command.cpp
int run_report(int argc, char** argv);   // infer/report_command.cpp

namespace {

int run_inspect(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Summarise an event file: yields per process, feature statistics");
  options.add_options()("file", "Event file (HDF5) or HistFactory workspace (.json)", cxxopts::value<std::string>())(
      "json", "Print JSON instead of a table");
  add_common_options(options, false, true);
  options.parse_positional({"file"});
  options.positional_help("FILE");
  auto result = parse(options, argc, argv);
  if (!result) return 0;
  CommonOptions common = common_options(*result);
  if (!result->count("file")) throw InputError("", "FILE", "no event file given");
  const std::string file = (*result)["file"].as<std::string>();
  if (file.size() > 5 && file.substr(file.size() - 5) == ".json") return inspect_workspace(file);
  EventSummary summary = EventSummary::of_file((*result)["file"].as<std::string>());
  std::string text = result->count("json") ? summary.to_json().dump(2) + "\n" : summary.table();
  if (!common.out.empty())
    write_text_atomically(common.out, summary.to_json().dump(2) + "\n");
  std::cout << text;
  return 0;
}

int run_config(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Validate an experiment config and print it with defaults and hash");
  options.add_options()("schema", "Print the config schema (Markdown table)")(
      "get", "Print one value of the validated config, e.g. output_dir or simulation/luminosity",
      cxxopts::value<std::string>());
  add_common_options(options, true, false);
  auto result = parse(options, argc, argv);
  if (!result) return 0;
  if (result->count("schema")) {
    std::cout << "| key | type | default | meaning |\n|---|---|---|---|\n"
              << experiment_schema().describe();
    return 0;
  }
  CommonOptions common = common_options(*result);
  ExperimentConfig config = setup_experiment(common);
  if (result->count("get")) {
    const std::string key = (*result)["get"].as<std::string>();
    const nlohmann::json::json_pointer ptr("/" + key);
    if (!config.document.contains(ptr)) throw InputError(config.file, key, "no such key");
    const auto& v = config.document.at(ptr);
    std::cout << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
    return 0;
  }
  std::cout << config.document.dump(2) << "\nconfig hash: " << config.hash << "\n";
  return 0;
}

}  // namespace

const std::vector<Command>& commands() {
  static const std::vector<Command> list = {
      {"simulate", "Generate events with a built-in simulator into HDF5 files", run_simulate},
      {"train", "Train a network (classifier: calibrated multiclassifier; dcr: parametric DCR networks)", run_train},
      {"eval", "Evaluate a trained model on events (classifier: probabilities and fractions)", run_eval},
      {"inspect", "Summarise an event file or a HistFactory workspace", run_inspect},
      {"fit", "Maximum-likelihood fit with profiled intervals (WORKSPACE.json or --config EXPERIMENT)", run_fit},
      {"scan", "Profile-likelihood scan of the POI, or of two parameters (WORKSPACE.json or --config EXPERIMENT)", run_scan},
      {"impacts", "Ranked nuisance impacts on the POI (WORKSPACE.json or --config EXPERIMENT)", run_impacts},
      {"toys", "Pseudo-experiments: coverage, width, bias, pulls; --shard i/N, --merge (WORKSPACE.json or --config EXPERIMENT)", run_toys},
      {"hypotest", "Asymptotic CLs test of a POI value (q~, q, q0) (WORKSPACE.json or --config EXPERIMENT)", run_hypotest},
      {"limit", "95% CLs upper limits on the POI (WORKSPACE.json or --config EXPERIMENT)", run_limit},
      {"report", "Summary table of the measurement results in the output directory (--config EXPERIMENT)", run_report},
      {"config", "Validate an experiment config; print it with defaults, or the schema",
       run_config},
  };
  return list;
}

}  // namespace refinery::cli
