#include "infer/measurement.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "infer/response_nuisance.h"
#include "src/likelihood/dcr_ansatz.h"
#include "infer/signal_fraction_thinning.h"
#include "models/dcr_network.h"
#include "models/torchscript_export.h"
#include "src/core/bin_edges.h"
#include "src/core/block_eval.h"
#include "src/core/error.h"
#include "src/core/hash.h"
#include "src/io/event_reader.h"
#include "src/io/tensor_cache.h"
#include "src/core/text.h"
#include "src/likelihood/mc_statistics.h"

namespace refinery {

using namespace likelihood;
using nlohmann::json;

namespace {

std::string region_key(size_t i, const std::string& key) {
  return "measurement.regions[" + std::to_string(i) + "]." + key;
}

// Index of `name` among the classifier's processes; ConfigError at `key` if unknown.
int process_index(const ExperimentConfig& config, const std::string& key, const std::string& name,
                  const std::vector<std::string>& processes) {
  const auto it = std::find(processes.begin(), processes.end(), name);
  if (it == processes.end())
    throw ConfigError(config.file, key, "unknown process '" + name + "' (the classifier's processes: " + join(processes) + ")");
  return int(it - processes.begin());
}

// [low, high] with low < high.
std::pair<double, double> range_of(const ExperimentConfig& config, const std::string& key, const json& j) {
  const auto r = j.get<std::vector<double>>();
  if (r.size() != 2 || !(r[0] < r[1])) throw ConfigError(config.file, key, "expected [low, high] with low < high");
  return {r[0], r[1]};
}

// Yield closure by iterative proportional fitting: log c_p such that the
// fractions f_p c_p / sum_q f_q c_q summed with the weights over the events
// give each process its simulated yield (the weights of its own events).
// Plain loops over the events: 50 sweeps of [n,P] tensor arithmetic cost
// more than the rest of a cached set-up. Sums are Kahan-compensated.
torch::Tensor yield_closure(const torch::Tensor& fractions, const torch::Tensor& weight, const torch::Tensor& process) {
  const torch::Tensor f = fractions.to(torch::kFloat64).contiguous();
  const torch::Tensor w = weight.to(torch::kFloat64).contiguous();
  const torch::Tensor proc = process.to(torch::kInt64).contiguous();
  const int64_t n = f.size(0), P = f.size(1);
  const double* pf = f.data_ptr<double>();
  const double* pw = w.data_ptr<double>();
  const int64_t* pp = proc.data_ptr<int64_t>();
  auto kahan_add = [](double& s, double& comp, double x) {
    const double y = x - comp, t = s + y;
    comp = (t - s) - y;
    s = t;
  };
  std::vector<double> target(P, 0.0), target_c(P, 0.0);
  for (int64_t j = 0; j < n; ++j)
    if (pp[j] >= 0 && pp[j] < P) kahan_add(target[pp[j]], target_c[pp[j]], pw[j]);
  std::vector<double> log_c(P, 0.0), c(P), have(P), have_c(P);
  for (int it = 0; it < 50; ++it) {
    for (int64_t p = 0; p < P; ++p) c[p] = std::exp(log_c[p]);
    std::fill(have.begin(), have.end(), 0.0);
    std::fill(have_c.begin(), have_c.end(), 0.0);
    for (int64_t j = 0; j < n; ++j) {
      const double* fj = pf + j * P;
      double norm = 0.0;
      for (int64_t p = 0; p < P; ++p) norm += fj[p] * c[p];
      const double scale = pw[j] / norm;
      for (int64_t p = 0; p < P; ++p) kahan_add(have[p], have_c[p], scale * fj[p] * c[p]);
    }
    double largest = 0.0;
    for (int64_t p = 0; p < P; ++p) {
      const double step = target[p] > 0 ? std::log(target[p] / have[p]) : 0.0;
      log_c[p] += step;
      largest = std::max(largest, std::abs(step));
    }
    if (largest < 1e-12) break;
  }
  return torch::tensor(log_c, torch::kFloat64);
}

// A large file's identity for a cache key: its size and the FNV-1a hashes of
// its first and last MiB (an HDF5 event file rewritten with other events
// changes its tables there).
std::string sampled_identity(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "file", "cannot be opened");
  in.seekg(0, std::ios::end);
  const int64_t size = int64_t(in.tellg());
  const int64_t block = std::min<int64_t>(size, 1 << 20);
  std::string head(size_t(block), '\0'), tail(size_t(block), '\0');
  in.seekg(0);
  in.read(head.data(), block);
  in.seekg(size - block);
  in.read(tail.data(), block);
  if (!in) throw InputError(path, "file", "cannot be read");
  return std::to_string(size) + ":" + hex64(fnv1a64(head)) + ":" + hex64(fnv1a64(tail));
}

// Whether cached network outputs have the shapes and types evaluate() gives.
bool consistent(const EvaluatedEvents& e, int64_t n_features, int64_t n_processes, int64_t n_coefficients) {
  if (e.x.dim() != 2) return false;
  const int64_t n = e.x.size(0);
  return e.x.size(1) == n_features && e.x.scalar_type() == torch::kFloat32 && e.weight.dim() == 1 &&
         e.weight.size(0) == n && e.weight.scalar_type() == torch::kFloat64 && e.process.dim() == 1 &&
         e.process.size(0) == n && e.process.scalar_type() == torch::kInt64 && e.fractions.dim() == 2 &&
         e.fractions.size(0) == n && e.fractions.size(1) == n_processes && e.fractions.scalar_type() == torch::kFloat64 &&
         e.prob.sizes() == e.fractions.sizes() && e.prob.scalar_type() == torch::kFloat32 && e.coef.dim() == 3 &&
         e.coef.size(0) == n && e.coef.size(1) == n_processes && e.coef.size(2) == n_coefficients &&
         e.coef.scalar_type() == torch::kFloat32 && e.variance_factor.dim() == 1 && e.variance_factor.size(0) == n &&
         e.variance_factor.scalar_type() == torch::kFloat64;
}

}  // namespace

