#include "src/histfactory/workspace.h"

#include <set>

#include "src/config/schema.h"
#include "src/core/error.h"
#include "src/core/python_json.h"
#include "src/core/sha256.h"

namespace refinery::histfactory {

using nlohmann::json;

namespace {

const std::set<std::string> kModifierTypes = {"normfactor", "normsys",  "histosys", "staterror",
                                              "shapesys",   "lumi",     "shapefactor"};

struct Ctx {
  const std::string& file;
  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw InputError(file, path.empty() ? "/" : path, what);
  }
  const json& member(const json& obj, const std::string& key, const std::string& path) const {
    if (!obj.is_object()) fail(path, "expected an object");
    if (!obj.contains(key)) fail(path + "/" + key, "required key missing");
    return obj.at(key);
  }
  std::string string(const json& v, const std::string& path) const {
    if (!v.is_string()) fail(path, "expected a string");
    return v.get<std::string>();
  }
  double number(const json& v, const std::string& path) const {
    if (!v.is_number()) fail(path, "expected a number");
    return v.get<double>();
  }
  std::vector<double> numbers(const json& v, const std::string& path, std::size_t expect = 0) const {
    if (!v.is_array()) fail(path, "expected an array of numbers");
    std::vector<double> out;
    for (std::size_t i = 0; i < v.size(); ++i) out.push_back(number(v[i], path + "/" + std::to_string(i)));
    if (expect && out.size() != expect)
      fail(path, "has " + std::to_string(out.size()) + " entries but the channel has " +
                     std::to_string(expect) + " bins");
    return out;
  }
  const json& array(const json& v, const std::string& path) const {
    if (!v.is_array()) fail(path, "expected an array");
    return v;
  }
};

Modifier parse_modifier(const Ctx& c, const json& m, const std::string& path, std::size_t bins) {
  Modifier mod;
  mod.name = c.string(c.member(m, "name", path), path + "/name");
  mod.type = c.string(c.member(m, "type", path), path + "/type");
  if (!kModifierTypes.count(mod.type))
    c.fail(path + "/type", "unknown modifier type '" + mod.type +
                               "' (known: histosys, lumi, normfactor, normsys, shapefactor, "
                               "shapesys, staterror)");
  const json& data = c.member(m, "data", path);
  const std::string dp = path + "/data";
  if (mod.type == "normsys") {
    mod.hi = c.number(c.member(data, "hi", dp), dp + "/hi");
    mod.lo = c.number(c.member(data, "lo", dp), dp + "/lo");
    // Factors beyond 1e10 (or below 1e-10) are no systematic variation: at
    // alpha = 5 they overflow a double.
    for (double v : {mod.hi, mod.lo})
      if (!(v >= 1e-10 && v <= 1e10))
        c.fail(dp, "normsys factors hi and lo must lie in [1e-10, 1e10], got " + json(v).dump());
  } else if (mod.type == "histosys") {
    mod.hi_data = c.numbers(c.member(data, "hi_data", dp), dp + "/hi_data", bins);
    mod.lo_data = c.numbers(c.member(data, "lo_data", dp), dp + "/lo_data", bins);
  } else if (mod.type == "staterror" || mod.type == "shapesys") {
    mod.data = c.numbers(data, dp, bins);
    for (std::size_t i = 0; i < mod.data.size(); ++i)
      if (mod.data[i] < 0) c.fail(dp + "/" + std::to_string(i), "uncertainty must be >= 0");
  } else if (!data.is_null()) {
    c.fail(dp, "must be null for a " + mod.type + " modifier");
  }
  return mod;
}

}  // namespace

