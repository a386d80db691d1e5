#include "src/config/schema.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "src/core/error.h"
#include "src/core/text.h"

namespace refinery {

namespace {

std::string type_name(const nlohmann::json& j) {
  if (j.is_object()) return "object";
  if (j.is_array()) return "array";
  if (j.is_string()) return "string";
  if (j.is_boolean()) return "boolean";
  if (j.is_number_integer() || j.is_number_unsigned()) return "integer";
  if (j.is_number()) return "number";
  return "null";
}

std::string kind_name(Schema::Kind k) {
  switch (k) {
    case Schema::Kind::Object: return "object";
    case Schema::Kind::Array: return "array";
    case Schema::Kind::Map: return "object";
    case Schema::Kind::String: return "string";
    case Schema::Kind::Number: return "number";
    case Schema::Kind::Integer: return "integer";
    case Schema::Kind::Boolean: return "boolean";
  }
  return "?";
}

std::string fmt(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

}  // namespace

Schema::Kind Schema::kind() const { return node_->kind; }

Schema Schema::make(Kind kind, const std::function<void(Node&)>& fill) {
  auto n = std::make_shared<Node>();
  n->kind = kind;
  fill(*n);
  Schema s;
  s.node_ = n;
  return s;
}

Schema Schema::object(std::vector<Field> fields) {
  return make(Kind::Object, [&](Node& n) { n.fields = std::move(fields); });
}

Schema Schema::array(Schema item, std::size_t min_items) {
  return make(Kind::Array, [&](Node& n) {
    n.item = item.node_;
    n.min_items = min_items;
  });
}

Schema Schema::map(Schema value) {
  return make(Kind::Map, [&](Node& n) { n.item = value.node_; });
}

Schema Schema::string(std::vector<std::string> allowed) {
  return make(Kind::String, [&](Node& n) { n.allowed = std::move(allowed); });
}

Schema Schema::string(std::function<void(const std::string&)> check) {
  return make(Kind::String, [&](Node& n) { n.check = std::move(check); });
}

Schema Schema::number(std::optional<double> min, std::optional<double> max) {
  return make(Kind::Number, [&](Node& n) {
    n.min = min;
    n.max = max;
  });
}

Schema Schema::integer(std::optional<double> min, std::optional<double> max) {
  Schema s = number(min, max);
  std::const_pointer_cast<Node>(s.node_)->kind = Kind::Integer;
  return s;
}

Schema Schema::boolean() {
  return make(Kind::Boolean, [](Node&) {});
}

Schema::Field required(std::string name, Schema schema, std::string description) {
  return Schema::Field{std::move(name), std::move(schema), true, nullptr, std::move(description)};
}

Schema::Field optional(std::string name, Schema schema, nlohmann::json default_value,
                       std::string description) {
  return Schema::Field{std::move(name), std::move(schema), false, std::move(default_value),
                       std::move(description)};
}

nlohmann::json Schema::validate(const nlohmann::json& doc, const std::string& file,
                                const std::string& path) const {
  const Node& n = *node_;
  const std::string where = path.empty() ? "(top level)" : path;
  auto fail = [&](const std::string& what) { throw ConfigError(file, where, what); };
  auto expect = [&](bool ok) {
    if (!ok) fail("expected " + kind_name(n.kind) + ", got " + type_name(doc));
  };
  switch (n.kind) {
    case Kind::Object: {
      expect(doc.is_object());
      nlohmann::json out = nlohmann::json::object();
      for (auto it = doc.begin(); it != doc.end(); ++it) {
        bool known = false;
        for (const auto& f : n.fields) known = known || f.name == it.key();
        if (!known) {
          std::vector<std::string> names;
          for (const auto& f : n.fields) names.push_back(f.name);
          throw ConfigError(file, path.empty() ? it.key() : path + "." + it.key(),
                            "unknown key (allowed: " + join(names) + ")");
        }
      }
      for (const auto& f : n.fields) {
        const std::string child = path.empty() ? f.name : path + "." + f.name;
        if (doc.contains(f.name)) {
          out[f.name] = f.schema.validate(doc.at(f.name), file, child);
        } else if (f.required) {
          throw ConfigError(file, child, "required key missing");
        } else if (!f.default_value.is_null()) {
          out[f.name] = f.schema.validate(f.default_value, file, child);
        }
      }
      return out;
    }
    case Kind::Map: {
      expect(doc.is_object());
      Schema item;
      item.node_ = n.item;
      nlohmann::json out = nlohmann::json::object();
      for (auto it = doc.begin(); it != doc.end(); ++it)
        out[it.key()] = item.validate(it.value(), file, path + "." + it.key());
      return out;
    }
    case Kind::Array: {
      expect(doc.is_array());
      if (doc.size() < n.min_items)
        fail("needs at least " + std::to_string(n.min_items) + " entries, got " +
             std::to_string(doc.size()));
      Schema item;
      item.node_ = n.item;
      nlohmann::json out = nlohmann::json::array();
      for (size_t i = 0; i < doc.size(); ++i)
        out.push_back(item.validate(doc[i], file, path + "[" + std::to_string(i) + "]"));
      return out;
    }
    case Kind::String: {
      expect(doc.is_string());
      if (!n.allowed.empty()) {
        bool ok = false;
        for (const auto& a : n.allowed) ok = ok || a == doc.get<std::string>();
        if (!ok) fail("'" + doc.get<std::string>() + "' is not one of: " + join(n.allowed));
      }
      if (n.check) {
        try {
          n.check(doc.get<std::string>());
        } catch (const std::invalid_argument& e) {
          fail(e.what());
        }
      }
      return doc;
    }
    case Kind::Boolean:
      expect(doc.is_boolean());
      return doc;
    case Kind::Number:
    case Kind::Integer: {
      expect(doc.is_number());
      double x = doc.get<double>();
      if (n.kind == Kind::Integer && !(doc.is_number_integer() || doc.is_number_unsigned()))
        fail("expected integer, got " + doc.dump());
      if (!std::isfinite(x)) fail("must be finite");
      if (n.min && x < *n.min) fail("value " + doc.dump() + " below minimum " + fmt(*n.min));
      if (n.max && x > *n.max) fail("value " + doc.dump() + " above maximum " + fmt(*n.max));
      return doc;
    }
  }
  return doc;
}

std::string Schema::describe(const std::string& prefix) const {
  std::string out;
  const Node& n = *node_;
  if (n.kind == Kind::Object) {
    for (const auto& f : n.fields) {
      std::string key = prefix.empty() ? f.name : prefix + "." + f.name;
      std::string type = kind_name(f.schema.kind());
      if (f.schema.kind() == Kind::Array) type = "array";
      if (f.schema.kind() == Kind::Map) type = "map";
      std::string extra;
      const Node& c = *f.schema.node_;
      if (!c.allowed.empty()) extra += " One of: " + join(c.allowed) + ".";
      if (c.min) extra += " Min " + fmt(*c.min) + ".";
      if (c.max) extra += " Max " + fmt(*c.max) + ".";
      out += "| `" + key + "` | " + type + " | " +
             (f.required ? "required" : (f.default_value.is_null() ? "optional"
                                                                    : "`" + f.default_value.dump() + "`")) +
             " | " + f.description + extra + " |\n";
      out += f.schema.describe(key);
    }
  } else if (n.kind == Kind::Array || n.kind == Kind::Map) {
    Schema item;
    item.node_ = n.item;
    out += item.describe(prefix + (n.kind == Kind::Array ? "[]" : ".*"));
  }
  return out;
}

namespace {

// Line and column of a byte offset, for messages.
std::string line_column(const std::string& text, std::size_t byte) {
  std::size_t line = 1, col = 1;
  for (std::size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + " column " + std::to_string(col);
}

// Offset where arrays and objects nest deeper than `limit`, or npos. Every
// recursive walk of a document (copies, patches, dumps) then stays bounded.
std::size_t too_deep_at(const std::string& text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string::npos;
}

}  // namespace

nlohmann::json parse_json_text(const std::string& text, const std::string& path) {
  const std::size_t deep = too_deep_at(text, kMaxJsonDepth);
  if (deep != std::string::npos)
    throw InputError(path, line_column(text, deep),
                     "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is the 1-based offset of the error.
    throw InputError(path, line_column(text, e.byte > 0 ? e.byte - 1 : 0), "malformed JSON");
  } catch (const nlohmann::json::exception& e) {
    // e.g. a number that overflows a double (1e400).
    std::string what = e.what();
    what = what.substr(std::min(what.size(), what.find(']') + 2));
    throw InputError(path, "", "invalid JSON: " + what);
  }
}

nlohmann::json read_json_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw InputError(path, "", "is a directory, not a JSON file");
  std::ifstream in(path);
  if (!in) throw InputError(path, "", std::filesystem::exists(path, ec) ? "cannot read file" : "no such file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_json_text(buffer.str(), path);
}

}  // namespace refinery
