#include "src/config/experiment_config.h"

#include "src/core/error.h"
#include "src/core/hash.h"

namespace refinery {

ExperimentConfig ExperimentConfig::from_json(const nlohmann::json& raw, const std::string& source) {
  ExperimentConfig c;
  c.file = source;
  c.document = experiment_schema().validate(raw, source);
  c.hash = json_hash(c.document);
  return c;
}

ExperimentConfig ExperimentConfig::load(const std::string& path) {
  return from_json(read_json_file(path), path);
}

ExperimentConfig ExperimentConfig::default_experiment() {
  return from_json(nlohmann::json{{"name", "default"}}, "<default>");
}

const nlohmann::json& ExperimentConfig::section(const std::string& key) const {
  if (!document.contains(key)) throw ConfigError(file, key, "section missing");
  return document.at(key);
}

}  // namespace refinery