// The parameter table the config declares (measurement.poi, .normfactors,
// .nuisances): the POI, the normfactors, then the nuisances in the config's
// order; factors and normsys act in every region or in the ones named; the DCR networks'
// nuisances (in their ansatz order) must all be declared as calibration
// nuisances, and a declared calibration nuisance must be one of them.
ModelSpec analysis_spec(const ExperimentConfig& config, const std::vector<std::string>& processes,
                        const std::vector<std::string>& dcr_nuisances, const std::string& dcr_file,
                        std::vector<ResponseNuisance>* responses, const std::vector<int>& dcr_powers) {
  std::vector<ResponseNuisance> declared_responses;
  std::vector<int> response_parameters;
  const json& m = config.section("measurement");
  ModelSpec s;
  s.processes = processes;
  const json& poi = m.at("poi");
  const std::string poi_name = poi.at("name").get<std::string>();
  const auto poi_processes = poi.at("processes").get<std::vector<std::string>>();
  if (poi_processes.empty())
    throw ConfigError(config.file, "measurement.poi.processes",
                      "the POI '" + poi_name + "' scales no process: name the signal process(es) (the classifier's: " +
                          join(processes) + ")");
  const auto [mu_lo, mu_hi] = range_of(config, "measurement.poi.range", poi.at("range"));
  if (!(mu_lo >= 0)) throw ConfigError(config.file, "measurement.poi.range", "expected 0 <= low (the POI multiplies a rate)");
  s.parameters.push_back({poi_name, ParameterKind::kPoi, Constraint::kNone, 0, 1,
                          std::clamp(poi.at("init").get<double>(), mu_lo, mu_hi), mu_lo, mu_hi});
  for (const auto& p : poi_processes)
    s.factors.push_back({process_index(config, "measurement.poi.processes", p, processes), 0, {}});
  // Region names a factor or modifier may be limited to.
  std::vector<std::string> region_names;
  for (const auto& r : m.at("regions")) region_names.push_back(r.at("name").get<std::string>());
  auto regions_of = [&](const json& list, const std::string& key) {
    auto names = list.get<std::vector<std::string>>();
    for (const auto& n : names)
      if (std::find(region_names.begin(), region_names.end(), n) == region_names.end())
        throw ConfigError(config.file, key, "unknown region '" + n + "' (measurement.regions: " + join(region_names) + ")");
    return names;
  };
  auto declared_twice = [&](const std::string& name, const std::string& type, const std::string& key) {
    const int earlier = s.index(name);
    if (earlier < 0) return;
    const Parameter& e = s.parameters[earlier];
    const std::string was = earlier == 0 ? "the POI"
                            : e.kind == ParameterKind::kCalibration ? "calibration"
                            : s.scaled_by(earlier).empty() ? "normsys"
                                                           : "normfactor";
    throw ConfigError(config.file, key, "'" + name + "' is declared twice (as " + was + " and as " + type + ")");
  };
  const json& normfactors = m.at("normfactors");
  for (size_t i = 0; i < normfactors.size(); ++i) {
    const json& f = normfactors[i];
    auto key = [&](const std::string& k) { return "measurement.normfactors[" + std::to_string(i) + "]." + k; };
    Parameter par;
    par.name = f.at("name").get<std::string>();
    declared_twice(par.name, "normfactor", key("name"));
    par.kind = f.at("poi").get<bool>() ? ParameterKind::kPoi : ParameterKind::kNormalisation;
    par.constraint = Constraint::kNone;
    std::tie(par.lower, par.upper) = range_of(config, key("range"), f.at("range"));
    if (!(par.lower >= 0)) throw ConfigError(config.file, key("range"), "expected 0 <= low (a normfactor multiplies a rate)");
    par.init = f.at("init").get<double>();
    if (!(par.lower <= par.init && par.init <= par.upper))
      throw ConfigError(config.file, key("init"), "the starting value lies outside the range");
    par.centre = par.init;
    s.parameters.push_back(par);
    const auto regions = regions_of(f.at("regions"), key("regions"));
    for (const auto& t : f.at("processes").get<std::vector<std::string>>())
      s.factors.push_back({process_index(config, key("processes"), t, processes), s.n_params() - 1, regions});
  }
  const json& nuisances = m.at("nuisances");
  for (size_t i = 0; i < nuisances.size(); ++i) {
    const json& n = nuisances[i];
    auto key = [&](const std::string& k) { return "measurement.nuisances[" + std::to_string(i) + "]." + k; };
    Parameter par;
    par.name = n.at("name").get<std::string>();
    const std::string type = n.at("type").get<std::string>();
    declared_twice(par.name, type, key("name"));
    par.kind = type == "calibration" || type == "response" ? ParameterKind::kCalibration : ParameterKind::kNormalisation;
    const std::string constraint = n.at("constraint").get<std::string>();
    par.constraint = constraint == "gaussian" ? Constraint::kGaussian : constraint == "lognormal" ? Constraint::kLogNormal : Constraint::kNone;
    par.centre = n.at("centre").get<double>();
    par.width = n.at("width").get<double>();
    std::tie(par.lower, par.upper) = range_of(config, key("range"), n.at("range"));
    par.init = n.contains("init") ? n.at("init").get<double>() : par.centre;
    if (par.constraint != Constraint::kNone && !(par.width > 0))
      throw ConfigError(config.file, key("width"), "a constraint needs a positive width");
    if (par.constraint == Constraint::kLogNormal && !(par.centre > 0 && par.lower > 0))
      throw ConfigError(config.file, key("centre"), "a lognormal constraint needs centre > 0 and range low > 0");
    if (par.constraint != Constraint::kNone && !(par.lower <= par.centre && par.centre <= par.upper))
      throw ConfigError(config.file, key("centre"), "the constraint's centre lies outside the range");
    if (!(par.lower <= par.init && par.init <= par.upper))
      throw ConfigError(config.file, key("init"), "the starting value lies outside the range");
    const auto targets = n.at("processes").get<std::vector<std::string>>();
    if (type == "response") {
      ResponseNuisance resp;
      resp.name = par.name;
      const std::string of = n.value("of", std::string());
      const auto k = std::find(dcr_nuisances.begin(), dcr_nuisances.end(), of) - dcr_nuisances.begin();
      if (of.empty() || k == int64_t(dcr_nuisances.size()))
        throw ConfigError(config.file, key("of"),
                          "a response nuisance scales the learned response to one of the DCR networks' nuisances (" +
                              join(dcr_nuisances) + "), got '" + of + "'");
      resp.of = int(k);
      if (targets.empty()) throw ConfigError(config.file, key("processes"), "a response nuisance scales at least one process's response");
      for (const auto& t : targets) resp.processes.push_back(process_index(config, key("processes"), t, processes));
      resp.size = n.at("size").get<double>();
      if (!(resp.size > 0)) throw ConfigError(config.file, key("size"), "a response nuisance needs a positive size (the relative response uncertainty)");
      if (!n.at("regions").empty())
        throw ConfigError(config.file, key("regions"), "a response nuisance acts through the DCR networks in every region");
      s.parameters.push_back(par);
      response_parameters.push_back(s.n_params() - 1);
      declared_responses.push_back(resp);
      continue;
    }
    if (par.kind == ParameterKind::kCalibration) {
      if (std::find(dcr_nuisances.begin(), dcr_nuisances.end(), par.name) == dcr_nuisances.end())
        throw ConfigError(config.file, key("name"),
                          "calibration nuisance '" + par.name + "' is not one of the DCR networks' nuisances (" +
                              join(dcr_nuisances) + "): retrain them with it (dcr.nuisances) or declare it as normsys");
      if (!targets.empty() || n.at("size").get<double>() != 0.0 || !n.at("regions").empty())
        throw ConfigError(config.file, key(!targets.empty() ? "processes" : !n.at("regions").empty() ? "regions" : "size"),
                          "a calibration nuisance acts through the DCR networks of every process in every region "
                          "(no size, processes or regions)");
    } else {
      if (targets.empty()) throw ConfigError(config.file, key("processes"), "a normsys scales at least one process");
      const double size = n.at("size").get<double>();
      if (size == 0.0 || !(size > -1.0))
        throw ConfigError(config.file, key("size"), "a normsys needs a non-zero size above -1 (its factor is (1 + size)^nu)");
    }
    s.parameters.push_back(par);
    const auto regions = regions_of(n.at("regions"), key("regions"));
    for (const auto& t : targets)
      s.modifiers.push_back({process_index(config, key("processes"), t, processes), s.n_params() - 1,
                             n.at("size").get<double>(), false, regions});
  }
  for (const auto& n : dcr_nuisances) {
    const int i = s.index(n);
    if (i < 0 || s.parameters[i].kind != ParameterKind::kCalibration)
      throw InputError(dcr_file, "metadata.json: nuisances",
                       "the DCR networks' nuisance '" + n + "' is not declared as a calibration nuisance in " + config.file +
                           " (measurement.nuisances)");
    s.calibration.push_back(i);
  }
  // Response nuisances extend the ansatz after the networks' nuisances.
  if (!response_parameters.empty() && likelihood::appended_terms(dcr_powers) > 0)
    throw InputError(config.file, "measurement.nuisances",
                     "a response nuisance ('" + s.parameters[response_parameters.front()].name +
                         "') with DCR networks that carry a cubic term or a knot (" + dcr_file +
                         ": coordinates) is not supported: drop one of them");
  s.calibration.insert(s.calibration.end(), response_parameters.begin(), response_parameters.end());
  if (!dcr_powers.empty()) {
    s.calibration_power = dcr_powers;
    s.calibration_power.resize(s.calibration.size(), 1);
  }
  s.order = 2;
  s.validate();
  if (responses) *responses = declared_responses;
  return s;
}

