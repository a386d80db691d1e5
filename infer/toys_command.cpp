// `refinery toys`: pseudo-experiments with full fits and profiled 68.27%
// intervals of the POI (coverage, width, bias, pulls, the challenge score),
// sharded (--shard i/N) and merged (--merge), for a pyhf workspace
// (WORKSPACE.json: Poisson main data and auxiliary data drawn from the
// constraints at the truth) or an experiment (--config: events from its
// generator or resampled from a simulated sample, experiment_toys.h). The CSV names the model's own parameters.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "infer/experiment_toys.h"
#include "infer/measurement.h"
#include "infer/experiment_source.h"
#include "infer/toy_summary.h"
#include "src/cli/job_array.h"
#include "src/cli/options.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/core/progress.h"
#include "src/core/random_seed.h"
#include "src/core/threads.h"
#include "src/stats/fit.h"
#include "src/stats/hypotest.h"
#include "src/stats/profile.h"
#include "src/stats/region_model.h"
#include "src/stats/workspace_model.h"

namespace refinery::cli {

using nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Fit and interval of one pseudo-experiment.
void fit_toy(const stats::Model& model, int poi, ToyRow* row) {
  const stats::FitResult f = stats::fit(model);
  row->converged = f.ok();
  row->mu_hat = f.x[poi];
  row->mu_error = f.error[poi];
  row->nu_hat.clear();
  row->nu_error.clear();
  row->nu_constraint_slope.clear();
  const Eigen::VectorXd cp = stats::constraint_slopes(model, f, poi);  // ToyRow::nu_constraint_slope
  for (int i = 0; i < model.size(); ++i)
    if (i != poi) {
      row->nu_hat.push_back(f.x[i]);
      row->nu_error.push_back(i < f.error.size() ? f.error[i] : std::numeric_limits<double>::quiet_NaN());
      row->nu_constraint_slope.push_back(cp[i]);
    }
  if (f.ok()) {
    const stats::Interval in = stats::profile_interval(model, f, poi, 1.0);
    row->lower = in.lower.value;
    row->upper = in.upper.value;
    row->interval_ok = in.lower.usable() && in.upper.usable();
  }
}

std::string shard_name(int shard, int shards) {
  return shards > 1 ? "toys_" + std::to_string(shard) + "of" + std::to_string(shards) + ".csv" : "toys.csv";
}

// The config a shard was made with (its summary's "config", written since
// stop 61); empty where it names none or cannot be read (the merge itself
// then reports the summary). A named config that is gone is an InputError.
std::string shard_config_path(const std::string& shard) {
  std::ifstream in(shard + ".json");
  if (!in) return "";
  const json s = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!s.is_object() || !s.contains("config") || !s["config"].is_string()) return "";
  const std::string path = s["config"].get<std::string>();
  if (!std::filesystem::exists(path))
    throw InputError(shard + ".json", "config", "the shards' config " + path + " is gone: merge with --config naming it");
  return path;
}

// Where --with-reference writes the reference's rows: _reference before
// the output's .csv (or after its name).
std::string reference_path(const std::string& path) {
  const std::string ext = ".csv";
  if (path.size() > ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0)
    return path.substr(0, path.size() - ext.size()) + "_reference" + ext;
  return path + "_reference";
}

// A shard's outputs as it starts: the CSV's header and a summary that says
// the run is not complete, with what it was asked for (true POI values,
// toys per value). A shard stopped before its end (a batch system's time
// limit, a kill) thus leaves a pair that --merge accepts with the toys it
// finished, and no earlier run's files beside the new ones.
ToyCsvAppender start(const std::string& path, const std::vector<std::string>& names, json provenance) {
  ToyCsvAppender csv(path, names);
  provenance["complete"] = false;
  write_text_atomically(path + ".json", provenance.dump(2) + "\n");
  return csv;
}

void finish(const std::string& path, const std::vector<std::string>& names, const std::vector<ToyRow>& rows,
            json provenance, const CommonOptions& common, const std::string& verb) {
  write_toy_csv(path, names, rows);
  json s = summarise_toys(rows, names);
  s.update(provenance);
  if (!s.contains("complete")) s["complete"] = true;
  write_text_atomically(path + ".json", s.dump(2) + "\n");
  if (!common.quiet) std::cout << toy_table(s) << verb << " " << path << " and " << path << ".json\n";
}

}  // namespace

