#include "fuzz/fuzz_targets.h"

#include <nlohmann/json.hpp>

#include "src/config/experiment_config.h"
#include "src/config/schema.h"
#include "src/config/selection.h"
#include "src/core/error.h"
#include "src/core/model_archive.h"
#include "src/histfactory/hf_model.h"
#include "src/histfactory/workspace.h"
#include "src/stats/fit.h"
#include "src/stats/workspace_model.h"

namespace refinery::fuzz {

namespace {

using nlohmann::json;

std::string text_of(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// Compiles a parsed workspace in both interpolation schemes and exercises
// what every command does first: the NLL with derivatives and a fit.
void compile_and_fit(const histfactory::Workspace& ws) {
  using histfactory::HistosysCode;
  using histfactory::NormsysCode;
  for (const histfactory::InterpOptions interp :
       {histfactory::InterpOptions{}, histfactory::InterpOptions{NormsysCode::kCode1, HistosysCode::kCode0}}) {
    auto model = std::make_shared<histfactory::HistFactoryModel>(ws, "", interp);
    stats::WorkspaceModel wm(model);
    Eigen::VectorXd grad;
    Eigen::MatrixXd hess;
    wm.nll(wm.init(), &grad, &hess);
    stats::fit(wm);
  }
}

// A small valid workspace: one channel, signal with a normfactor, a
// background with normsys, histosys and staterror.
const char* kBase = R"({
  "channels": [{"name": "sr", "samples": [
    {"name": "signal", "data": [5.0, 2.0], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
    {"name": "bkg", "data": [50.0, 30.0], "modifiers": [
      {"name": "norm", "type": "normsys", "data": {"hi": 1.1, "lo": 0.9}},
      {"name": "shape", "type": "histosys", "data": {"hi_data": [52.0, 29.0], "lo_data": [48.0, 31.0]}},
      {"name": "stat_sr", "type": "staterror", "data": [3.0, 2.0]}]}]}],
  "observations": [{"name": "sr", "data": [55.0, 31.0]}],
  "measurements": [{"name": "meas", "config": {"poi": "mu", "parameters": []}}],
  "version": "1.0.0"})";

}  // namespace

bool workspace(const std::uint8_t* data, std::size_t size) {
  try {
    const json doc = parse_json_text(text_of(data, size), "fuzz.json");
    compile_and_fit(histfactory::Workspace::from_json(doc, "fuzz.json"));
  } catch (const InputError&) {
    return false;
  }
  return true;
}

bool patch(const std::uint8_t* data, std::size_t size) {
  try {
    const json base = json::parse(kBase);
    const json doc = parse_json_text(text_of(data, size), "patch.json");
    json patched;
    if (doc.is_object()) {  // a patchset: its digest, then each patch
      try {
        histfactory::verify_patchset_digest(doc, base, "patchset.json", "base.json");
      } catch (const InputError&) {
      }
      for (const auto& name : histfactory::patch_names(doc, "patchset.json")) {
        patched = histfactory::apply_patch(base, histfactory::patch_from_patchset(doc, name, "patchset.json"),
                                           "patchset.json");
        compile_and_fit(histfactory::Workspace::from_json(patched, "base.json + patchset.json"));
      }
      return true;
    }
    patched = histfactory::apply_patch(base, doc, "patch.json");
    compile_and_fit(histfactory::Workspace::from_json(patched, "base.json + patch.json"));
  } catch (const InputError&) {
    return false;
  }
  return true;
}

bool experiment_config(const std::uint8_t* data, std::size_t size) {
  try {
    ExperimentConfig::from_json(parse_json_text(text_of(data, size), "config.json"), "config.json");
  } catch (const InputError&) {
    return false;
  }
  return true;
}

bool selection(const std::uint8_t* data, std::size_t size) {
  try {
    Selection::parse(text_of(data, size), {"pt", "eta", "n_jets"}, "fuzz selection");
  } catch (const InputError&) {
    return false;
  }
  return true;
}

bool model_archive(const std::uint8_t* data, std::size_t size) {
  try {
    read_model_archive_metadata(text_of(data, size), "fuzz model archive");
  } catch (const InputError&) {
    return false;
  }
  return true;
}

const std::vector<Target>& targets() {
  static const std::vector<Target> list = {{"workspace", workspace},
                                           {"patch", patch},
                                           {"experiment_config", experiment_config},
                                           {"selection", selection},
                                           {"model_archive", model_archive}};
  return list;
}

}  // namespace refinery::fuzz