Measurement::Measurement(const ExperimentConfig& config, const MeasurementOptions& options) {
  const json& m = config.section("measurement");
  const std::string dir = options.inputs.empty() ? config.document.at("output_dir").get<std::string>() : options.inputs;
  labels_ = options.labels || m.at("expected_yields").get<std::string>() == "labels";
  const std::string recal = options.recalibration.empty() ? m.at("recalibration").get<std::string>() : options.recalibration;
  if (recal != "isotonic" && recal != "closure" && recal != "none")
    throw InputError("", "--recalibration", "expected isotonic, closure or none, got '" + recal + "'");
  luminosity_ = config.section("simulation").at("luminosity").get<double>();
  // Classifier: features and processes.
  const std::string clf_path = dir + "/classifier.pt";
  if (!std::filesystem::exists(clf_path))
    throw InputError(clf_path, "file", "missing: train the classifier first (refinery train classifier --config ...)");
  classifier_ = std::make_unique<ClassifierArchive>(clf_path);
  features_ = classifier_->feature_names();
  processes_ = classifier_->process_names();
  // DCR networks, one per process, all with the same nuisances.
  json nu_range;  // the networks' training points per nuisance (the first archive's metadata)
  for (const auto& p : processes_) {
    const std::string path = dir + "/dcr_" + p + ".pt";
    if (!std::filesystem::exists(path))
      throw InputError(path, "file", "missing: train the DCR networks first (refinery train dcr --config ...)");
    json meta;
    dcr_.push_back(load_torchscript(path, &meta));
    dcr_.back().eval();
    if (meta.value("kind", "") != "dcr") throw InputError(path, "metadata.json: kind", "not a DCR network");
    if (meta.value("process", "") != p)
      throw InputError(path, "metadata.json: process", "trained for '" + meta.value("process", "") + "', expected '" + p + "'");
    if (meta.value("n_features", int64_t(0)) != int64_t(features_.size()))
      throw InputError(path, "metadata.json: n_features", "does not match the classifier's " + std::to_string(features_.size()) + " features");
    if (meta.value("order", 0) != 2) throw InputError(path, "metadata.json: order", "the measurement needs the quadratic ansatz");
    auto nuis = meta.at("nuisances").get<std::vector<std::string>>();
    const std::vector<int> powers = dcr_powers_of(meta, path);
    if (dcr_nuisances_.empty()) dcr_nuisances_ = nuis, dcr_powers_ = powers, nu_range = meta.value("nu_range", json());
    else if (nuis != dcr_nuisances_) throw InputError(path, "metadata.json: nuisances", "differ from the other processes' DCR networks");
    else if (powers != dcr_powers_)
      throw InputError(path, "metadata.json: coordinates", "differ from the other processes' DCR networks (dcr.coordinates)");
  }
  spec_ = analysis_spec(config, processes_, dcr_nuisances_, dir + "/dcr_" + processes_[0] + ".pt", &responses_, dcr_powers_);
  // A cubic term grows as nu^3 outside the training points: a fit that may
  // wander far beyond them finds minima the simulator does not have (a
  // smearing nuisance trained up to 5 and fitted with a range up to 10 ran to
  // 7.6, docs/dcr.md). The range must stay within a fifth of the points'
  // span of them.
  for (size_t k = 0; k < dcr_powers_.size(); ++k) {
    if (dcr_powers_[k] != kCubic || nu_range.is_null()) continue;
    const double lo = nu_range["min"].at(k).get<double>(), hi = nu_range["max"].at(k).get<double>();
    const double margin = 0.2 * (hi - lo);
    const likelihood::Parameter& par = spec_.parameters[size_t(spec_.calibration[k])];
    if (par.lower < lo - margin || par.upper > hi + margin) {
      const json& declared = config.section("measurement").at("nuisances");
      size_t i = 0;
      while (i < declared.size() && declared[i].at("name") != par.name) ++i;
      std::ostringstream msg;
      msg << "[" << par.lower << ", " << par.upper << "] reaches beyond the DCR networks' training points for '" << par.name
          << "' ([" << lo << ", " << hi << "]), where their cubic term extrapolates: give a range within [" << lo - margin
          << ", " << hi + margin << "]";
      throw ConfigError(config.file, "measurement.nuisances[" + std::to_string(i) + "].range", msg.str());
    }
  }

  // Simulated-sample statistics; the reference variable (the binned
  // reference analysis' and the unbinned cells').
  const json& mcs = m.at("mc_statistics");
  if (!options.mc_statistics.empty() && options.mc_statistics != "on" && options.mc_statistics != "off")
    throw InputError("", "--mc-statistics", "expected on or off, got '" + options.mc_statistics + "'");
  mc_statistics_ = options.mc_statistics.empty() ? mcs.at("enabled").get<bool>() : options.mc_statistics == "on";
  const int n_cells = mcs.at("cells").get<int>();
  const int64_t signal_process = spec_.scaled_by(0).front();
  std::string reference_variable = m.at("reference").at("variable").get<std::string>();
  if (reference_variable.empty()) reference_variable = "p_" + processes_[signal_process];
  if ((options.reference || mc_statistics_) && !known_variable(reference_variable))
    throw ConfigError(config.file, "measurement.reference.variable",
                      "unknown variable '" + reference_variable + "' (a feature, or p_<process>)");
  cell_variable_ = reference_variable;

  // measurement.yield_calibration (absent: off; no schema default, so that
  // configs without it keep their hashes).
  const json calibration = m.value("yield_calibration", json::object());
  const bool yield_calibration = calibration.value("enabled", false);
  const int64_t calibration_min_events = calibration.value("min_events", int64_t(100));
  // Its regions (absent: every binned one); checked against the regions below.
  const auto calibration_regions = calibration.value("regions", std::vector<std::string>{});

  // Regions.
  const json& regs = m.at("regions");
  if (regs.empty()) throw ConfigError(config.file, "measurement.regions", "no regions");
  std::set<std::string> names;
  for (size_t i = 0; i < regs.size(); ++i) {
    const json& r = regs[i];
    RegionSpec rs;
    rs.name = r.at("name").get<std::string>();
    if (!names.insert(rs.name).second) throw ConfigError(config.file, region_key(i, "name"), "duplicate region '" + rs.name + "'");
    rs.selection_text = r.at("selection").get<std::string>();
    rs.selection = Selection::parse(rs.selection_text, features_, config.file + ": " + region_key(i, "selection"));
    rs.binned = r.at("type").get<std::string>() == "binned";
    rs.variable = r.at("variable").get<std::string>();
    rs.edges = r.at("edges").get<std::vector<double>>();
    if (!rs.binned && options.reference) {
      rs.binned = true;
      rs.variable = reference_variable;
      rs.edges = m.at("reference").at("edges").get<std::vector<double>>();
    }
    if (rs.binned) {
      const std::string vkey = rs.binned && r.at("type") != "binned" ? "measurement.reference.variable" : region_key(i, "variable");
      if (!known_variable(rs.variable))
        throw ConfigError(config.file, vkey, "unknown variable '" + rs.variable + "' (a feature, or p_<process>)");
      if (const std::string problem = bin_edges_problem(rs.edges); !problem.empty())
        throw ConfigError(config.file, region_key(i, "edges"), problem);
    }
    regions_.push_back(rs);
  }

  std::vector<bool> calibrated(regions_.size(), calibration_regions.empty());
  for (size_t j = 0; j < calibration_regions.size(); ++j) {
    const std::string key = "measurement.yield_calibration.regions[" + std::to_string(j) + "]";
    const auto it = std::find_if(regions_.begin(), regions_.end(), [&](const RegionSpec& r) { return r.name == calibration_regions[j]; });
    if (it == regions_.end()) throw ConfigError(config.file, key, "unknown region '" + calibration_regions[j] + "'");
    const size_t i = size_t(it - regions_.begin());
    if (calibrated[i]) throw ConfigError(config.file, key, "region '" + calibration_regions[j] + "' named twice");
    calibrated[i] = true;
  }

  // Simulated events for the expected yields.
  const std::string mc_path = dir + "/mc.h5";
  if (!std::filesystem::exists(mc_path))
    throw InputError(mc_path, "file", "missing: simulate the expected-yield sample first (refinery simulate --config ...; simulation.mc_events > 0)");
  // The set-up's two costly steps, each cached by content hash in
  // INPUTS/cache (src/io/tensor_cache.h): the networks' outputs on mc.h5
  // (key: the bytes of mc.h5 and of the networks), and the regions' state
  // fitted on them (key: that key, the measurement section and the options).
  std::vector<std::string> inputs = {mc_path, clf_path}, ordered_by = processes_;
  for (const auto& p : processes_) inputs.push_back(dir + "/dcr_" + p + ".pt");
  ordered_by.insert(ordered_by.end(), features_.begin(), features_.end());
  ordered_by.insert(ordered_by.end(), dcr_nuisances_.begin(), dcr_nuisances_.end());
  for (const auto& resp : responses_) {
    std::string d = "response " + resp.name + " of " + std::to_string(resp.of) + " size " + std::to_string(resp.size) + " processes";
    for (int p : resp.processes) d += " " + std::to_string(p);
    ordered_by.push_back(d);
  }
  // Thinning by the signal fraction (signal_fraction_thinning.h).
  {
    const json& rules = m.at("mc_thinning");
    for (size_t i = 0; i < rules.size(); ++i) {
      const std::string key = "measurement.mc_thinning[" + std::to_string(i) + "].process";
      const int p = process_index(config, key, rules[i].at("process").get<std::string>(), processes_);
      for (int s : spec_.scaled_by(0))
        if (s == p) throw ConfigError(config.file, key, "'" + processes_[p] + "' is scaled by the POI: thin a background, not the signal");
      const bool stratified = rules[i].contains("stratify") && rules[i].at("stratify").is_boolean() && rules[i].at("stratify").get<bool>();
      SignalFractionThinning rule{p, rules[i].at("signal_fraction_below").get<double>(), rules[i].at("keep").get<double>(), stratified};
      if (rules[i].contains("stratify_features") && rules[i].at("stratify_features").is_array()) {
        const std::string fkey = "measurement.mc_thinning[" + std::to_string(i) + "].stratify_features";
        if (!stratified) throw ConfigError(config.file, fkey, "needs stratify: true");
        rule.stratify_features = rules[i].at("stratify_features").get<std::vector<std::string>>();
        if (rule.stratify_features.size() > 3) throw ConfigError(config.file, fkey, "at most 3 features (the region's variable is the fourth)");
        for (size_t k = 0; k < rule.stratify_features.size(); ++k)
          if (std::find(features_.begin(), features_.end(), rule.stratify_features[k]) == features_.end())
            throw ConfigError(config.file, fkey + "[" + std::to_string(k) + "]", "unknown feature '" + rule.stratify_features[k] + "'");
      }
      if (rules[i].contains("signal_fraction_above") && rules[i].at("signal_fraction_above").is_number())
        rule.signal_fraction_above = rules[i].at("signal_fraction_above").get<double>();
      const std::string at = "measurement.mc_thinning[" + std::to_string(i) + "]";
      if (!(rule.signal_fraction_above < rule.signal_fraction_below))
        throw ConfigError(config.file, at + ".signal_fraction_above",
                          "must be below signal_fraction_below (" + std::to_string(rule.signal_fraction_below) + ")");
      for (size_t j = 0; j < thinning_.size(); ++j) {
        const SignalFractionThinning& o = thinning_[j];
        const bool overlap = o.process == p && o.signal_fraction_above < rule.signal_fraction_below &&
                             rule.signal_fraction_above < o.signal_fraction_below;
        if (overlap && (o.stratified || rule.stratified))
          throw ConfigError(config.file, at,
                            "overlaps mc_thinning[" + std::to_string(j) + "] of '" + processes_[p] +
                                "' in the signal fraction, and a stratified rule must not overlap another (give them "
                                "disjoint intervals with signal_fraction_above)");
      }
      thinning_.push_back(rule);
    }
    if (!thinning_.empty()) ordered_by.push_back("thinning, stratified along the regions' binning, " + rules.dump());
  }
  mc_path_ = mc_path;
  if (options.cache)
    events_cache_.emplace(dir + "/cache", "evaluated", TensorCache::key_of("refinery evaluated events v3", inputs, ordered_by));
  // The regions' state: from its cache entry (keyed on the events' key, so
  // on the same inputs), else fitted on the simulated events.
  std::optional<TensorCache> regions_cache;
  // Held from a miss until the entry is stored (the end of the constructor):
  // shards started together on a cold cache fit the regions once.
  std::unique_ptr<CacheClaim> regions_claim;
  bool regions_cached = false;
  if (events_cache_) {
    // The regions depend on the whole measurement section except its toys.
    json regions_settings = m;
    regions_settings.erase("toys");
    // The yield calibration reads the paired sample (1.7 GB in the main
    // job, whose full hash would cost a cached fit 25 s): it enters the key
    // by its size and the hashes of its first and last MiB.
    std::string paired;
    if (yield_calibration)
      for (const auto& f : {dir + "/nominal.h5", dir + "/variations.h5"}) {
        require_paired_file(f);
        paired += sampled_identity(f) + " ";
      }
    regions_cache.emplace(dir + "/cache", "regions",
                          TensorCache::key_of("refinery measurement regions v1", {},
                                              {events_cache_->key(), regions_settings.dump(), recal,
                                               labels_ ? "labels" : "fractions", mc_statistics_ ? "mc statistics" : "",
                                               options.reference ? "reference" : "", paired}),
                          8);
    if (auto t = regions_cache->load_or_claim(regions_claim)) regions_cached = restore_regions(*t);
  }
  if (!regions_cached) {
    if (yield_calibration) calibrate_binned_yields(dir, calibration_min_events, calibrated);
    mc();  // prepare_regions fits on the simulated events
    prepare_regions(config, recal, n_cells, signal_process);
    regions_fitted_ = true;
    if (!(regions_cache && regions_cache->store(region_state()))) cache_failed_ = true;
  }
}