int run_toys(int argc_in, char** argv_in) {
  // `--n N` (the short spelling physicists type) is `--count N`: cxxopts
  // takes one-letter names only after a single dash.
  std::vector<std::string> args(argv_in, argv_in + argc_in);
  for (auto& a : args) {
    if (a == "--n") a = "--count";
    else if (a.rfind("--n=", 0) == 0) a = "--count=" + a.substr(4);
  }
  std::vector<char*> av;
  for (auto& a : args) av.push_back(a.data());
  av.push_back(nullptr);
  int argc = argc_in;
  char** argv = av.data();
  cxxopts::Options options(argv[0],
                           "Pseudo-experiments with full fits and profiled 68.27% intervals of the POI: coverage, width, "
                           "bias, pulls; refinery toys WORKSPACE.json --n N, or refinery toys --config EXPERIMENT.json");
  add_model_options(options, /*positional_workspace=*/false);
  options.add_options()("n,count", "Pseudo-experiments per true POI value (experiments' default: measurement.toys.n); also --n",
                        cxxopts::value<int64_t>())(
      "mu-values", "True POI values, comma separated (default: measurement.toys.mu_true; --mu-true gives one)",
      cxxopts::value<std::string>()->default_value(""))(
      "shard", "Run shard i of N (i/N, 0-based): toys with (index - first) % N == i", cxxopts::value<std::string>()->default_value("0/1"))(
      "first", "Number of the first pseudo-experiment (toys first .. first + n - 1 per true POI value): extends an earlier run "
               "with new toys, merged with it by --merge", cxxopts::value<int64_t>()->default_value("0"))(
      "merge", "Merge toy CSV files (the positional arguments) into one summary", cxxopts::value<bool>()->default_value("false"))(
      "with-reference", "Experiments: fit each pseudo-experiment with the binned reference analysis too (the same events, "
                        "generated once), its rows in the output's name with _reference before .csv",
      cxxopts::value<bool>()->default_value("false"))(
      "files", "WORKSPACE.json, or with --merge the CSV files", cxxopts::value<std::vector<std::string>>());
  options.parse_positional({"files"});
  options.positional_help("[WORKSPACE.json | CSV files with --merge]");
  add_common_options(options, true, true);
  add_job_array_options(options);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  std::vector<std::string> inputs;
  if (r->count("files")) inputs = (*r)["files"].as<std::vector<std::string>>();
  const bool merging = (*r)["merge"].as<bool>();
  std::string workspace = r->count("workspace") ? (*r)["workspace"].as<std::string>() : "";
  if (!merging && !inputs.empty()) {
    if (inputs.size() > 1 || !workspace.empty())
      throw InputError("", inputs.back(), "one workspace per run (CSV files are merged with --merge)");
    workspace = inputs.front();
  }
  if (!workspace.empty() && !common.config_path.empty())
    throw InputError("", "--config", "give a workspace or an experiment config, not both");
  const bool with_reference = (*r)["with-reference"].as<bool>();
  if (with_reference) {
    if (!workspace.empty()) throw InputError("", "--with-reference", "applies to an experiment (--config), not to a workspace");
    if (r->count("reference")) throw InputError("", "--with-reference", "fits the reference beside the unbinned analysis: drop --reference");
    if (merging) throw InputError("", "--with-reference", "merge each analysis's files on their own");
  }

  // A merge without --config (and without a workspace) takes the config the
  // first shard names (shards record their --config as an absolute path);
  // the config hash check below still guards against one edited since.
  if (merging && workspace.empty() && common.config_path.empty() && !inputs.empty())
    if (const std::string recorded = shard_config_path(inputs.front()); !recorded.empty()) {
      common.config_path = recorded;
      if (!common.quiet) std::cout << "merging with the shards' config " << recorded << " (from " << inputs.front() << ".json)\n";
    }

  // The identity every shard records, and what the merge checks.
  std::optional<ExperimentConfig> config;
  std::string identity;
  if (workspace.empty()) {
    config = setup_experiment(common);
    identity = config->hash;
  } else {
    set_threads(common.threads);
    identity = workspace_identity(*r, workspace);
  }
  // What every summary records of the config (a merge without --config reads it back, shard_config_path).
  const std::string config_record =
      common.config_path.empty() ? "" : std::filesystem::absolute(common.config_path).lexically_normal().string();
  auto out_path = [&](const std::string& name) {
    if (config) return default_out(*config, common, name);
    return common.out.empty() ? name : common.out;
  };
  if (job_array_requested(*r)) {
    if (merging) throw InputError("", "--emit", "writes the job array of a toy run, not of a merge");
    if (with_reference) throw InputError("", "--with-reference", "one analysis per job array (run --reference as its own)");
    // The merge of the shards: the same model (a positional workspace given
    // as --workspace, since --merge takes the CSV files as positionals).
    std::vector<std::string> merge = job_arguments();
    if (!workspace.empty() && !r->count("workspace"))
      for (size_t i = 1; i < merge.size(); ++i)
        if (merge[i] == workspace) {
          merge[i] = "--workspace";
          merge.insert(merge.begin() + i + 1, workspace);
          break;
        }
    merge.push_back("--merge");
    return emit_job_array(*r, {"toys", ".csv", merge, out_path("toys.csv")});
  }
  if (merging) {
    if (inputs.empty()) throw InputError("", "--merge", "give the CSV files to merge");
    json provenance;
    std::vector<std::string> names;
    const std::string merged_with = !workspace.empty()           ? "workspace " + workspace
                                    : common.config_path.empty() ? "the built-in experiment (no --config given)"
                                                                 : "--config " + common.config_path;
    std::vector<ToyRow> rows = merge_toy_shards(inputs, identity, merged_with, &provenance, &names);
    if (!common.quiet)
      for (const auto& stopped : provenance.value("incomplete_shards", json::array()))
        std::cout << "note: " << stopped.get<std::string>() << " stopped before its end; its finished toys are merged\n";
    provenance["shard"] = "0/1";
    if (!config_record.empty()) provenance["config"] = config_record;
    finish(out_path("toys.csv"), names, rows, provenance, common, "merged " + std::to_string(rows.size()) + " toys into");
    return 0;
  }
  const json* defaults = config ? &config->section("measurement").at("toys") : nullptr;
  if (!r->count("count") && !defaults) throw InputError("", "--n", "how many pseudo-experiments per true POI value");
  const int64_t n = r->count("count") ? (*r)["count"].as<int64_t>() : defaults->at("n").get<int64_t>();
  if (n <= 0) throw InputError("", "--n", "must be positive");
  std::vector<double> mus = defaults ? defaults->at("mu_true").get<std::vector<double>>() : std::vector<double>{1.0};
  if (r->count("mu-true") || !defaults) mus = {(*r)["mu-true"].as<double>()};
  if (!(*r)["mu-values"].as<std::string>().empty()) mus = cli::parse_numbers((*r)["mu-values"].as<std::string>(), "--mu-values");
  const std::string nus = r->count("nu-true") || !defaults ? (*r)["nu-true"].as<std::string>()
                                                            : defaults->at("nu_true").get<std::string>();
  const cli::Shard part = cli::parse_shard((*r)["shard"].as<std::string>());
  const int shard = part.index, shards = part.count;
  const int64_t first = (*r)["first"].as<int64_t>();
  if (first < 0) throw InputError("", "--first", "must be >= 0, got " + std::to_string(first));
  if (first > std::numeric_limits<int64_t>::max() - n) throw InputError("", "--first", "first + n overflows");
  for (const char* flag : {"asimov", "toy", "data"})
    if (r->count(flag)) throw InputError("", std::string("--") + flag, "toys make their own data sets");
  const std::string path = out_path(shard_name(shard, shards));
  int64_t total = 0;
  for (int64_t i = shard; i < n; i += shards) ++total;
  const int64_t end = first + n;
  Progress progress("toys", total * int64_t(mus.size()), common.quiet);
  int64_t done = 0;
  std::optional<ToyCsvAppender> csv;  // the finished toys, kept in the CSV as they finish
  std::vector<std::string> names;
  json provenance = {{"config_hash", identity}, {"shard", std::to_string(shard) + "/" + std::to_string(shards)},
                     {"first", first}, {"n", n}, {"mu_values", mus}, {"nu_true", nus}};
  if (!config_record.empty()) provenance["config"] = config_record;

  if (!workspace.empty()) {
    const ModelSource s = file_source(workspace, *r);
    if (s.poi < 0 && s.workspace) static_cast<const stats::WorkspaceModel&>(*s.model).histfactory().require_poi();
    const std::uint64_t seed = common.seed.value_or(0);
    std::string truth_text;
    const Eigen::VectorXd base = workspace_truth(*s.model, s.poi, *r, &truth_text);
    for (int i = 0; i < s.model->size(); ++i)
      if (i != s.poi) names.push_back(s.model->parameters()[i].name);
    provenance["seed"] = seed;
    provenance["analysis"] = s.header.value("kind", std::string("workspace")) + " " + workspace;
    for (double mu : mus) stats::check_poi_value(*s.model, s.poi, mu, "--mu-values");
    csv.emplace(start(path, names, provenance));
    for (double mu : mus) {
      for (int64_t i = first + shard; i < end; i += shards) {
        auto t0 = std::chrono::steady_clock::now();
        Eigen::VectorXd x = base;
        x[s.poi] = mu;
        const auto toy = s.model->toy(x, stream_seed(seed, {0x70e5, static_cast<std::uint64_t>(std::llround(mu * 1e6)),
                                                             static_cast<std::uint64_t>(i)}));
        ToyRow row;
        row.index = i;
        row.mu_true = mu;
        for (int k = 0; k < x.size(); ++k)
          if (k != s.poi) row.nu_true.push_back(x[k]);
        double events = 0.0;
        for (const auto& y : toy->observed_yields())
          for (double n : y.bins) events += n;
        row.events = std::llround(events);
        fit_toy(*toy, s.poi, &row);
        row.seconds = seconds_since(t0);
        csv->add(row);  // an interrupted run keeps what it finished
        progress.update(++done, "mu_true " + std::to_string(mu));
      }
    }
  } else {
    for (const char* flag : {"poi", "poi-bounds"})
      if (r->count(flag)) throw InputError("", std::string("--") + flag, "experiment toys test the measurement's POI");
    // One analysis, or the unbinned one and its binned reference on the same
    // pseudo-experiments (--with-reference: the events generated once).
    struct Analysis {
      std::shared_ptr<Measurement> measurement;
      std::unique_ptr<ExperimentToys> toys;
      std::string path;
      json provenance;
      std::optional<ToyCsvAppender> csv;  // its finished toys
    };
    std::vector<Analysis> analyses;
    for (int a = 0; a < (with_reference ? 2 : 1); ++a) {
      MeasurementOptions options = measurement_options(*r);
      if (a == 1) options.reference = true;
      Analysis an;
      an.measurement = std::make_shared<Measurement>(*config, options);
      an.toys = std::make_unique<ExperimentToys>(an.measurement, *config, nus);
      if (a == 1) an.toys->share_events_with(*analyses.front().toys);
      an.path = a == 0 ? path : reference_path(path);
      an.provenance = provenance;
      an.provenance["seed"] = config->document.at("seed").get<std::uint64_t>();
      an.provenance["analysis"] = options.reference ? "binned reference" : "unbinned";
      an.provenance["mc_statistics"] = an.measurement->mc_statistics();
      an.provenance["events"] = an.toys->source();
      analyses.push_back(std::move(an));
    }
    const stats::Model& base = analyses.front().toys->model();
    for (int i = 1; i < base.size(); ++i) names.push_back(base.parameters()[i].name);
    for (const Analysis& an : analyses) {
      std::vector<std::string> own;
      for (int i = 1; i < an.toys->model().size(); ++i) own.push_back(an.toys->model().parameters()[i].name);
      if (own != names)  // the same spec builds both: an internal failure, not bad input
        throw std::logic_error("toys --with-reference: the reference's parameters differ from the unbinned analysis's");
    }
    for (double mu : mus) stats::check_poi_value(base, 0, mu, "--mu-values");
    for (Analysis& an : analyses) an.csv.emplace(start(an.path, names, an.provenance));
    for (double mu : mus) {
      for (int64_t i = first + shard; i < end; i += shards) {
        for (Analysis& an : analyses) {
          auto t0 = std::chrono::steady_clock::now();
          ExperimentToys::Toy toy = an.toys->draw(mu, i);
          ToyRow row;
          row.index = i;
          row.mu_true = mu;
          row.nu_true.assign(toy.truth.data() + 1, toy.truth.data() + toy.truth.size());
          row.events = std::llround(toy.events);
          fit_toy(*toy.model, 0, &row);
          row.seconds = seconds_since(t0);
          an.csv->add(row);  // an interrupted run keeps what it finished
        }
        progress.update(++done, "mu_true " + std::to_string(mu));
      }
    }
    progress.finish();
    for (const Analysis& an : analyses) finish(an.path, names, an.csv->rows(), an.provenance, common, "wrote");
    return 0;
  }
  progress.finish();
  finish(path, names, csv->rows(), provenance, common, "wrote");
  return 0;
}

}  // namespace refinery::cli
