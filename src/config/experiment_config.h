// ExperimentConfig: the validated JSON document that drives every stage of an
// analysis (simulation, training, fits) from one file. The schema lives in
// experiment_schema.cpp; defaults are filled in on load so that the document
// (and its hash, recorded in every output) says exactly what was run.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "src/config/schema.h"

namespace refinery {

struct ExperimentConfig {
  std::string file;          // where it came from ("<default>" for the built-in one)
  nlohmann::json document;   // validated, defaults filled in
  std::string hash;          // json_hash(document)

  // Reads, validates and fills defaults; errors name the file and key path.
  static ExperimentConfig load(const std::string& path);
  static ExperimentConfig from_json(const nlohmann::json& raw, const std::string& source);
  // The built-in default experiment (all defaults: no generator, no analysis).
  static ExperimentConfig default_experiment();

  // Section accessor: document[key] (throws ConfigError if absent).
  const nlohmann::json& section(const std::string& key) const;
};

const Schema& experiment_schema();

}  // namespace refinery