bool Measurement::is_response(const std::string& parameter) const {
  for (const auto& r : responses_)
    if (r.name == parameter) return true;
  return false;
}

std::string Measurement::setup_source() const {
  if (cache_failed_) return "evaluated, not cached";
  if (mc_evaluated_) return "evaluated";
  return regions_fitted_ ? "networks from the cache, regions fitted" : "cache";
}

const EvaluatedEvents& Measurement::mc() const {
  std::call_once(mc_once_, [this] { read_mc(); });
  return mc_;
}

void Measurement::read_mc() const {
  bool cached = false;
  std::unique_ptr<CacheClaim> claim;  // held from a miss until the entry is stored
  if (events_cache_) {
    if (auto t = events_cache_->load_or_claim(claim); t && t->size() == 7) {
      EvaluatedEvents e{(*t)[0], (*t)[1], (*t)[2], (*t)[3], (*t)[4], (*t)[5], (*t)[6]};
      if (consistent(e, int64_t(features_.size()), int64_t(processes_.size()), Ansatz(int(spec_.calibration.size()), 2, spec_.calibration_power).C)) {
        mc_ = std::move(e);
        cached = true;
      }
    }
  }
  if (!cached) {
    // One reader; the features are checked before the file is read.
    EventReader reader(mc_path_);
    classifier_->check_features(reader.meta().feature_names, mc_path_);
    EventSet events = reader.read_all();
    torch::Tensor variance_factor, fractions, prob;
    if (!thinning_.empty()) {
      // The classifier runs once on every event: the thinning needs its
      // outputs, and the kept events' are reused below.
      EvaluatedEvents all;
      all.x = events.features.to(torch::kFloat32).contiguous();
      all.fractions = classifier_->fractions(all.x);
      torch::Tensor fs = torch::zeros({all.fractions.size(0)}, torch::kFloat64);
      for (int s : spec_.scaled_by(0)) fs += all.fractions.select(1, s);
      // A stratified rule's strata: the regions (the first whose selection
      // holds; -1 outside them), within which it orders by the regions' own
      // binning (thinning_order); evaluated only where a rule is stratified.
      torch::Tensor group, order;
      if (std::any_of(thinning_.begin(), thinning_.end(), [](const SignalFractionThinning& t) { return t.stratified; })) {
        all.prob = classifier_->probabilities(all.x, all.fractions);
        group = torch::full({events.size()}, int64_t(-1), torch::kInt64);
        for (size_t r = regions_.size(); r-- > 0;)
          group = torch::where(regions_[r].selection.evaluate(all.x), int64_t(r), group);
        order = thinning_order(all, group, fs);
        // Rules spread along further features: their events' order is the
        // Morton order of the region's variable and those (stratified rules
        // do not overlap, so each event takes at most one rule's).
        for (const SignalFractionThinning& t : thinning_) {
          if (!t.stratified || t.stratify_features.empty()) continue;
          const torch::Tensor in = events.process.to(torch::kInt64).eq(t.process) & fs.ge(t.signal_fraction_above) &
                                   fs.lt(t.signal_fraction_below);
          std::vector<torch::Tensor> cols;
          for (const std::string& f : t.stratify_features) cols.push_back(values(f, all));
          order = stratified_order(order, in, torch::stack(cols, 1));
        }
      }
      const ThinningSelection kept = select_by_signal_fraction(events.process, fs, events.event, thinning_, group, order);
      events = events.select(torch::zeros({events.size()}, torch::kBool).index_fill_(0, kept.rows, true));
      events.weights = events.weights * kept.weight_factor.to(events.weights.scalar_type());
      variance_factor = kept.variance_factor;
      fractions = all.fractions.index_select(0, kept.rows);
      if (all.prob.defined()) prob = all.prob.index_select(0, kept.rows);
    }
    mc_ = evaluate(events, mc_path_, false, fractions, prob);
    mc_.variance_factor = variance_factor.defined() ? variance_factor : torch::ones({mc_.weight.size(0)}, torch::kFloat64);
    to_reference_point(mc_, events, reader.meta().nuisance_names, mc_path_);
  }
  // An empty sample is the file's fault, not the regions' selections'.
  if (mc_.weight.size(0) == 0)
    throw InputError(mc_path_, "events", "holds no events: the expected yields need simulated events (simulation.mc_events)");
  {
    // Every process needs simulated events for its expected yields.
    torch::Tensor counts = torch::bincount(mc_.process.clamp_min(0), {}, int64_t(processes_.size()));
    for (size_t p = 0; p < processes_.size(); ++p)
      if (counts[int64_t(p)].item<int64_t>() == 0)
        throw InputError(mc_path_, "process", "no simulated events of process '" + processes_[p] + "' (the expected yields need them)");
  }
  if (!cached) {
    mc_evaluated_ = true;
    if (!(events_cache_ && events_cache_->store({mc_.x, mc_.weight, mc_.process, mc_.fractions, mc_.prob, mc_.coef, mc_.variance_factor})))
      cache_failed_ = true;
  }
}

