#include "infer/surrogate_signals.h"

#include "infer/model_source.h"
#include "src/config/schema.h"
#include "src/core/error.h"

namespace refinery::cli {

using nlohmann::json;

histfactory::Workspace background_workspace(const cxxopts::ParseResult& r) {
  return histfactory::Workspace::load(workspace_path(r));
}

std::vector<SignalWorkspace> signal_workspaces(const cxxopts::ParseResult& r) {
  std::vector<SignalWorkspace> out;
  const std::string path = workspace_path(r);
  const json base = read_json_file(path);
  if (r.count("patchset")) {
    const std::string ps_file = r["patchset"].as<std::string>();
    const json patchset = read_json_file(ps_file);
    if (verify_digest(r)) histfactory::verify_patchset_digest(patchset, base, ps_file, path);
    std::vector<std::string> names = histfactory::patch_names(patchset, ps_file);
    if (r.count("patch-name")) names = {r["patch-name"].as<std::string>()};
    for (const auto& name : names) {
      const json patch = histfactory::patch_from_patchset(patchset, name, ps_file);
      out.push_back({name, histfactory::Workspace::from_json(histfactory::apply_patch(base, patch, ps_file), path)});
    }
  }
  if (r.count("patch"))
    for (const auto& file : r["patch"].as<std::vector<std::string>>())
      out.push_back({file, histfactory::Workspace::from_json(histfactory::apply_patch(base, read_json_file(file), file), path)});
  return out;
}

}  // namespace refinery::cli
