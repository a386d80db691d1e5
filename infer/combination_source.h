// A combination of independent analyses (issue 18 item 5), read from a JSON
// file in a workspace's place (docs/combination.md):
//
//   {"combination": 1, "poi": "mu",
//    "analyses": [{"name": "A", "workspace": "a/BkgOnly.json", "patches": ["a/signal.json"]},
//                 {"name": "B", "simplified_likelihood": "b/sl.json"}],
//    "correlated": {"lumi": ["A/lumi", "B/lumi"]},
//    "overlapping": [["B", "C"]]}
//
// Each analysis's parameters are renamed <analysis>/<name>, its POI the
// combination's POI (shared by all), and the parameters a `correlated`
// entry lists take its name (one parameter, constrained alike in every
// analysis or the combination is refused). Nothing else is shared.
// `overlapping` lists pairs of analyses whose events are not independent:
// combining both is refused. Paths are relative to the combination file.
// The result is a stats::CombinedModel of the analyses' observed data.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/stats/model.h"

namespace refinery::cli {

// True for a JSON document in this form (its "combination" key).
bool is_combination(const nlohmann::json& document);
// The combined model; InputError naming the file and field.
std::unique_ptr<stats::Model> load_combination(const nlohmann::json& document, const std::string& file);
// The files a combination names (workspaces, patches, patchsets, simplified
// likelihoods), resolved: what a result made from it depends on besides the
// combination file itself (toy shards' identity).
std::vector<std::string> combination_files(const nlohmann::json& document, const std::string& file);

}  // namespace refinery::cli