Workspace Workspace::from_json(const json& doc, const std::string& file) {
  Ctx c{file};
  Workspace ws;
  ws.file = file;
  if (!doc.is_object()) c.fail("", "a workspace must be a JSON object");
  if (doc.contains("version") && doc.at("version") != "1.0.0")
    c.fail("/version", "unsupported schema version " + doc.at("version").dump() + " (supported: 1.0.0)");
  const json& channels = c.array(c.member(doc, "channels", ""), "/channels");
  if (channels.empty()) c.fail("/channels", "no channels");
  std::set<std::string> channel_names;
  for (std::size_t i = 0; i < channels.size(); ++i) {
    const std::string cp = "/channels/" + std::to_string(i);
    Channel ch;
    ch.name = c.string(c.member(channels[i], "name", cp), cp + "/name");
    if (!channel_names.insert(ch.name).second) c.fail(cp + "/name", "duplicate channel name '" + ch.name + "'");
    const json& samples = c.array(c.member(channels[i], "samples", cp), cp + "/samples");
    if (samples.empty()) c.fail(cp + "/samples", "no samples");
    std::set<std::string> sample_names;
    for (std::size_t j = 0; j < samples.size(); ++j) {
      const std::string sp = cp + "/samples/" + std::to_string(j);
      Sample s;
      s.name = c.string(c.member(samples[j], "name", sp), sp + "/name");
      if (!sample_names.insert(s.name).second) c.fail(sp + "/name", "duplicate sample name '" + s.name + "' in channel '" + ch.name + "'");
      s.data = c.numbers(c.member(samples[j], "data", sp), sp + "/data", ch.samples.empty() ? 0 : ch.bins());
      if (s.data.empty()) c.fail(sp + "/data", "no bins");
      const json& mods = c.array(c.member(samples[j], "modifiers", sp), sp + "/modifiers");
      std::set<std::pair<std::string, std::string>> seen;
      for (std::size_t k = 0; k < mods.size(); ++k) {
        const std::string mp = sp + "/modifiers/" + std::to_string(k);
        Modifier m = parse_modifier(c, mods[k], mp, s.data.size());
        if (!seen.insert({m.name, m.type}).second)
          c.fail(mp, "duplicate modifier '" + m.name + "' of type " + m.type + " in sample '" + s.name + "'");
        s.modifiers.push_back(std::move(m));
      }
      ch.samples.push_back(std::move(s));
    }
    ws.channels.push_back(std::move(ch));
  }
  const json& observations = c.array(c.member(doc, "observations", ""), "/observations");
  for (std::size_t i = 0; i < observations.size(); ++i) {
    const std::string op = "/observations/" + std::to_string(i);
    std::string name = c.string(c.member(observations[i], "name", op), op + "/name");
    const json& data = c.member(observations[i], "data", op);
    const Channel* ch = nullptr;
    for (const auto& x : ws.channels)
      if (x.name == name) ch = &x;
    if (!ch) {
      // pyhf builds the model from the channels and takes only their
      // observations; a patch that removes channels leaves theirs behind.
      c.numbers(data, op + "/data");
      ws.notes.push_back("observation " + op + " for channel '" + name +
                         "', which the workspace does not have, is ignored");
      continue;
    }
    for (const auto& o : ws.observations)
      if (o.first == name) c.fail(op + "/name", "second observation for channel '" + name + "'");
    std::vector<double> counts = c.numbers(data, op + "/data", ch->bins());
    for (std::size_t b = 0; b < counts.size(); ++b)
      if (!(counts[b] >= 0)) c.fail(op + "/data/" + std::to_string(b), "an observed count must be >= 0");
    ws.observations.push_back({name, std::move(counts)});
  }
  for (const auto& ch : ws.channels) {
    bool found = false;
    for (const auto& o : ws.observations) found = found || o.first == ch.name;
    if (!found) c.fail("/observations", "no observation for channel '" + ch.name + "'");
  }
  const json& measurements = c.array(c.member(doc, "measurements", ""), "/measurements");
  if (measurements.empty()) c.fail("/measurements", "no measurements");
  for (std::size_t i = 0; i < measurements.size(); ++i) {
    const std::string mp = "/measurements/" + std::to_string(i);
    Measurement m;
    m.name = c.string(c.member(measurements[i], "name", mp), mp + "/name");
    const json& config = c.member(measurements[i], "config", mp);
    for (const auto& other : ws.measurements)
      if (other.name == m.name) c.fail(mp + "/name", "second measurement named '" + m.name + "'");
    // A POI that no modifier defines (a background-only workspace) is valid
    // here, as in pyhf; the model refuses it where a POI is needed.
    m.poi = c.string(c.member(config, "poi", mp + "/config"), mp + "/config/poi");
    if (config.contains("parameters")) {
      const json& pars = c.array(config.at("parameters"), mp + "/config/parameters");
      for (std::size_t k = 0; k < pars.size(); ++k) {
        const std::string pp = mp + "/config/parameters/" + std::to_string(k);
        ParameterConfig pc;
        pc.name = c.string(c.member(pars[k], "name", pp), pp + "/name");
        if (pars[k].contains("inits")) pc.inits = c.numbers(pars[k].at("inits"), pp + "/inits");
        if (pars[k].contains("auxdata")) pc.auxdata = c.numbers(pars[k].at("auxdata"), pp + "/auxdata");
        if (pars[k].contains("sigmas")) pc.sigmas = c.numbers(pars[k].at("sigmas"), pp + "/sigmas");
        if (pars[k].contains("fixed")) {
          if (!pars[k].at("fixed").is_boolean()) c.fail(pp + "/fixed", "expected a boolean");
          pc.fixed = pars[k].at("fixed").get<bool>();
        }
        if (pars[k].contains("bounds")) {
          const json& b = c.array(pars[k].at("bounds"), pp + "/bounds");
          for (std::size_t q = 0; q < b.size(); ++q) {
            auto v = c.numbers(b[q], pp + "/bounds/" + std::to_string(q));
            if (v.size() != 2 || !(v[0] <= v[1]))
              c.fail(pp + "/bounds/" + std::to_string(q), "bounds must be [low, high] with low <= high");
            pc.bounds.push_back({v[0], v[1]});
          }
        }
        m.parameters.push_back(std::move(pc));
      }
    }
    ws.measurements.push_back(std::move(m));
  }
  return ws;
}

