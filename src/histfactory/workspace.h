// HistFactory workspace (pyhf JSON, schema version 1.0.0): channels of
// binned samples with modifiers, observations, measurements. Parsed and
// validated once; errors name the file and the JSON path
// (e.g. "ws.json: /channels/0/samples/2/data: ...").
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace refinery::histfactory {

struct Modifier {
  std::string name;
  std::string type;  // normfactor, normsys, histosys, staterror, shapesys, lumi, shapefactor
  // normsys: hi, lo; histosys: hi_data, lo_data; staterror, shapesys: data
  double hi = 1.0, lo = 1.0;
  std::vector<double> hi_data, lo_data, data;
};

struct Sample {
  std::string name;
  std::vector<double> data;  // nominal expected counts per bin
  std::vector<Modifier> modifiers;
};

struct Channel {
  std::string name;
  std::vector<Sample> samples;
  std::size_t bins() const { return samples.empty() ? 0 : samples.front().data.size(); }
};

struct ParameterConfig {
  std::string name;
  std::vector<double> inits, auxdata, sigmas;
  std::vector<std::pair<double, double>> bounds;
  std::optional<bool> fixed;
};

struct Measurement {
  std::string name;
  std::string poi;
  std::vector<ParameterConfig> parameters;
};

struct Workspace {
  std::string file;
  std::vector<Channel> channels;
  std::vector<std::pair<std::string, std::vector<double>>> observations;
  std::vector<Measurement> measurements;
  // What was accepted but not used, as pyhf does (e.g. observations of
  // channels the workspace does not have, as left by patches that remove
  // channels): shown by `inspect` and the commands' verbose output.
  std::vector<std::string> notes;

  // Parses and validates a workspace document.
  static Workspace from_json(const nlohmann::json& doc, const std::string& file);
  // Reads a file, applies the JSON patches (RFC 6902) in order, validates.
  // With a patchset, its digest of the background-only workspace is
  // verified first (see verify_patchset_digest) unless `verify_digest` is
  // false.
  static Workspace load(const std::string& path, const std::vector<std::string>& patch_files = {},
                        const std::string& patchset_file = "", const std::string& patch_name = "",
                        bool verify_digest = true);
  const Measurement& measurement(const std::string& name = "") const;
  const std::vector<double>& observation(const std::string& channel) const;
};

// Applies a JSON patch (array of RFC 6902 operations) to `doc`; errors name
// `patch_file` and the failing operation's path.
nlohmann::json apply_patch(const nlohmann::json& doc, const nlohmann::json& patch,
                           const std::string& patch_file);
// The patch called `name` in a HEPData patchset document.
nlohmann::json patch_from_patchset(const nlohmann::json& patchset, const std::string& name,
                                   const std::string& patchset_file);
std::vector<std::string> patch_names(const nlohmann::json& patchset, const std::string& file);
// Checks, as pyhf's PatchSet.verify does, that the patchset was made for
// this background-only workspace: /metadata/digests/sha256 must equal the
// SHA-256 of the workspace serialised as Python's json.dumps(ws,
// sort_keys=True). A mismatch, or digests of no supported algorithm, is an
// InputError naming both files.
void verify_patchset_digest(const nlohmann::json& patchset, const nlohmann::json& workspace,
                            const std::string& patchset_file, const std::string& workspace_file);

}  // namespace refinery::histfactory
