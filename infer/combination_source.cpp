#include "infer/combination_source.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "src/config/schema.h"
#include "src/core/error.h"
#include "src/histfactory/hf_model.h"
#include "src/histfactory/workspace.h"
#include "src/stats/combined_model.h"
#include "src/stats/simplified_likelihood.h"
#include "src/stats/yield_surrogate.h"
#include "src/stats/workspace_model.h"

namespace refinery::cli {

using nlohmann::json;

namespace {

const char* kKey = "combination";

std::string string_field(const json& object, const std::string& key, const std::string& file, const std::string& where) {
  const json& v = object.at(key);
  if (!v.is_string() || v.get<std::string>().empty()) throw InputError(file, where + "." + key, "expected a non-empty string");
  return v.get<std::string>();
}

std::string resolve(const std::string& path, const std::string& file) {
  if (std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(file).parent_path() / path).string();
}

// One analysis's model with its observed data.
std::unique_ptr<stats::Model> load_analysis(const json& a, const std::string& file, const std::string& where) {
  const bool is_ws = a.contains("workspace"), is_sl = a.contains("simplified_likelihood"), is_sur = a.contains("surrogate");
  if (int(is_ws) + int(is_sl) + int(is_sur) != 1)
    throw InputError(file, where, "give one of \"workspace\", \"simplified_likelihood\" and \"surrogate\"");
  if (!is_sur && a.contains("yields")) throw InputError(file, where + ".yields", "applies to a surrogate");
  if (is_sur) {
    for (const char* key : {"patches", "patchset", "patch_name", "measurement"})
      if (a.contains(key)) throw InputError(file, where + "." + key, "applies to a workspace");
    const std::string path = resolve(string_field(a, "surrogate", file, where), file);
    const auto surrogate = stats::YieldSurrogate::load(path);
    if (!a.contains("yields") || !a.at("yields").is_array() || int(a.at("yields").size()) != surrogate->dimension())
      throw InputError(file, where + ".yields",
                       "expected the signal's " + std::to_string(surrogate->dimension()) + " yields in the surrogate's bins");
    Eigen::VectorXd s(surrogate->dimension());
    for (int k = 0; k < s.size(); ++k) {
      const json& v = a.at("yields")[k];
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
        throw InputError(file, where + ".yields[" + std::to_string(k) + "]", "expected a finite yield >= 0");
      s[k] = v.get<double>();
    }
    return std::make_unique<stats::SurrogateModel>(surrogate, s);
  }
  if (is_sl) {
    for (const char* key : {"patches", "patchset", "patch_name", "measurement"})
      if (a.contains(key)) throw InputError(file, where + "." + key, "applies to a workspace");
    const std::string path = resolve(string_field(a, "simplified_likelihood", file, where), file);
    return std::make_unique<stats::SimplifiedLikelihoodModel>(stats::read_simplified_likelihood(read_json_file(path), path));
  }
  const std::string path = resolve(string_field(a, "workspace", file, where), file);
  std::vector<std::string> patches;
  if (a.contains("patches")) {
    if (!a.at("patches").is_array()) throw InputError(file, where + ".patches", "expected an array of file names");
    for (size_t i = 0; i < a.at("patches").size(); ++i) {
      const json& p = a.at("patches")[i];
      if (!p.is_string()) throw InputError(file, where + ".patches[" + std::to_string(i) + "]", "expected a file name");
      patches.push_back(resolve(p.get<std::string>(), file));
    }
  }
  const std::string patchset = a.contains("patchset") ? resolve(string_field(a, "patchset", file, where), file) : "";
  const std::string patch_name = a.contains("patch_name") ? string_field(a, "patch_name", file, where) : "";
  if (patchset.empty() != patch_name.empty())
    throw InputError(file, where, "\"patchset\" and \"patch_name\" go together");
  const std::string measurement = a.contains("measurement") ? string_field(a, "measurement", file, where) : "";
  const histfactory::Workspace ws = histfactory::Workspace::load(path, patches, patchset, patch_name);
  auto hf = std::make_shared<const histfactory::HistFactoryModel>(ws, measurement);
  hf->require_poi();
  return std::make_unique<stats::WorkspaceModel>(hf);
}

}  // namespace

std::vector<std::string> combination_files(const json& doc, const std::string& file) {
  std::vector<std::string> out;
  if (!doc.contains("analyses") || !doc.at("analyses").is_array()) return out;
  for (const json& a : doc.at("analyses")) {
    if (!a.is_object()) continue;
    for (const char* key : {"workspace", "simplified_likelihood", "patchset", "surrogate"})
      if (a.contains(key) && a.at(key).is_string()) out.push_back(resolve(a.at(key).get<std::string>(), file));
    if (a.contains("patches") && a.at("patches").is_array())
      for (const json& p : a.at("patches"))
        if (p.is_string()) out.push_back(resolve(p.get<std::string>(), file));
  }
  return out;
}

bool is_combination(const json& document) { return document.is_object() && document.contains(kKey); }

std::unique_ptr<stats::Model> load_combination(const json& doc, const std::string& file) {
  if (!is_combination(doc)) throw InputError(file, kKey, "missing: not a combination");
  if (!doc.at(kKey).is_number_integer() || doc.at(kKey).get<int>() != 1)
    throw InputError(file, kKey, "unknown format version (this refinery reads 1)");
  for (const auto& [key, value] : doc.items())
    if (key != kKey && key != "poi" && key != "analyses" && key != "correlated" && key != "overlapping" && key != "provenance")
      throw InputError(file, key, "unknown key");
  const std::string poi = doc.contains("poi") ? string_field(doc, "poi", file, "") : "mu";
  if (!doc.contains("analyses") || !doc.at("analyses").is_array() || doc.at("analyses").empty())
    throw InputError(file, "analyses", "expected a non-empty array of analyses");

  // Names, and the overlaps refused before anything is loaded.
  const json& analyses = doc.at("analyses");
  std::vector<std::string> names;
  for (size_t k = 0; k < analyses.size(); ++k) {
    const std::string where = "analyses[" + std::to_string(k) + "]";
    const json& a = analyses[k];
    if (!a.is_object()) throw InputError(file, where, "expected an object");
    for (const auto& [key, value] : a.items())
      if (key != "name" && key != "workspace" && key != "simplified_likelihood" && key != "patches" && key != "patchset" &&
          key != "patch_name" && key != "measurement" && key != "poi" && key != "surrogate" && key != "yields")
        throw InputError(file, where + "." + key, "unknown key");
    if (!a.contains("name")) throw InputError(file, where + ".name", "missing");
    const std::string name = string_field(a, "name", file, where);
    if (name.find('/') != std::string::npos) throw InputError(file, where + ".name", "'" + name + "': no '/' in a name");
    if (std::find(names.begin(), names.end(), name) != names.end())
      throw InputError(file, where + ".name", "'" + name + "' twice");
    names.push_back(name);
  }
  if (doc.contains("overlapping")) {
    const json& o = doc.at("overlapping");
    if (!o.is_array()) throw InputError(file, "overlapping", "expected an array of pairs of analysis names");
    for (size_t i = 0; i < o.size(); ++i) {
      const std::string where = "overlapping[" + std::to_string(i) + "]";
      if (!o[i].is_array() || o[i].size() != 2 || !o[i][0].is_string() || !o[i][1].is_string())
        throw InputError(file, where, "expected a pair of analysis names");
      const std::string a = o[i][0], b = o[i][1];
      const bool has_a = std::find(names.begin(), names.end(), a) != names.end();
      const bool has_b = std::find(names.begin(), names.end(), b) != names.end();
      if (has_a && has_b)
        throw InputError(file, where,
                         "analyses '" + a + "' and '" + b + "' are marked as overlapping (their events are not "
                         "independent): combine at most one of them");
    }
  }
  // correlated: "A/x" -> the common name.
  std::map<std::string, std::string> common;
  if (doc.contains("correlated")) {
    const json& c = doc.at("correlated");
    if (!c.is_object()) throw InputError(file, "correlated", "expected {\"name\": [\"analysis/parameter\", ...]}");
    for (const auto& [shared, list] : c.items()) {
      const std::string where = "correlated." + shared;
      if (shared.empty() || shared.find('/') != std::string::npos || shared == poi)
        throw InputError(file, where, "a shared name must be non-empty, without '/', and not the POI's");
      if (!list.is_array() || list.size() < 2) throw InputError(file, where, "expected at least two \"analysis/parameter\"");
      for (size_t i = 0; i < list.size(); ++i) {
        const std::string w = where + "[" + std::to_string(i) + "]";
        if (!list[i].is_string()) throw InputError(file, w, "expected \"analysis/parameter\"");
        const std::string entry = list[i];
        const auto slash = entry.find('/');
        if (slash == std::string::npos || std::find(names.begin(), names.end(), entry.substr(0, slash)) == names.end())
          throw InputError(file, w, "'" + entry + "': expected \"analysis/parameter\" of an analysis in \"analyses\"");
        if (!common.emplace(entry, shared).second) throw InputError(file, w, "'" + entry + "' is correlated twice");
      }
    }
  }

  std::vector<std::shared_ptr<const stats::Model>> parts;
  std::set<std::string> used;
  for (size_t k = 0; k < analyses.size(); ++k) {
    const std::string where = "analyses[" + std::to_string(k) + "]";
    std::unique_ptr<stats::Model> m = load_analysis(analyses[k], file, where);
    const int part_poi = analyses[k].contains("poi") ? m->poi(string_field(analyses[k], "poi", file, where), file + ": " + where + ".poi")
                                                     : m->poi("", file + ": " + where);
    std::vector<std::string> final(m->size());
    for (int i = 0; i < m->size(); ++i) {
      const std::string qualified = names[k] + "/" + m->parameters()[i].name;
      const auto it = common.find(qualified);
      if (i == part_poi && it != common.end())
        throw InputError(file, "correlated." + it->second, "'" + qualified + "' is the analysis's POI, shared as '" + poi + "' already");
      final[i] = i == part_poi ? poi : it != common.end() ? it->second : qualified;
      if (it != common.end()) used.insert(qualified);
    }
    for (int i = 0; i < m->size(); ++i) m->rename(i, "\x01" + std::to_string(i));  // no transient clash
    for (int i = 0; i < m->size(); ++i) m->rename(i, final[i], file + ": " + where);
    parts.push_back(std::shared_ptr<const stats::Model>(std::move(m)));
  }
  for (const auto& [entry, shared] : common)
    if (!used.count(entry))
      throw InputError(file, "correlated." + shared, "'" + entry + "': the analysis has no such parameter");
  try {
    return std::make_unique<stats::CombinedModel>(std::move(parts));
  } catch (const InputError& e) {
    throw InputError(file + ": " + e.what());
  }
}

}  // namespace refinery::cli