const Measurement& Workspace::measurement(const std::string& name) const {
  if (name.empty()) return measurements.front();
  for (const auto& m : measurements)
    if (m.name == name) return m;
  throw InputError(file, "/measurements", "no measurement named '" + name + "'");
}

const std::vector<double>& Workspace::observation(const std::string& channel) const {
  for (const auto& o : observations)
    if (o.first == channel) return o.second;
  throw InputError(file, "/observations", "no observation for channel '" + channel + "'");
}

json apply_patch(const json& doc, const json& patch, const std::string& patch_file) {
  if (!patch.is_array()) throw InputError(patch_file, "/", "a JSON patch must be an array of operations");
  json out = doc;
  for (std::size_t i = 0; i < patch.size(); ++i) {
    const json& op = patch[i];
    std::string path = op.is_object() && op.contains("path") && op.at("path").is_string()
                           ? op.at("path").get<std::string>()
                           : "?";
    try {
      out = out.patch(json::array({op}));
    } catch (const json::exception& e) {
      std::string what = e.what();
      what = what.substr(what.find(']') + 2);
      throw InputError(patch_file, "/" + std::to_string(i) + " (path " + path + ")",
                       "cannot apply patch operation: " + what);
    }
  }
  return out;
}

std::vector<std::string> patch_names(const json& patchset, const std::string& file) {
  if (!patchset.is_object() || !patchset.contains("patches") || !patchset.at("patches").is_array())
    throw InputError(file, "/patches", "not a patchset (no 'patches' array)");
  std::vector<std::string> names;
  const json& patches = patchset.at("patches");
  for (std::size_t i = 0; i < patches.size(); ++i) {
    const json& p = patches[i];
    const std::string where = "/patches/" + std::to_string(i);
    if (!p.is_object()) throw InputError(file, where, "expected an object");
    if (!p.contains("metadata") || !p.at("metadata").is_object() || !p.at("metadata").contains("name"))
      throw InputError(file, where + "/metadata/name", "required key missing");
    if (!p.at("metadata").at("name").is_string()) throw InputError(file, where + "/metadata/name", "expected a string");
    names.push_back(p.at("metadata").at("name").get<std::string>());
    for (std::size_t k = 0; k + 1 < names.size(); ++k)
      if (names[k] == names.back()) throw InputError(file, where + "/metadata/name", "second patch named '" + names.back() + "'");
  }
  return names;
}

json patch_from_patchset(const json& patchset, const std::string& name, const std::string& file) {
  auto names = patch_names(patchset, file);
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) {
      const json& p = patchset.at("patches")[i];
      if (!p.contains("patch")) throw InputError(file, "/patches/" + std::to_string(i) + "/patch", "required key missing");
      return p.at("patch");
    }
  throw InputError(file, "/patches", "no patch named '" + name + "' (the patchset has " + std::to_string(names.size()) + " patches)");
}

void verify_patchset_digest(const json& patchset, const json& workspace, const std::string& patchset_file,
                            const std::string& workspace_file) {
  const std::string where = "/metadata/digests";
  if (!patchset.is_object() || !patchset.contains("metadata") || !patchset.at("metadata").is_object() ||
      !patchset.at("metadata").contains("digests"))
    throw InputError(patchset_file, where, "required key missing (the digest of the background-only workspace)");
  const json& digests = patchset.at("metadata").at("digests");
  if (!digests.is_object() || digests.empty())
    throw InputError(patchset_file, where, "expected an object of algorithm: hex digest");
  if (!digests.contains("sha256")) {
    std::string names;
    for (auto it = digests.begin(); it != digests.end(); ++it) names += (names.empty() ? "" : ", ") + it.key();
    throw InputError(patchset_file, where, "no sha256 digest (has: " + names +
                                               "); refinery verifies sha256 only (--skip-digest-check applies the patch unverified)");
  }
  if (!digests.at("sha256").is_string()) throw InputError(patchset_file, where + "/sha256", "expected a string");
  const std::string expected = digests.at("sha256").get<std::string>();
  const std::string actual = sha256_hex(python_json_dumps(workspace));
  if (expected != actual)
    throw InputError(patchset_file, where + "/sha256",
                     "the patchset was made for another background-only workspace: its digest " + expected +
                         " differs from " + workspace_file + "'s " + actual +
                         " (--skip-digest-check applies it anyway)");
}

Workspace Workspace::load(const std::string& path, const std::vector<std::string>& patch_files,
                          const std::string& patchset_file, const std::string& patch_name, bool verify_digest) {
  json doc = read_json_file(path);
  if (!patchset_file.empty()) {
    if (patch_name.empty()) throw InputError(patchset_file, "--patch-name", "a patchset needs --patch-name");
    const json patchset = read_json_file(patchset_file);
    if (verify_digest) verify_patchset_digest(patchset, doc, patchset_file, path);
    doc = apply_patch(doc, patch_from_patchset(patchset, patch_name, patchset_file), patchset_file);
  }
  for (const auto& p : patch_files) doc = apply_patch(doc, read_json_file(p), p);
  return from_json(doc, path);
}

}  // namespace refinery::histfactory
