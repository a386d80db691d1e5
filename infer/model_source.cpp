#include "infer/model_source.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <iomanip>
#include <iostream>
#include <limits>
#include <sstream>

#include "infer/combination_source.h"
#include "src/core/atomic_file.h"
#include "src/config/schema.h"
#include "src/core/error.h"
#include "src/core/hash.h"
#include "src/core/random_seed.h"
#include "src/core/worker_threads.h"
#include "src/histfactory/hf_model.h"
#include "src/stats/simplified_likelihood.h"
#include "src/stats/workspace_model.h"
#include "src/core/text.h"

namespace refinery::cli {

using nlohmann::json;

namespace {

ExperimentLoader g_experiment_loader = nullptr;
EventFileModelLoader g_event_file_loader = nullptr;

// Whether the file starts with HDF5's signature.
bool is_hdf5(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[8] = {};
  return in.read(head, 8) && std::string(head, 8) == std::string("\x89HDF\r\n\x1a\n", 8);
}

// "LO,HI" of --poi-bounds.
std::pair<double, double> parse_bounds(const std::string& text) {
  const std::size_t comma = text.find(',');
  auto number = [&](const std::string& part) {
    std::size_t used = 0;
    double v = std::numeric_limits<double>::quiet_NaN();
    try {
      v = std::stod(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != part.size() || !std::isfinite(v))
      throw InputError("", "--poi-bounds", "'" + text + "' is not LO,HI (two finite numbers)");
    return v;
  };
  if (comma == std::string::npos) number("");
  const double lo = number(text.substr(0, comma)), hi = number(text.substr(comma + 1));
  if (!(lo < hi)) throw InputError("", "--poi-bounds", "'" + text + "': LO must be below HI");
  return {lo, hi};
}

}  // namespace

std::string data_source(const cxxopts::ParseResult& r) {
  std::string given;
  for (const char* source : {"asimov", "toy", "data"})
    if (r.count(source)) {
      if (!given.empty())
        throw InputError("", "--" + std::string(source),
                         "conflicts with --" + given + " (give one data source: --asimov, --toy I or --data FILE)");
      given = source;
    }
  return given;
}

std::vector<Assignment> parse_assignments(const std::string& text, const std::vector<std::string>& names, int poi,
                                          const std::string& flag, const std::string& poi_hint) {
  std::vector<Assignment> out;
  std::stringstream items(text);
  for (std::string item; std::getline(items, item, ',');) {
    Assignment a;
    a.item = item;
    const auto eq = item.find('=');
    a.name = item.substr(0, eq);
    const auto it = std::find(names.begin(), names.end(), a.name);
    if (eq == std::string::npos || it == names.end())
      throw InputError("", flag, "'" + item + "' is not NAME=VALUE with a parameter of the model (" + join(names) + ")");
    a.index = int(it - names.begin());
    if (a.index == poi) throw InputError("", flag, "'" + a.name + "' is the parameter of interest: " + poi_hint);
    try {
      std::size_t used = 0;
      a.value = std::stod(item.substr(eq + 1), &used);
      if (used != item.size() - eq - 1 || !std::isfinite(a.value)) throw std::invalid_argument("");
    } catch (const std::exception&) {
      throw InputError("", flag, "'" + item + "': the value is not a finite number");
    }
    out.push_back(a);
  }
  return out;
}

Eigen::VectorXd parse_truth(const std::vector<std::string>& names, Eigen::VectorXd x, int poi, double mu,
                            const std::string& nus, std::string* text) {
  std::ostringstream s;
  s << std::setprecision(10);
  if (poi >= 0) {
    x[poi] = mu;
    s << names[poi] << " = " << x[poi];
  }
  if (nus != "nominal" && !nus.empty())
    // The POI's value would silently replace --mu-true's.
    for (const Assignment& a : parse_assignments(nus, names, poi, "--nu-true", "give its true value with --mu-true")) {
      x[a.index] = a.value;
      s << (s.tellp() > 0 ? ", " : "") << a.name << " = " << a.value;
    }
  *text = s.str();
  return x;
}

Eigen::VectorXd workspace_truth(const stats::Model& model, int poi, const cxxopts::ParseResult& r,
                                std::string* text) {
  const std::string nus = r["nu-true"].as<std::string>();
  if (asks_from_priors(nus))
    throw InputError("", "--nu-true", "from-priors draws an experiment's nuisances; for a workspace give NAME=VALUE,...");
  return parse_truth(model.names(), model.init(), poi, r["mu-true"].as<double>(), nus, text);
}

void choose_poi(ModelSource& s, const cxxopts::ParseResult& r) {
  if (r.count("poi")) {
    s.poi = s.model->poi(r["poi"].as<std::string>(), "--poi");
  } else {
    const auto pois = s.model->pois();
    s.poi = pois.empty() ? -1 : pois.front();
  }
  if (r.count("poi-bounds")) {
    const auto [lo, hi] = parse_bounds(r["poi-bounds"].as<std::string>());
    if (s.poi < 0) s.model->poi("", "--poi-bounds");
    s.model->set_bounds(s.poi, lo, hi);
  }
  s.header["poi"] = s.poi < 0 ? json(nullptr) : json(s.model->parameters()[s.poi].name);
  if (r.count("fix")) {
    // NAME=VALUE,...: those parameters held at the values in every fit.
    for (const Assignment& a : parse_assignments(r["fix"].as<std::string>(), s.model->names(), s.poi, "--fix",
                                                 "choose another with --poi, or narrow --poi-bounds")) {
      const stats::Parameter& par = s.model->parameters()[size_t(a.index)];
      if (!(par.lower <= a.value && a.value <= par.upper)) {
        std::ostringstream b;
        b << std::setprecision(10) << "[" << par.lower << ", " << par.upper << "]";
        throw InputError("", "--fix", "'" + a.item + "': outside the bounds " + b.str() + " of '" + a.name + "'");
      }
      s.model->set_init(a.index, a.value);
      s.model->set_fixed(a.index, true);
      s.header["fixed"][a.name] = a.value;
    }
  }
}

void add_data_options(cxxopts::Options& o) {
  o.add_options("Data")("asimov", "Fit the Asimov data set at --mu-true and --nu-true (an experiment's default)")(
      "toy", "Pseudo-experiment number I (experiments: from the simulator, seeded by the config's seed and I; "
             "workspaces: Poisson main and constraint-drawn auxiliary data, seeded by --seed and I)",
      cxxopts::value<int64_t>())("data", "Fit the events of an HDF5 event file (experiments)", cxxopts::value<std::string>())(
      "mu-true", "True POI value of the Asimov data or pseudo-experiment", cxxopts::value<double>()->default_value("1"))(
      "nu-true",
      "True nuisances: nominal, from-priors (experiment toys; from-priors,NAME=VALUE,... holds those) or NAME=VALUE,... with the model's parameters "
      "(e.g. alpha=1,beta=-0.5)",
      cxxopts::value<std::string>()->default_value("nominal"))(
      "reference", "Experiments: the binned reference analysis (unbinned regions binned in measurement.reference)")(
      "labels", "Experiments: expected yields from each process's own simulated events instead of the fractions")(
      "recalibration", "Experiments: per-region recalibration of the fractions: isotonic, closure or none (default: the config's)",
      cxxopts::value<std::string>()->default_value(""))(
      "mc-statistics", "Experiments: the simulated-sample statistics term, on or off (default: measurement.mc_statistics.enabled)",
      cxxopts::value<std::string>()->default_value(""))(
      "inputs", "Experiments: directory with classifier.pt, dcr_<process>.pt and mc.h5 (default: the config's output_dir)",
      cxxopts::value<std::string>()->default_value(""))(
      "no-cache", "Experiments: evaluate the networks on mc.h5 afresh and write no cache (default: reuse INPUTS/cache "
                  "while the inputs' bytes are unchanged)");
}

void add_model_options(cxxopts::Options& options, bool positional_workspace) {
  options.add_options("Workspace")("workspace", "pyhf JSON workspace", cxxopts::value<std::string>())(
      "patch", "JSON patch file applied to the workspace (repeatable)", cxxopts::value<std::vector<std::string>>())(
      "patchset", "HEPData patchset file", cxxopts::value<std::string>())(
      "patch-name", "Name of the patch in --patchset", cxxopts::value<std::string>())(
      "skip-digest-check", "Apply a --patchset even if its digest of the background-only workspace differs")(
      "measurement", "Measurement name (default: the first)", cxxopts::value<std::string>()->default_value(""))(
      "interp",
      "Interpolation: default = code4 (pyhf's: normsys code4, histosys code4p) or code1 (normsys code1, histosys code0)",
      cxxopts::value<std::string>()->default_value("default"))(
      "verbose", "Print notes on what the workspace holds but the model does not use");
  add_data_options(options);
  options.add_options("Model")("poi", "The parameter of interest (default: the model's first POI)",
                               cxxopts::value<std::string>())(
      "poi-bounds", "Bounds of the POI as LO,HI (default: the model's)", cxxopts::value<std::string>())(
      "fix", "Hold parameters at values in every fit, NAME=VALUE,...; not the POI", cxxopts::value<std::string>())(
      "json", "Print the result as one JSON line");
  if (positional_workspace) {
    options.parse_positional({"workspace"});
    options.positional_help("[WORKSPACE.json]");
  }
}

bool asks_from_priors(const std::string& nu_true) {
  const std::string priors = "from-priors";
  return nu_true.compare(0, priors.size(), priors) == 0 && (nu_true.size() == priors.size() || nu_true[priors.size()] == ',');
}

std::uint64_t toy_seed(std::uint64_t seed, double mu) {
  return stream_seed(seed, {0x70e5, static_cast<std::uint64_t>(std::llround(mu * 1e6))});
}

std::string default_out(const ExperimentConfig& config, const CommonOptions& common, const std::string& name) {
  if (!common.out.empty()) return common.out;
  const std::string dir = config.document.at("output_dir").get<std::string>();
  std::filesystem::create_directories(dir);
  return dir + "/" + name;
}

std::string workspace_path(const cxxopts::ParseResult& r) {
  if (!r.count("workspace")) throw InputError("", "WORKSPACE", "no workspace file given");
  return r["workspace"].as<std::string>();
}

bool verify_digest(const cxxopts::ParseResult& r) { return r.count("skip-digest-check") == 0; }

histfactory::Workspace load_workspace(const cxxopts::ParseResult& r) { return load_workspace(r, workspace_path(r)); }

std::string workspace_identity(const cxxopts::ParseResult& r, const std::string& path) {
  json id;
  const json document = read_json_file(path);
  id["workspace"] = json_hash(document);
  if (is_combination(document))  // and the files it names
    for (const auto& f : combination_files(document, path)) id["combined_files"].push_back(json_hash(read_json_file(f)));
  if (r.count("patch"))
    for (const auto& p : r["patch"].as<std::vector<std::string>>()) id["patches"].push_back(json_hash(read_json_file(p)));
  if (r.count("patchset")) id["patchset"] = json_hash(read_json_file(r["patchset"].as<std::string>()));
  if (r.count("patch-name")) id["patch_name"] = r["patch-name"].as<std::string>();
  id["measurement"] = r["measurement"].as<std::string>();
  id["interp"] = r["interp"].as<std::string>();
  if (r.count("poi")) id["poi"] = r["poi"].as<std::string>();
  if (r.count("poi-bounds")) id["poi_bounds"] = r["poi-bounds"].as<std::string>();
  if (r.count("fix")) id["fix"] = r["fix"].as<std::string>();
  return json_hash(id);
}

histfactory::Workspace load_workspace(const cxxopts::ParseResult& r, const std::string& path) {
  std::vector<std::string> patches;
  if (r.count("patch")) patches = r["patch"].as<std::vector<std::string>>();
  std::string patchset = r.count("patchset") ? r["patchset"].as<std::string>() : "";
  std::string name = r.count("patch-name") ? r["patch-name"].as<std::string>() : "";
  if (!name.empty() && patchset.empty()) throw InputError("", "--patch-name", "needs --patchset");
  return histfactory::Workspace::load(path, patches, patchset, name, verify_digest(r));
}

ModelSource workspace_source(const histfactory::Workspace& ws, const cxxopts::ParseResult& r) {
  auto hf = std::make_shared<histfactory::HistFactoryModel>(ws, r["measurement"].as<std::string>(),
                                                            interp_options(r["interp"].as<std::string>()));
  // A background-only workspace's POI is undefined: --poi-bounds on it says why.
  if (r.count("poi-bounds") && !r.count("poi")) hf->require_poi();
  if (r.count("verbose"))
    for (const auto& note : hf->notes()) std::cerr << "note: " << ws.file << ": " << note << "\n";
  ModelSource s;
  s.workspace = true;
  s.file = ws.file;
  s.model = std::make_unique<stats::WorkspaceModel>(hf);
  s.header["kind"] = "workspace";
  s.header["workspace"] = ws.file;
  if (!hf->notes().empty()) s.header["notes"] = hf->notes();
  choose_poi(s, r);
  s.description = "observed data of " + ws.file;
  s.data_kind = "observed";
  return s;
}

// The document of a simplified likelihood or a combination, which name
// themselves at their top level; nothing for anything else (a workspace,
// whose loader reports what is wrong with it). The text search spares a
// large workspace a second parse.
std::optional<json> model_document(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.find("\"simplified_likelihood\"") == std::string::npos && text.find("\"combination\"") == std::string::npos)
    return std::nullopt;
  json document = read_json_file(path);
  if (!stats::is_simplified_likelihood(document) && !is_combination(document)) return std::nullopt;
  return document;
}

// A simplified likelihood (src/stats/simplified_likelihood.h) in the
// workspace's place: its observed counts, the same data and POI options.
// Or a combination of analyses (infer/combination_source.h).
ModelSource document_source(const json& document, const std::string& path, const cxxopts::ParseResult& r) {
  const bool simplified = stats::is_simplified_likelihood(document);
  const std::string what = simplified ? "the simplified likelihood " : "the combination ";
  for (const char* flag : {"patch", "patchset", "patch-name", "skip-digest-check", "measurement"})
    if (r.count(flag)) throw InputError("", std::string("--") + flag, "applies to a pyhf workspace, not to " + what + path);
  if (r["interp"].as<std::string>() != "default")
    throw InputError("", "--interp", "applies to a pyhf workspace, not to " + what + path);
  ModelSource s;
  s.file = path;
  if (simplified) {
    s.model = std::make_unique<stats::SimplifiedLikelihoodModel>(stats::read_simplified_likelihood(document, path));
    s.header["kind"] = "simplified_likelihood";
    s.header["simplified_likelihood"] = path;
  } else {
    s.model = load_combination(document, path);
    s.header["kind"] = "combination";
    s.header["combination"] = path;
  }
  choose_poi(s, r);
  s.description = "observed data of " + path;
  s.data_kind = "observed";
  return s;
}

// An HDF5 file in the workspace's place (a learned-ratio likelihood): its
// observed events, the same data and POI options.
ModelSource event_file_source(const std::string& path, const cxxopts::ParseResult& r) {
  if (!g_event_file_loader) throw NeedsFullProcess{};
  for (const char* flag : {"patch", "patchset", "patch-name", "skip-digest-check", "measurement"})
    if (r.count(flag)) throw InputError("", std::string("--") + flag, "applies to a pyhf workspace, not to " + path);
  if (r["interp"].as<std::string>() != "default") throw InputError("", "--interp", "applies to a pyhf workspace, not to " + path);
  ModelSource s;
  s.file = path;
  s.model = g_event_file_loader(path, &s.header);
  choose_poi(s, r);
  s.description = "observed events of " + path;
  s.data_kind = "observed";
  return s;
}

void set_event_file_model_loader(EventFileModelLoader loader) { g_event_file_loader = loader; }

ModelSource file_source(const std::string& path, const cxxopts::ParseResult& r) {
  if (is_hdf5(path)) return event_file_source(path, r);
  const std::optional<json> document = model_document(path);
  return document ? document_source(*document, path, r) : workspace_source(load_workspace(r, path), r);
}

histfactory::InterpOptions interp_options(const std::string& s) {
  using histfactory::HistosysCode;
  using histfactory::NormsysCode;
  if (s == "default" || s == "code4") return {NormsysCode::kCode4, HistosysCode::kCode4p};
  if (s == "code1") return {NormsysCode::kCode1, HistosysCode::kCode0};
  throw InputError("", "--interp", "unknown interpolation '" + s + "' (known: default, code4, code1)");
}

void set_experiment_loader(ExperimentLoader loader) { g_experiment_loader = loader; }

ModelSource load_model_source(const cxxopts::ParseResult& r, CommonOptions& common, const std::string& result) {
  if (r.count("workspace")) {
    if (!common.config_path.empty())
      throw InputError("", "--config", "give a workspace or an experiment config, not both");
    for (const char* flag : {"data", "reference", "labels", "no-cache"})
      if (r.count(flag))
        throw InputError("", std::string("--") + flag, "applies to an experiment (--config), not to a workspace");
    for (const char* flag : {"recalibration", "inputs", "mc-statistics"})
      if (!r[flag].as<std::string>().empty())
        throw InputError("", std::string("--") + flag, "applies to an experiment (--config), not to a workspace");
    set_worker_threads(common.threads);
    ModelSource s = file_source(workspace_path(r), r);
    const std::string given = data_source(r);
    if (given == "asimov" || given == "toy") {
      std::string truth;
      const Eigen::VectorXd x = workspace_truth(*s.model, s.poi, r, &truth);
      if (given == "asimov") {
        s.model = s.model->asimov(x);
        s.description = "Asimov data of " + s.file + " at " + truth;
      } else {
        const int64_t index = r["toy"].as<int64_t>();
        if (index < 0) throw InputError("", "--toy", "must be >= 0");
        const std::uint64_t seed = common.seed.value_or(0);
        s.model = s.model->toy(x, stream_seed(seed, {0x70e5, static_cast<std::uint64_t>(index)}));
        s.description = "pseudo-experiment " + std::to_string(index) + " (seed " + std::to_string(seed) + ") of " +
                        s.file + " at " + truth;
      }
      s.data_kind = given;
    }
    s.header["data"] = s.description;
    s.header["model"] = s.model->describe();
    s.out = common.out;
    return s;
  }
  if (!g_experiment_loader) throw NeedsFullProcess{};
  return g_experiment_loader(r, common, result);
}

void emit_result(const json& out, const ModelSource& source, const cxxopts::ParseResult& r,
                 const CommonOptions& common, const std::string& text) {
  if (!source.out.empty()) write_text_atomically(source.out, out.dump(2) + "\n");
  if (r.count("json")) {
    std::cout << out.dump() << "\n";
  } else if (!common.quiet || source.out.empty()) {
    std::cout << (text.empty() ? out.dump(2) + "\n" : text);
    if (!source.out.empty()) std::cout << "wrote " << source.out << "\n";
  }
}

std::string model_digest(const stats::Model& model) {
  json d;
  for (const auto& p : model.parameters())
    d["parameters"].push_back({p.name, p.init, p.lower, p.upper, p.fixed, p.poi, int(p.constraint), p.width, p.aux});
  for (const auto& y : model.observed_yields()) d["observed"].push_back({y.region, y.bins});
  for (const auto& y : model.expected_yields(model.init())) d["expected"].push_back({y.region, y.process, y.bins});
  return json_hash(d);
}

}  // namespace refinery::cli