void Measurement::prepare_regions(const ExperimentConfig& config, const std::string& recal,
                                  int n_cells, int64_t signal_process) {
  const bool closure = recal != "none";
  torch::Tensor taken = torch::zeros({mc_.x.size(0)}, torch::kBool);
  for (size_t i = 0; i < regions_.size(); ++i) {
    auto [mask, bin] = assign(regions_[i], mc_);
    torch::Tensor overlap = mask & taken;
    if (overlap.any().item<bool>()) {
      size_t other = 0;
      const int64_t row = overlap.nonzero()[0][0].item<int64_t>();
      for (size_t j = 0; j < i; ++j)
        if (assign(regions_[j], mc_).first[row].item<bool>()) other = j;
      throw ConfigError(config.file, region_key(i, "selection"),
                        "region '" + regions_[i].name + "' overlaps region '" + regions_[other].name + "' (event " +
                            std::to_string(row) + " of " + mc_path_ + " passes both)");
    }
    taken |= mask;
    torch::Tensor sel = (mask & (bin >= 0)).nonzero().view(-1);
    if (sel.numel() == 0)
      throw ConfigError(config.file, region_key(i, "selection"), "region '" + regions_[i].name + "' selects no simulated events");
    // Yield closure of the fractions (iterative proportional fitting).
    const int64_t P = int64_t(processes_.size());
    torch::Tensor w = mc_.weight.index_select(0, sel), f = mc_.fractions.index_select(0, sel);
    torch::Tensor log_c = torch::zeros({P}, torch::kFloat64);
    recalibration_.push_back(StagedCalibration(P, 1));
    if (recal == "isotonic") {
      recalibration_.back()->fit(f, mc_.process.index_select(0, sel), w);
      f = recalibration_.back()->forward(f);
    }
    if (closure) log_c = yield_closure(f, w, mc_.process.index_select(0, sel));
    log_closure_.push_back(log_c);
    // Unbinned cells of the simulated-sample statistics: equal shares of
    // the expected signal in the reference variable.
    torch::Tensor region_bin = bin.index_select(0, sel);
    if (!regions_[i].binned && mc_statistics_ && n_cells > 1) {
      const torch::Tensor v = values(cell_variable_, mc_).index_select(0, sel);
      const torch::Tensor fs = region_fractions(i, mc_.fractions.index_select(0, sel)).select(1, signal_process);
      regions_[i].cell_edges = equal_share_edges(v, w * fs, n_cells);
      region_bin = cell_index(v, regions_[i].cell_edges);
    }
    const int nb = regions_[i].binned ? int(regions_[i].edges.size()) - 1 : int(regions_[i].cell_edges.size()) + 1;
    // Binned regions never use R(x): their templates come from the process
    // labels (the fractions' residual miscalibration within a bin would
    // otherwise distort the signal template). Unbinned regions follow
    // measurement/expected_yields.
    torch::Tensor coef = mc_.coef.index_select(0, sel);
    if (regions_[i].binned)
      if (const torch::Tensor correction = yield_correction(i, region_bin); correction.defined()) coef = coef + correction;
    cells_.push_back(Cells::from_events(region_bin, nb, w, mc_.process.index_select(0, sel),
                                        region_fractions(i, mc_.fractions.index_select(0, sel)),
                                        coef, labels_ || regions_[i].binned,
                                        mc_.variance_factor.index_select(0, sel)));
  }
}

