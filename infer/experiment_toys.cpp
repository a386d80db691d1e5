#include "infer/experiment_toys.h"

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <map>
#include <sstream>

#include "data/generators.h"
#include "infer/model_source.h"
#include "src/core/error.h"
#include "src/core/random_seed.h"
#include "src/io/event_reader.h"

namespace refinery::cli {

// The last generated pseudo-experiment, with what determined it.
struct GeneratedEvents {
  bool valid = false;
  std::uint64_t seed = 0;
  double mu = 0, luminosity = 0;
  std::map<std::string, double> nuisances;
  EventSet events;
};

struct ExperimentToys::Source {
  std::shared_ptr<Measurement> measurement;
  std::string generator;    // empty: resample `sample`
  std::string config_file;  // errors
  EvaluatedEvents sample;
  std::vector<std::string> names;
  std::shared_ptr<GeneratedEvents> last = std::make_shared<GeneratedEvents>();

  likelihood::LikelihoodModel events(const Eigen::VectorXd& x, std::mt19937_64& rng) {
    Measurement& m = *measurement;
    if (generator.empty()) return m.model(m.resample(sample, x, rng), "pseudo-experiment");
    std::map<std::string, double> nuisances;
    for (size_t i = 1; i < names.size(); ++i)
      if (!m.is_response(names[i])) nuisances[names[i]] = x[i];
    const std::uint64_t seed = rng();
    GeneratedEvents& g = *last;
    if (!(g.valid && g.seed == seed && g.mu == x[0] && g.luminosity == m.luminosity() && g.nuisances == nuisances)) {
      g.valid = false;
      g.events = generators::pseudo_data(generator, x[0], nuisances, m.luminosity(), seed, 0,
                                         config_file + ": measurement.nuisances (generator " + generator + ")");
      g.seed = seed;
      g.mu = x[0];
      g.luminosity = m.luminosity();
      g.nuisances = nuisances;
      g.valid = true;
    }
    return m.model(m.evaluate(g.events, "pseudo-experiment", /*observed=*/true), "pseudo-experiment");
  }
};

void ExperimentToys::share_events_with(const ExperimentToys& other) { state_->last = other.state_->last; }

ExperimentToys::ExperimentToys(std::shared_ptr<Measurement> measurement, const ExperimentConfig& config,
                               const std::string& nu_true, const std::string& events_option) {
  const nlohmann::json& toys = config.section("measurement").at("toys");
  const std::string generator = config.section("simulation").at("generator").get<std::string>();
  std::string events = events_option.empty() ? toys.at("events").get<std::string>() : events_option;
  if (events == "auto") events = generators::has_pseudo_data(generator) ? "generator" : "resample";
  state_ = std::make_shared<Source>();
  state_->measurement = measurement;
  state_->config_file = config.file;
  for (const auto& p : measurement->spec().parameters) state_->names.push_back(p.name);
  if (events == "generator") {
    if (!generators::has_pseudo_data(generator))
      throw ConfigError(config.file, "measurement.toys.events",
                        "generator toys need simulation.generator set to a simulator that draws pseudo-experiments "
                        "(got '" + generator + "'); use resample");
    state_->generator = generator;
    source_ = "generator " + generator;
  } else {
    const std::string dir = config.document.at("output_dir").get<std::string>();
    std::string path = toys.at("sample").get<std::string>();
    if (std::filesystem::path(path).is_relative()) path = dir + "/" + path;
    if (!std::filesystem::exists(path))
      throw InputError(path, "file",
                       "missing: resampled toys need an independent simulated sample (measurement.toys.sample of " +
                           config.file + ")");
    EventReader reader(path);
    if (reader.meta().feature_names != measurement->feature_names())
      throw InputError(path, "attribute feature_names", "the file's features are not the models'");
    EventSet e = reader.read_all();
    if (e.weights.defined()) {
      torch::Tensor negative = (e.weights < 0).nonzero();
      if (negative.numel() > 0)
        throw InputError(path, "weights",
                         "negative weight in row " + std::to_string(negative[0][0].item<int64_t>()) +
                             ": toys draw each event Poisson(w R) times, which needs w >= 0");
    }
    state_->sample = measurement->evaluate(e, path);
    measurement->to_reference_point(state_->sample, e, reader.meta().nuisance_names, path);
    source_ = "resampled " + path;
  }
  auto state = state_;
  // The base model carries the parameter table and the sources of Asimov
  // data and toys; its own likelihood has no regions (no data), since
  // building one (the Asimov data: every simulated event's terms) cost
  // seconds and gigabytes at millions of simulated events, and nothing
  // fits it: every toy replaces it.
  base_ = std::make_unique<stats::RegionModel>(
      std::make_shared<const likelihood::LikelihoodModel>(measurement->spec()),
      "the measurement of " + config.file,
      [state](const Eigen::VectorXd& x) { return state->measurement->asimov(x); },
      [state](const Eigen::VectorXd& x, std::mt19937_64& rng) { return state->events(x, rng); });
  // "from-priors[,NAME=VALUE,...]": the named nuisances fixed, the others drawn.
  const std::string priors = "from-priors";
  from_priors_ = asks_from_priors(nu_true);
  const std::string fixed = from_priors_ ? nu_true.substr(std::min(nu_true.size(), priors.size() + 1)) : nu_true;
  if (from_priors_ && nu_true.size() > priors.size() && fixed.empty())
    throw InputError("", "--nu-true", "'from-priors,' needs NAME=VALUE after the comma");
  truth_ = measurement->spec().nominal();
  truth_[0] = 1.0;
  fixed_.assign(state_->names.size(), false);
  if (fixed != "nominal")
    for (const Assignment& a : parse_assignments(fixed, state_->names, 0, "--nu-true",
                                                 "its true values are --mu-values (or --mu-true)")) {
      const std::string& name = state_->names[size_t(a.index)];
      if (!state_->generator.empty() && measurement->is_response(name) && a.value != truth_[a.index])
        throw InputError("", "--nu-true",
                         "'" + name + "' is a response nuisance: it describes the DCR networks, not the events the "
                         "generator draws, and stays at its centre in generator pseudo-experiments");
      truth_[a.index] = a.value;
      fixed_[size_t(a.index)] = from_priors_;
    }
  // Truths are drawn within the fit's range and, for generator toys, within
  // what the simulator accepts (its priors' clips).
  truth_lower_.resize(base_->size());
  truth_upper_.resize(base_->size());
  const auto simulated = generators::truth_ranges(state_->generator);
  for (int i = 0; i < base_->size(); ++i) {
    const stats::Parameter& p = base_->parameters()[i];
    truth_lower_[i] = p.lower;
    truth_upper_[i] = p.upper;
    const auto it = simulated.find(p.name);
    if (it != simulated.end()) {
      truth_lower_[i] = std::max(truth_lower_[i], it->second.first);
      truth_upper_[i] = std::min(truth_upper_[i], it->second.second);
    }
  }
  seed_ = config.document.at("seed").get<std::uint64_t>();
}

ExperimentToys::Toy ExperimentToys::draw(double mu, std::int64_t index) const {
  std::mt19937_64 rng(stream_seed(toy_seed(seed_, mu), {static_cast<std::uint64_t>(index)}));
  Toy t;
  t.truth = truth_;
  t.truth[0] = mu;
  if (from_priors_) {
    for (int i = 1; i < base_->size(); ++i) {
      const stats::Parameter& p = base_->parameters()[i];
      // A response nuisance describes the networks, not the simulation: its
      // truth stays at the centre, and drawing nothing for it keeps the other
      // draws and the events those of the same toy without it.
      if (p.constraint == stats::Constraint::kNone || state_->measurement->is_response(p.name)) continue;
      // Drawn even when fixed, so that the other nuisances are those of the same toy without the override.
      const double drawn = std::clamp(stats::sample_aux(p.constraint, p.aux, p.width, rng), truth_lower_[i], truth_upper_[i]);
      if (!fixed_[i]) t.truth[i] = drawn;
    }
    t.model = base_->with_toy_data(t.truth, rng);
  } else {
    t.model = base_->toy(t.truth, rng());
  }
  const auto& lik = static_cast<const stats::RegionModel&>(*t.model).likelihood();
  for (double n : state_->measurement->observed_counts(lik)) t.events += n;
  std::ostringstream s;
  s << std::setprecision(6) << "pseudo-experiment " << index << " (" << source_;
  for (int i = 0; i < base_->size(); ++i) s << ", " << base_->parameters()[i].name << " = " << t.truth[i];
  s << ")";
  t.description = s.str();
  return t;
}

}  // namespace refinery::cli
