// Schema: a small declarative description of a JSON document (objects with
// typed fields, defaults and bounds; arrays; maps) used to validate experiment
// configs. validate() returns the document with defaults filled in and throws
// ConfigError("<file>: <key.path>: <what>") on unknown keys, wrong types,
// missing required keys and out-of-range values.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace refinery {

class Schema {
 public:
  enum class Kind { Object, Array, Map, String, Number, Integer, Boolean };
  struct Field;

  static Schema object(std::vector<Field> fields);
  static Schema array(Schema item, std::size_t min_items = 0);
  // JSON object with arbitrary keys, all values of one schema.
  static Schema map(Schema value);
  static Schema string(std::vector<std::string> allowed = {});
  // A string whose value `check` accepts: it throws std::invalid_argument,
  // whose message the ConfigError carries, for a value it refuses (a
  // spelling with a grammar, such as the DCR ansatz's "knot:T").
  static Schema string(std::function<void(const std::string&)> check);
  static Schema number(std::optional<double> min = std::nullopt,
                       std::optional<double> max = std::nullopt);
  static Schema integer(std::optional<double> min = std::nullopt,
                        std::optional<double> max = std::nullopt);
  static Schema boolean();

  Kind kind() const;

  nlohmann::json validate(const nlohmann::json& document, const std::string& file,
                          const std::string& path = "") const;
  // Markdown table rows describing the fields (for docs and `--help`).
  std::string describe(const std::string& prefix = "") const;

 private:
  struct Node;
  // A schema of `kind` whose node `fill` completes.
  static Schema make(Kind kind, const std::function<void(Node&)>& fill);
  std::shared_ptr<const Node> node_;
};

struct Schema::Field {
  std::string name;
  Schema schema;
  bool required = false;
  nlohmann::json default_value;  // null: no default (optional key stays absent)
  std::string description;
};

struct Schema::Node {
  Kind kind;
  std::vector<Field> fields;
  std::shared_ptr<const Node> item;
  std::vector<std::string> allowed;
  std::function<void(const std::string&)> check;  // empty: any string
  std::optional<double> min, max;
  std::size_t min_items = 0;
};

// Field helpers: required / optional-with-default.
Schema::Field required(std::string name, Schema schema, std::string description);
Schema::Field optional(std::string name, Schema schema, nlohmann::json default_value,
                       std::string description);

// Deepest nesting of arrays and objects accepted in any JSON input (Python's
// json module stops near 1000): deeper documents are refused before parsing.
constexpr int kMaxJsonDepth = 1000;
// Parses JSON text from `path` (for messages); errors name the file, line
// and column; numbers that overflow a double, and nesting deeper than
// kMaxJsonDepth, are input errors too.
nlohmann::json parse_json_text(const std::string& text, const std::string& path);
// Reads and parses a JSON file with the errors of parse_json_text; a missing
// file or a directory is named as such.
nlohmann::json read_json_file(const std::string& path);

}  // namespace refinery