namespace {
constexpr size_t kRegionTensors = 11;
torch::Tensor doubles(const std::vector<double>& v) { return torch::tensor(v, torch::kFloat64); }
}  // namespace

std::vector<torch::Tensor> Measurement::region_state() const {
  std::vector<torch::Tensor> t;
  for (size_t i = 0; i < regions_.size(); ++i) {
    const auto& cal = recalibration_[i];
    const Cells& c = cells_[i];
    t.insert(t.end(), {cal->knots_x, cal->knots_y, cal->counts, cal->stage_order, cal->fitted_flag, log_closure_[i],
                       doubles(regions_[i].cell_edges), torch::tensor(c.begin, torch::kInt64), doubles(c.log_weight()),
                       torch::from_blob(const_cast<float*>(c.coef().data()), {int64_t(c.coef().size())}, torch::kFloat32).clone(),
                       doubles(c.rel_error)});
  }
  return t;
}

bool Measurement::restore_regions(const std::vector<torch::Tensor>& t) {
  const int64_t P = int64_t(processes_.size());
  const int64_t C = Ansatz(int(dcr_nuisances_.size()), 2, dcr_powers_).C;
  if (t.size() != kRegionTensors * regions_.size()) return false;
  std::vector<StagedCalibration> calibrations;
  std::vector<torch::Tensor> closures;
  std::vector<std::vector<double>> edges;
  std::vector<Cells> cells;
  auto to_vector = [](const torch::Tensor& x, auto* type) {
    using T = std::remove_pointer_t<decltype(type)>;
    const torch::Tensor y = x.contiguous();
    return std::vector<T>(y.data_ptr<T>(), y.data_ptr<T>() + y.numel());
  };
  for (size_t i = 0; i < regions_.size(); ++i) {
    const torch::Tensor* r = t.data() + kRegionTensors * i;
    const int64_t n_bins = regions_[i].binned ? int64_t(regions_[i].edges.size()) - 1 : r[6].numel() + 1;
    const bool ok = r[0].dim() == 2 && r[0].size(0) == P && r[0].sizes() == r[1].sizes() &&
                    r[0].scalar_type() == torch::kFloat64 && r[1].scalar_type() == torch::kFloat64 &&
                    r[2].sizes() == torch::IntArrayRef{P} && r[2].scalar_type() == torch::kLong &&
                    r[3].sizes() == torch::IntArrayRef{P} && r[3].scalar_type() == torch::kLong &&
                    r[4].dim() == 0 && r[4].scalar_type() == torch::kBool &&
                    r[5].sizes() == torch::IntArrayRef{P} && r[5].scalar_type() == torch::kFloat64 &&
                    r[6].dim() == 1 && r[6].scalar_type() == torch::kFloat64 &&
                    r[7].dim() == 1 && r[7].scalar_type() == torch::kInt64 && r[7].numel() == P * n_bins + 1 &&
                    r[8].dim() == 1 && r[8].scalar_type() == torch::kFloat64 &&
                    r[9].dim() == 1 && r[9].scalar_type() == torch::kFloat32 && r[9].numel() == C * r[8].numel() &&
                    r[10].dim() == 1 && r[10].scalar_type() == torch::kFloat64 && r[10].numel() == n_bins &&
                    r[7][-1].item<int64_t>() == r[8].numel();
    if (!ok) return false;
    StagedCalibration cal(P, 1);
    cal->knots_x.set_(r[0].clone());
    cal->knots_y.set_(r[1].clone());
    cal->counts.set_(r[2].clone());
    cal->stage_order.set_(r[3].clone());
    cal->fitted_flag.set_(r[4].clone());
    calibrations.push_back(cal);
    closures.push_back(r[5].clone());
    edges.push_back(to_vector(r[6], (double*)nullptr));
    Cells c;
    c.n_cells = int(P * n_bins);
    c.begin = to_vector(r[7], (int64_t*)nullptr);
    c.set_events(to_vector(r[8], (double*)nullptr), to_vector(r[9], (float*)nullptr));
    c.rel_error = to_vector(r[10], (double*)nullptr);
    cells.push_back(std::move(c));
  }
  recalibration_ = std::move(calibrations);
  log_closure_ = std::move(closures);
  cells_ = std::move(cells);
  for (size_t i = 0; i < regions_.size(); ++i) regions_[i].cell_edges = edges[i];
  return true;
}

torch::Tensor Measurement::region_fractions(size_t i, const torch::Tensor& f_in) const {
  torch::Tensor f = f_in;
  if (recalibration_[i]->fitted()) {
    torch::NoGradGuard guard;
    f = recalibration_[i]->forward(f_in);
  }
  torch::Tensor g = f * log_closure_[i].exp().unsqueeze(0);
  return g / g.sum(1, true);
}

