// The core's own command: `refinery config` validates an experiment config
// and prints it with its defaults, one value, or the schema.
#include <iostream>

#include "src/cli/command.h"
#include "src/cli/options.h"
#include "src/core/error.h"

namespace refinery::cli {

namespace {

int run_config(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Validate an experiment config and print it with defaults and hash");
  options.add_options()("schema", "Print the config schema (Markdown table)")(
      "get", "Print one value of the validated config, e.g. output_dir or simulation.luminosity",
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
    // Keys are written as every message and docs/formats.md write them
    // (measurement.regions[0].selection); the JSON-pointer form
    // (measurement/regions/0/selection) is accepted too.
    const std::string key = (*result)["get"].as<std::string>();
    std::string pointer = "/";
    for (char c : key) {
      if (c == '.' || c == '[') pointer += '/';
      else if (c == '~') pointer += "~0";
      else if (c != ']') pointer += c;
    }
    nlohmann::json::json_pointer ptr;
    try {
      ptr = nlohmann::json::json_pointer(pointer);
    } catch (const nlohmann::json::exception&) {
      throw InputError(config.file, key, "not a key (write it as section.key or section.list[0].key)");
    }
    if (key.empty() || !config.document.contains(ptr)) throw InputError(config.file, key, "no such key");
    const auto& v = config.document.at(ptr);
    std::cout << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
    return 0;
  }
  std::cout << config.document.dump(2) << "\nconfig hash: " << config.hash << "\n";
  return 0;
}

}  // namespace

void register_core_commands() {
  register_command({"config", "Validate an experiment config; print it with defaults, or the schema", run_config});
}

}  // namespace refinery::cli
