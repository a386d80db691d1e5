#include "infer/experiment_source.h"

#include "infer/experiment_toys.h"
#include "src/core/error.h"
#include "src/io/event_reader.h"
#include "src/stats/region_model.h"

namespace refinery::cli {

using nlohmann::json;
using likelihood::LikelihoodModel;

namespace {

std::shared_ptr<const LikelihoodModel> share(LikelihoodModel model) {
  return std::make_shared<const LikelihoodModel>(std::move(model));
}

// The data of an experiment's measurement (--data FILE or Asimov data; toys
// come from ExperimentToys) as a model with the Asimov data source.
std::unique_ptr<stats::Model> observe(const std::shared_ptr<Measurement>& m, const std::string& config_file,
                                      const std::string& given, const cxxopts::ParseResult& r,
                                      std::string* description, ModelSource* source) {
  std::shared_ptr<const LikelihoodModel> likelihood;
  std::shared_ptr<const EvaluatedEvents> events;  // --data
  Eigen::VectorXd theta;                          // Asimov data
  if (given == "data") {
    const std::string path = r["data"].as<std::string>();
    EventReader reader(path);
    if (reader.meta().feature_names != m->feature_names())
      throw InputError(path, "attribute feature_names",
                       "the file's features are not the models' (" + std::to_string(reader.meta().feature_names.size()) +
                           " vs " + std::to_string(m->feature_names().size()) + " columns, or a different order)");
    events = std::make_shared<const EvaluatedEvents>(m->evaluate(reader.read_all(), path));
    likelihood = share(m->model(*events, path));
    *description = "events of " + path;
  } else {
    const std::string nus = r["nu-true"].as<std::string>();
    if (asks_from_priors(nus)) throw InputError("", "--nu-true", "from-priors needs --toy (Asimov data take fixed nuisances)");
    std::vector<std::string> names;
    for (const auto& p : m->spec().parameters) names.push_back(p.name);
    std::string text;
    theta = parse_truth(names, m->spec().nominal(), 0, r["mu-true"].as<double>(), nus, &text);
    likelihood = share(m->asimov(theta));
    *description = "Asimov data at " + text;
  }
  std::shared_ptr<const Measurement> cm = m;
  auto model = std::make_unique<stats::RegionModel>(likelihood, "the measurement of " + config_file,
                                                    [cm](const Eigen::VectorXd& x) { return cm->asimov(x); });
  if (given != "data") model->set_asimov_aux(theta);  // Asimov: the auxiliary data at the truth too
  source->binned_view = [cm, events, theta, config_file](const std::string& variable, const std::vector<double>& edges) {
    return std::unique_ptr<stats::Model>(std::make_unique<stats::RegionModel>(
        share(cm->binned_view(events.get(), events ? nullptr : &theta, variable, edges, "--variable")),
        "the measurement of " + config_file + ", unbinned regions binned in " + variable));
  };
  return model;
}

json experiment_header(const ExperimentConfig& config, const std::string& data, const Measurement& m,
                       const stats::Model& model, const cxxopts::ParseResult& r) {
  json j;
  j["kind"] = "experiment";
  j["config"] = config.file;
  j["config_hash"] = config.hash;
  j["seed"] = config.document.at("seed");
  j["data"] = data;
  j["analysis"] = r.count("reference") ? "binned reference" : "unbinned";
  j["mc_statistics"] = m.mc_statistics();
  j["setup"] = m.setup_source();
  json regions = json::array();
  auto counts = m.observed_counts(static_cast<const stats::RegionModel&>(model).likelihood());
  auto closure = m.closure_factors();
  const auto& lregions = static_cast<const stats::RegionModel&>(model).likelihood().regions();
  for (size_t i = 0; i < m.regions().size(); ++i) {
    json region = {{"name", m.regions()[i].name}, {"type", m.regions()[i].binned ? "binned" : "unbinned"},
                   {"observed", counts[i]}, {"fraction_closure", closure[i]}};
    // Simulated-sample statistics: per bin (cell) the relative error of the
    // simulated yield, and the unbinned cells' edges in the reference variable.
    if (lregions[i].mc_stat) {
      region["mc_statistics"] = {{"rel_error", lregions[i].expected.rel_error}};
      if (!m.regions()[i].binned) region["mc_statistics"]["cell_edges"] = m.regions()[i].cell_edges;
    }
    regions.push_back(region);
  }
  j["regions"] = regions;
  return j;
}

}  // namespace

MeasurementOptions measurement_options(const cxxopts::ParseResult& r) {
  MeasurementOptions m;
  m.inputs = r["inputs"].as<std::string>();
  m.reference = r.count("reference") > 0;
  m.labels = r.count("labels") > 0;
  m.recalibration = r["recalibration"].as<std::string>();
  m.mc_statistics = r["mc-statistics"].as<std::string>();
  m.cache = r.count("no-cache") == 0;
  return m;
}

ModelSource load_experiment_source(const cxxopts::ParseResult& r, CommonOptions& common, const std::string& result) {
  for (const char* flag : {"patch", "patchset", "patch-name", "skip-digest-check", "verbose"})
    if (r.count(flag))
      throw InputError("", std::string("--") + flag, "applies to a workspace (WORKSPACE.json), not to an experiment");
  if (!r["measurement"].as<std::string>().empty())
    throw InputError("", "--measurement", "applies to a workspace (WORKSPACE.json), not to an experiment");
  if (r["interp"].as<std::string>() != "default")
    throw InputError("", "--interp", "applies to a workspace (WORKSPACE.json), not to an experiment");
  ModelSource s;
  s.config = setup_experiment(common);
  s.file = s.config->file;
  auto measurement = std::make_shared<Measurement>(*s.config, measurement_options(r));
  s.keep_alive = measurement;
  const std::string given = data_source(r);
  s.data_kind = given.empty() ? "asimov" : given;
  if (given == "toy") {
    const int64_t index = r["toy"].as<int64_t>();
    if (index < 0) throw InputError("", "--toy", "must be >= 0");
    ExperimentToys toys(measurement, *s.config, r["nu-true"].as<std::string>());
    ExperimentToys::Toy t = toys.draw(r["mu-true"].as<double>(), index);
    s.model = std::move(t.model);
    s.description = t.description;
  } else {
    s.model = observe(measurement, s.config->file, given, r, &s.description, &s);
  }
  s.header = experiment_header(*s.config, s.description, *measurement, *s.model, r);
  s.header["model"] = s.model->describe();
  choose_poi(s, r);
  const std::string name = result == "fit"
                               ? "fit_" + s.data_kind + (r.count("reference") ? "_reference" : "") + ".json"
                               : result + ".json";
  s.out = default_out(*s.config, common, name);
  return s;
}

}  // namespace refinery::cli