std::vector<std::vector<double>> Measurement::closure_factors() const {
  std::vector<std::vector<double>> out;
  for (const auto& lc : log_closure_) {
    torch::Tensor c = lc.exp().contiguous();
    out.emplace_back(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  }
  return out;
}

EvaluatedEvents Measurement::evaluate(const EventSet& events, const std::string& source, bool observed) const {
  return evaluate(events, source, observed, torch::Tensor(), torch::Tensor());
}

EvaluatedEvents Measurement::evaluate(const EventSet& events, const std::string& source, bool observed,
                                      const torch::Tensor& fractions, const torch::Tensor& prob) const {
  EvaluatedEvents e;
  e.x = events.features.to(torch::kFloat32).contiguous();
  if (e.x.dim() != 2 || e.x.size(1) != int64_t(features_.size()))
    throw InputError(source, "features", "expected [N," + std::to_string(features_.size()) + "] features (the models')");
  e.weight = events.weights.defined() ? events.weights.to(torch::kFloat64) : torch::ones({e.x.size(0)}, torch::kFloat64);
  e.process = events.process.defined() ? events.process.to(torch::kInt64) : torch::full({e.x.size(0)}, -1, torch::kInt64);
  e.fractions = fractions.defined() ? fractions : classifier_->fractions(e.x);
  e.prob = prob.defined() ? prob : classifier_->probabilities(e.x, e.fractions);
  // Observed events: an event's coefficients are read by the unbinned
  // regions only (a binned region counts events), so the DCR networks run on
  // the events an unbinned region selects; the others' rows stay 0.
  torch::Tensor rows;  // undefined: every event
  if (observed) {
    torch::Tensor any = torch::zeros({e.x.size(0)}, torch::kBool);
    for (const RegionSpec& r : regions_)
      if (!r.binned) any = any.logical_or(r.selection.evaluate(e.x));
    rows = any.nonzero().view(-1);
  }
  const torch::Tensor x = rows.defined() ? e.x.index_select(0, rows) : e.x;
  // The networks' coefficients (their K nuisances), extended below to the
  // response nuisances' ansatz.
  const int64_t C = dcr_nuisances_.empty() ? 0 : int64_t(Ansatz(int(dcr_nuisances_.size()), 2, dcr_powers_).C);
  std::vector<torch::Tensor> coefs;
  for (auto& net : dcr_) {
    torch::jit::Method fwd = net.get_method("forward");
    if (x.size(0) == 0) {
      coefs.push_back(torch::zeros({0, C}));
      continue;
    }
    {
      torch::NoGradGuard g;
      fwd({x.narrow(0, 0, 1)});
    }
    coefs.push_back(evaluate_in_blocks(x, 2048, [&](const torch::Tensor& xb) { return fwd({xb}).toTensor(); }).to(torch::kFloat32));
  }
  torch::Tensor coef = coefs.empty() ? torch::zeros({x.size(0), 0, C}) : torch::stack(coefs, 1);  // [n,P,C]
  if (!torch::isfinite(coef).all().item<bool>())
    throw InputError(source, "features", "a DCR network gives non-finite coefficients on these events");
  if (!coefs.empty()) coef = extend_coefficients(coef, int(dcr_nuisances_.size()), responses_);
  e.coef = rows.defined() ? torch::zeros({e.x.size(0), coef.size(1), coef.size(2)}).index_copy_(0, rows, coef) : coef.contiguous();
  return e;
}

torch::Tensor Measurement::in_networks_order(const torch::Tensor& nuisances, const std::vector<std::string>& names,
                                             const std::string& source, const std::string& consequence) const {
  const torch::Tensor nu_file = nuisances.to(torch::kFloat64);
  if (nu_file.dim() != 2 || nu_file.size(1) != int64_t(names.size()))
    throw InputError(source, "nuisances", "expected [N," + std::to_string(names.size()) + "] (one column per nuisance_names entry)");
  const int64_t K = int64_t(dcr_nuisances_.size());
  torch::Tensor nu = torch::zeros({nu_file.size(0), K}, torch::kFloat64);
  for (size_t j = 0; j < names.size(); ++j) {
    const auto k = std::find(dcr_nuisances_.begin(), dcr_nuisances_.end(), names[j]) - dcr_nuisances_.begin();
    if (k < K)
      nu.select(1, k).copy_(nu_file.select(1, int64_t(j)));
    else if (nu_file.select(1, int64_t(j)).ne(0.0).any().item<bool>())
      throw InputError(source, "nuisances",
                       "events simulated at " + names[j] + " != 0, a nuisance the DCR networks do not model (" +
                           join(dcr_nuisances_) + ")" + consequence);
  }
  return nu;
}

void Measurement::to_reference_point(EvaluatedEvents& e, const EventSet& events, const std::vector<std::string>& names,
                                     const std::string& source) const {
  if (!events.has_nuisances() || events.size() == 0) return;
  const torch::Tensor nu_points =
      in_networks_order(events.nuisances, names, source, ": their weights cannot be brought to the networks' reference point")
          .contiguous();
  const int64_t N = nu_points.size(0), K = int64_t(dcr_nuisances_.size());
  const auto* nu = nu_points.data_ptr<double>();
  const torch::Tensor process = e.process.contiguous(), coef = e.coef.contiguous();
  const auto* proc = process.data_ptr<int64_t>();
  const auto* c = coef.data_ptr<float>();
  const int64_t P = coef.size(1), C = coef.size(2);
  // The ansatz of the events' coefficients: the networks' nuisances, then
  // the response nuisances (at 0 here).
  const Ansatz ansatz(int(spec_.calibration.size()), 2, spec_.calibration_power);
  if (ansatz.C != C) throw std::logic_error("to_reference_point: coefficients do not match the ansatz");
  torch::Tensor weight = e.weight.clone();
  auto* w = weight.data_ptr<double>();
  std::vector<double> point(spec_.calibration.size(), 0.0), phi(C);
  for (int64_t i = 0; i < N; ++i) {
    bool at_reference = true;
    for (int64_t k = 0; k < K; ++k) {
      point[k] = nu[i * K + k];
      at_reference = at_reference && point[k] == 0.0;
    }
    if (at_reference) continue;
    if (proc[i] < 0 || proc[i] >= P)
      throw InputError(source, "process", "row " + std::to_string(i) +
                                              " was simulated away from the networks' reference point but names no process, "
                                              "whose DCR would bring it back");
    ansatz.phi(point.data(), phi.data());
    double log_r = 0.0;
    for (int64_t j = 0; j < C; ++j) log_r += double(c[(i * P + proc[i]) * C + j]) * phi[j];
    w[i] *= std::exp(-log_r);
  }
  e.weight = weight;
}

torch::Tensor Measurement::values(const std::string& variable, const EvaluatedEvents& e) const {
  const auto proc = variable.rfind("p_", 0) == 0 ? std::find(processes_.begin(), processes_.end(), variable.substr(2))
                                                 : processes_.end();
  if (proc != processes_.end()) return e.prob.select(1, proc - processes_.begin()).to(torch::kFloat64);
  const int64_t f = std::find(features_.begin(), features_.end(), variable) - features_.begin();
  return e.x.select(1, f).to(torch::kFloat64);
}

torch::Tensor Measurement::thinning_order(const EvaluatedEvents& e, const torch::Tensor& group, const torch::Tensor& fs) const {
  torch::Tensor order = fs.to(torch::kFloat64).clone();
  for (size_t r = 0; r < regions_.size(); ++r) {
    const torch::Tensor in = group.eq(int64_t(r));
    const std::string& variable = regions_[r].binned ? regions_[r].variable : cell_variable_;
    if (known_variable(variable)) order = torch::where(in, values(variable, e), order);  // else: the signal fraction
  }
  return order;
}

std::pair<torch::Tensor, torch::Tensor> Measurement::assign(const RegionSpec& r, const EvaluatedEvents& e) const {
  torch::Tensor mask = r.selection.evaluate(e.x);
  torch::Tensor bin = torch::zeros({e.x.size(0)}, torch::kInt64);
  if (r.binned) {
    torch::Tensor edges = torch::tensor(r.edges, torch::kFloat64);
    bin = torch::bucketize(values(r.variable, e), edges, /*out_int32=*/false, /*right=*/true) - 1;  // edges[b] <= v < edges[b+1]
    bin = torch::where((bin >= 0) & (bin < int64_t(r.edges.size()) - 1), bin, torch::full_like(bin, -1));
  } else if (!r.cell_edges.empty()) {
    bin = cell_index(values(cell_variable_, e), r.cell_edges);
  }
  return {mask, bin};
}

Region Measurement::observe(size_t i, const EvaluatedEvents& e, const Eigen::VectorXd* asimov_theta) const {
  const RegionSpec& rs = regions_[i];
  Region r;
  r.name = rs.name;
  r.binned = rs.binned;
  r.n_bins = rs.binned ? int(rs.edges.size()) - 1 : int(rs.cell_edges.size()) + 1;
  r.mc_stat = mc_statistics_;
  r.expected = cells_[i];
  auto [mask, bin] = assign(rs, e);
  torch::Tensor sel = (mask & (bin >= 0)).nonzero().view(-1);
  if (rs.binned) {
    // Asimov: replaced by the expected counts by the caller.
    torch::Tensor counts = torch::zeros({r.n_bins}, torch::kFloat64)
                               .index_add(0, bin.index_select(0, sel), e.weight.index_select(0, sel));
    r.observed.assign(counts.data_ptr<double>(), counts.data_ptr<double>() + r.n_bins);
  } else {
    torch::Tensor w = e.weight.index_select(0, sel);
    torch::Tensor f = region_fractions(i, e.fractions.index_select(0, sel));
    torch::Tensor coef = e.coef.index_select(0, sel);
    if (asimov_theta) w = w * ratio(i, f, coef, *asimov_theta);  // the simulated events weighted by w R(x|theta)
    const bool unit = !asimov_theta && (w == 1.0).all().item<bool>();
    r.events = EventData::build(f, coef, unit ? torch::Tensor() : w);
    if (r.n_bins > 1) {
      torch::Tensor b = bin.index_select(0, sel).to(torch::kInt32).contiguous();
      r.events.bin.assign(b.data_ptr<int>(), b.data_ptr<int>() + b.numel());
    }
  }
  return r;
}

torch::Tensor Measurement::ratio(size_t region, const torch::Tensor& f, const torch::Tensor& coef,
                                 const Eigen::VectorXd& theta) const {
  torch::Tensor t = torch::from_blob(const_cast<double*>(theta.data()), {theta.size()}, torch::kFloat64);
  return terms::log_ratio(spec_, t, regions_[region].name, f.log(), coef).exp();
}

EvaluatedEvents Measurement::resample(const EvaluatedEvents& e, const Eigen::VectorXd& theta, std::mt19937_64& rng) const {
  torch::Tensor lambda = torch::zeros({e.x.size(0)}, torch::kFloat64);
  for (size_t i = 0; i < regions_.size(); ++i) {
    auto [mask, bin] = assign(regions_[i], e);
    torch::Tensor sel = (mask & (bin >= 0)).nonzero().view(-1);
    torch::Tensor f = region_fractions(i, e.fractions.index_select(0, sel));
    lambda.index_copy_(0, sel, e.weight.index_select(0, sel) * ratio(i, f, e.coef.index_select(0, sel), theta));
  }
  torch::Tensor k = torch::zeros_like(lambda);
  auto l = lambda.accessor<double, 1>();
  auto kk = k.accessor<double, 1>();
  // A simulated event stands for a small expected count; one the learned
  // ratios blow up (a truth far outside what the DCR networks were trained
  // on: exp of a quadratic) cannot be drawn, and a Poisson draw of 1e19
  // would not end.
  constexpr double kMaxExpected = 1e9;
  for (int64_t j = 0; j < lambda.size(0); ++j) {
    if (!(l[j] <= kMaxExpected)) {
      std::ostringstream s;
      s << "resampled at";
      for (int p = 0; p < spec_.n_params(); ++p) s << (p ? ", " : " ") << spec_.parameters[size_t(p)].name << " = " << theta[p];
      s << ": simulated event " << j << " would be expected " << l[j]
        << " times (w R(x|theta)): the DCR networks extrapolate there; draw the truth within the range they were trained on";
      throw InputError("pseudo-experiment", "truth", s.str());
    }
    if (l[j] > 0) kk[j] = double(std::poisson_distribution<long long>(l[j])(rng));
  }
  torch::Tensor keep = (k > 0).nonzero().view(-1);
  EvaluatedEvents out;
  out.x = e.x.index_select(0, keep);
  out.weight = k.index_select(0, keep);
  out.process = e.process.index_select(0, keep);
  out.fractions = e.fractions.index_select(0, keep);
  out.prob = e.prob.index_select(0, keep);
  out.coef = e.coef.index_select(0, keep);
  return out;
}

LikelihoodModel Measurement::model(const EvaluatedEvents& data, const std::string& source) const {
  LikelihoodModel m(spec_);
  for (size_t i = 0; i < regions_.size(); ++i) m.add_region(observe(i, data, nullptr));
  return m;
}

bool Measurement::known_variable(const std::string& v) const {
  const bool is_prob = v.rfind("p_", 0) == 0 && std::find(processes_.begin(), processes_.end(), v.substr(2)) != processes_.end();
  return is_prob || std::find(features_.begin(), features_.end(), v) != features_.end();
}

LikelihoodModel Measurement::binned_view(const EvaluatedEvents* data, const Eigen::VectorXd* asimov_theta,
                                         const std::string& variable, const std::vector<double>& edges,
                                         const std::string& option) const {
  if (!known_variable(variable))
    throw InputError("", option, "unknown variable '" + variable + "' (a feature: " + join(features_) + "; or p_<process>)");
  if (const std::string problem = bin_edges_problem(edges); !problem.empty()) throw InputError("", option, problem);
  const torch::Tensor edge_tensor = torch::tensor(edges, torch::kFloat64);
  const int nb = int(edges.size()) - 1;
  auto bins = [&](const EvaluatedEvents& e) {
    torch::Tensor b = torch::bucketize(values(variable, e), edge_tensor, /*out_int32=*/false, /*right=*/true) - 1;
    return torch::where((b >= 0) & (b < nb), b, torch::full_like(b, -1));
  };
  LikelihoodModel m(spec_);
  for (size_t i = 0; i < regions_.size(); ++i) {
    if (regions_[i].binned) {
      Region r = observe(i, asimov_theta ? mc() : *data, asimov_theta);
      r.mc_stat = false;
      m.add_region(std::move(r));
      continue;
    }
    Region r;
    r.name = regions_[i].name;
    r.binned = true;
    r.n_bins = nb;
    const EvaluatedEvents& mc_events = mc();
    torch::Tensor mask = assign(regions_[i], mc_events).first;
    torch::Tensor bin = bins(mc_events);
    torch::Tensor sel = (mask & (bin >= 0)).nonzero().view(-1);
    r.expected = Cells::from_events(bin.index_select(0, sel), nb, mc_events.weight.index_select(0, sel),
                                    mc_events.process.index_select(0, sel),
                                    region_fractions(i, mc_events.fractions.index_select(0, sel)),
                                    mc_events.coef.index_select(0, sel), labels_,
                                    mc_events.variance_factor.index_select(0, sel));
    r.observed.assign(size_t(nb), 0.0);
    if (data) {
      torch::Tensor dmask = assign(regions_[i], *data).first;
      torch::Tensor dbin = bins(*data);
      torch::Tensor dsel = (dmask & (dbin >= 0)).nonzero().view(-1);
      torch::Tensor counts = torch::zeros({nb}, torch::kFloat64)
                                 .index_add(0, dbin.index_select(0, dsel), data->weight.index_select(0, dsel));
      r.observed.assign(counts.data_ptr<double>(), counts.data_ptr<double>() + nb);
    }
    m.add_region(std::move(r));
  }
  if (asimov_theta) {
    auto expected = m.expected(*asimov_theta);
    for (size_t i = 0; i < regions_.size(); ++i) m.regions()[i].observed = expected[i];
  }
  return m;
}

LikelihoodModel Measurement::asimov(const Eigen::VectorXd& theta) const {
  LikelihoodModel m(spec_);
  for (size_t i = 0; i < regions_.size(); ++i) m.add_region(observe(i, mc(), &theta));
  // Binned regions observe their expected counts.
  auto expected = m.expected(theta);
  for (size_t i = 0; i < regions_.size(); ++i)
    if (m.regions()[i].binned) m.regions()[i].observed = expected[i];
  return m;
}

std::vector<double> Measurement::observed_counts(const LikelihoodModel& model) const {
  std::vector<double> out;
  for (const auto& r : model.regions()) {
    if (r.binned) {
      double s = 0;
      for (double v : r.observed) s += v;
      out.push_back(s);
    } else {
      out.push_back(r.events.total_weight());
    }
  }
  return out;
}

}  // namespace refinery
