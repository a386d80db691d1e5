// The command registry, and the core's own command (config).
#include <iostream>

#include "src/cli/command.h"
#include "src/cli/options.h"
#include "src/core/error.h"
#include "src/core/atomic_file.h"

namespace refinery::cli {

namespace {

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

std::vector<Command>& registry() {
  static std::vector<Command> list;
  return list;
}

}  // namespace

void register_command(Command command) {
  for (const auto& c : registry())
    if (c.name == command.name) throw std::logic_error("command '" + command.name + "' registered twice");
  registry().push_back(std::move(command));
}

const std::vector<Command>& commands() { return registry(); }

void register_core_commands() {
  register_command({"config", "Validate an experiment config; print it with defaults, or the schema", run_config});
}

}  // namespace refinery::cli
