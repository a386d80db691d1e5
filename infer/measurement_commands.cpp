// `refinery fit|scan|impacts|toys --config EXPERIMENT.json`: the profile
// likelihood measurement of mu (infer/measurement.h) on Asimov data, a
// pseudo-experiment from the simulator, or an event file.
//   fit      MLE, Hessian errors, correlations, profiled 68.27% and 95% intervals
//   scan     t(mu) on a grid, nuisances re-minimised at every point
//   impacts  ranked nuisance impacts and the statistical-only error
//   toys     pseudo-experiments with full fits and intervals: coverage, width,
//            bias, pulls, the challenge score; --shard i/N and --merge
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "data/htautau/htautau_simulation.h"
#include "data/random.h"
#include "infer/measurement.h"
#include "infer/toy_summary.h"
#include "src/cli/options.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/core/progress.h"
#include "src/stats/fit.h"
#include "src/stats/impacts.h"
#include "src/stats/profile.h"
#include "src/stats/region_model.h"
#include "src/io/event_reader.h"

namespace refinery::cli {

using nlohmann::json;
using likelihood::LikelihoodModel;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void add_data_options(cxxopts::Options& o) {
  o.add_options("Data")("asimov", "Fit the Asimov data set at --mu-true and --nu-true (the default without --toy/--data)")(
      "toy", "Fit pseudo-experiment number I from the simulator (seeded by the config's seed and I)",
      cxxopts::value<int64_t>())("data", "Fit the events of an HDF5 event file", cxxopts::value<std::string>())(
      "mu-true", "True mu of the Asimov data or pseudo-experiment", cxxopts::value<double>()->default_value("1"))(
      "nu-true", "True nuisances: nominal, from-priors (toys only) or e.g. tes=1,jes=-0.5",
      cxxopts::value<std::string>()->default_value("nominal"))(
      "reference", "The binned reference analysis (unbinned regions binned in measurement/reference)")(
      "labels", "Expected yields from each process's own simulated events instead of the fractions")(
      "recalibration", "Per-region recalibration of the fractions: isotonic, closure or none (default: the config's)",
      cxxopts::value<std::string>()->default_value(""))(
      "inputs", "Directory with classifier.pt, dcr_<process>.pt and mc.h5 (default: the config's output_dir)",
      cxxopts::value<std::string>()->default_value(""));
}

MeasurementOptions measurement_options(const cxxopts::ParseResult& r) {
  MeasurementOptions m;
  m.inputs = r["inputs"].as<std::string>();
  m.reference = r.count("reference") > 0;
  m.labels = r.count("labels") > 0;
  m.recalibration = r["recalibration"].as<std::string>();
  return m;
}

std::uint64_t toy_seed(std::uint64_t seed, double mu) {
  return stream_seed(seed, {0x70e5, static_cast<std::uint64_t>(std::llround(mu * 1e6))});
}

// The simulator's nuisance vector for a truth option and a toy index.
htautau::NuVector nu_truth(const std::string& spec, std::uint64_t seed, std::uint64_t index) {
  if (spec == "nominal" || spec.empty()) {
    htautau::NuVector nu{};
    nu[htautau::kSoftMet] = 1.0;  // the constraint's centre: the measurement's nominal point
    return nu;
  }
  if (spec == "from-priors") return htautau::draw_truth(stream_seed(seed, {0x7ea}), index).second;
  return htautau::parse_nu(spec, "--nu-true");
}

struct Observed {
  std::string description;
  std::shared_ptr<const LikelihoodModel> likelihood;
  Eigen::VectorXd truth;  // empty for a data file
};

// The observed regions behind the model interface; Asimov data from the
// measurement's simulated events.
stats::RegionModel model_of(const Observed& o, const Measurement& m) {
  return stats::RegionModel(o.likelihood, o.description, [&m](const Eigen::VectorXd& x) { return m.asimov(x); });
}

std::shared_ptr<const LikelihoodModel> share(LikelihoodModel model) {
  return std::make_shared<const LikelihoodModel>(std::move(model));
}

Observed observe(Measurement& m, const ExperimentConfig& config, const cxxopts::ParseResult& r) {
  // One data source: --asimov, --toy I or --data FILE.
  std::string given;
  for (const char* source : {"asimov", "toy", "data"})
    if (r.count(source)) {
      if (!given.empty())
        throw InputError("", "--" + std::string(source), "conflicts with --" + given +
                                                             " (give one data source: --asimov, --toy I or --data FILE)");
      given = source;
    }
  const double mu = r["mu-true"].as<double>();
  const std::string nus = r["nu-true"].as<std::string>();
  const std::uint64_t seed = config.document.at("seed").get<std::uint64_t>();
  if (r.count("data")) {
    const std::string path = r["data"].as<std::string>();
    EventReader reader(path);
    if (reader.meta().feature_names != m.feature_names())
      throw InputError(path, "attribute feature_names", "the file's features are not the models' (" +
                                                           std::to_string(reader.meta().feature_names.size()) + " vs " +
                                                           std::to_string(m.feature_names().size()) + " columns, or a different order)");
    EvaluatedEvents e = m.evaluate(reader.read_all(), path);
    return {"events of " + path, share(m.model(e, path)), Eigen::VectorXd()};
  }
  if (r.count("toy")) {
    const int64_t index = r["toy"].as<int64_t>();
    if (index < 0) throw InputError("", "--toy", "must be >= 0");
    htautau::NuVector nu = nu_truth(nus, seed, index);
    htautau::PseudoExperiment pe = htautau::pseudo_experiment(mu, nu, m.luminosity(), toy_seed(seed, mu), index);
    EvaluatedEvents e = m.evaluate(pe.events, "pseudo-experiment " + std::to_string(index));
    return {"pseudo-experiment " + std::to_string(index) + " (mu " + std::to_string(mu) + ", " + htautau::format_nu(nu) + ")",
            share(m.model(e, "pseudo-experiment")), theta_of(m.spec(), mu, std::vector<double>(nu.begin(), nu.end()))};
  }
  if (nus == "from-priors") throw InputError("", "--nu-true", "from-priors needs --toy (Asimov data take fixed nuisances)");
  htautau::NuVector nu = nu_truth(nus, seed, 0);
  Eigen::VectorXd theta = theta_of(m.spec(), mu, std::vector<double>(nu.begin(), nu.end()));
  return {"Asimov data at mu " + std::to_string(mu) + " (" + htautau::format_nu(nu) + ")", share(m.asimov(theta)), theta};
}

std::string default_out(const ExperimentConfig& config, const CommonOptions& common, const std::string& name) {
  if (!common.out.empty()) return common.out;
  const std::string dir = config.document.at("output_dir").get<std::string>();
  std::filesystem::create_directories(dir);
  return dir + "/" + name;
}

json header(const ExperimentConfig& config, const Observed& o, const Measurement& m, const cxxopts::ParseResult& r) {
  json j;
  j["config"] = config.file;
  j["config_hash"] = config.hash;
  j["seed"] = config.document.at("seed");
  j["data"] = o.description;
  j["analysis"] = r.count("reference") ? "binned reference" : "unbinned";
  json regions = json::array();
  auto counts = m.observed_counts(*o.likelihood);
  auto closure = m.closure_factors();
  for (size_t i = 0; i < m.regions().size(); ++i)
    regions.push_back({{"name", m.regions()[i].name}, {"type", m.regions()[i].binned ? "binned" : "unbinned"},
                       {"observed", counts[i]}, {"fraction_closure", closure[i]}});
  j["regions"] = regions;
  return j;
}

void print_fit(const stats::FitResult& f, std::ostream& os) {
  os << "fit: " << f.brief() << "\n" << std::setprecision(5);
  for (int i = 0; i < f.x.size(); ++i)
    os << "  " << std::left << std::setw(14) << f.names[i] << std::right << std::setw(11) << f.x[i] << " +- "
       << f.error[i] << "\n";
}

}  // namespace

int run_measurement_fit(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Profile-likelihood fit of mu: MLE, errors, correlations, profiled intervals");
  add_data_options(options);
  options.add_options()("no-interval", "Skip the profiled intervals")(
      "max-iterations", "Newton iterations allowed per fit", cxxopts::value<int>()->default_value("200"));
  add_common_options(options, true, true);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  ExperimentConfig config = setup_experiment(common);
  auto t0 = std::chrono::steady_clock::now();
  Measurement m(config, measurement_options(*r));
  const double setup = seconds_since(t0);
  Observed o = observe(m, config, *r);
  auto t1 = std::chrono::steady_clock::now();
  stats::ProfileOptions opt;
  opt.fit.minimizer.max_iterations = (*r)["max-iterations"].as<int>();
  if (opt.fit.minimizer.max_iterations < 1) throw InputError("", "--max-iterations", "must be >= 1");
  const stats::RegionModel model = model_of(o, m);
  const int poi = model.poi();
  const stats::FitResult f = stats::fit(model, opt.fit);
  json out = header(config, o, m, *r);
  out["fit"] = f.to_json();
  if (f.ok() && !r->count("no-interval")) {
    for (double cl : {0.6827, 0.95}) {
      stats::Interval in = stats::profile_interval(model, f, poi, stats::chi2_level(cl), opt);
      out[cl < 0.9 ? "interval_68" : "interval_95"] = in.to_json();
    }
  }
  out["seconds"] = {{"setup", setup}, {"fit_and_intervals", seconds_since(t1)}};
  // Named after the data (and analysis), so that fits of Asimov data and of
  // a pseudo-experiment do not overwrite each other and `report` finds both.
  const std::string source = r->count("data") ? "data" : r->count("toy") ? "toy" : "asimov";
  const std::string path =
      default_out(config, common, "fit_" + source + (r->count("reference") ? "_reference" : "") + ".json");
  write_text_atomically(path, out.dump(2) + "\n");
  if (!common.quiet) {
    std::cout << o.description << "\n";
    print_fit(f, std::cout);
    for (const char* key : {"interval_68", "interval_95"})
      if (out.contains(key))
        std::cout << "  " << (std::string(key) == "interval_68" ? "68.27%" : "95%   ") << " profiled interval: ["
                  << out[key]["lower"]["value"].get<double>() << ", " << out[key]["upper"]["value"].get<double>() << "]\n";
    std::cout << "fit and intervals in " << out["seconds"]["fit_and_intervals"].get<double>() << " s; wrote " << path << "\n";
  }
  if (!f.ok()) std::cerr << "refinery fit: error: the fit did not converge: " << f.reason << " (" << path << ")\n";
  return f.ok() ? 0 : 1;
}

int run_scan(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Profile-likelihood scan of mu (nuisances re-minimised at every point)");
  add_data_options(options);
  options.add_options()("points", "Scan points", cxxopts::value<int>()->default_value("21"))(
      "range", "Scan range lo:hi (default: mu_hat -+ 3 errors)", cxxopts::value<std::string>()->default_value(""));
  add_common_options(options, true, true);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  ExperimentConfig config = setup_experiment(common);
  Measurement m(config, measurement_options(*r));
  Observed o = observe(m, config, *r);
  auto t0 = std::chrono::steady_clock::now();
  const stats::RegionModel model = model_of(o, m);
  const int poi_index = model.poi();
  const stats::FitResult f = stats::fit(model);
  if (!f.ok()) throw std::runtime_error("scan: the fit did not converge: " + f.reason);
  const int n = (*r)["points"].as<int>();
  if (n < 2) throw InputError("", "--points", "at least 2");
  double lo = f.x[poi_index] - 3 * f.error[poi_index], hi = f.x[poi_index] + 3 * f.error[poi_index];
  const std::string range = (*r)["range"].as<std::string>();
  if (!range.empty()) {
    const auto colon = range.find(':');
    try {
      if (colon == std::string::npos) throw std::invalid_argument("");
      lo = std::stod(range.substr(0, colon));
      hi = std::stod(range.substr(colon + 1));
    } catch (const std::exception&) {
      throw InputError("", "--range", "expected lo:hi, got '" + range + "'");
    }
    if (!(lo < hi)) throw InputError("", "--range", "needs lo < hi");
  }
  const auto& poi = model.parameters()[poi_index];
  lo = std::max(lo, poi.lower);
  hi = std::min(hi, poi.upper);
  std::vector<double> mus;
  for (int i = 0; i < n; ++i) mus.push_back(lo + (hi - lo) * i / (n - 1));
  auto points = stats::profile_scan(model, f, poi_index, mus);
  stats::Interval i68 = stats::profile_interval(model, f, poi_index, 1.0),
                  i95 = stats::profile_interval(model, f, poi_index, stats::chi2_level(0.95));
  json out = header(config, o, m, *r);
  out["fit"] = f.to_json();
  json pts = json::array();
  for (const auto& p : points) pts.push_back({{"mu", p.values[0]}, {"t", p.t}, {"converged", p.converged}});
  out["scan"] = pts;
  out["interval_68"] = i68.to_json();
  out["interval_95"] = i95.to_json();
  out["seconds"] = seconds_since(t0);
  const std::string path = default_out(config, common, "scan.json");
  write_text_atomically(path, out.dump(2) + "\n");
  if (!common.quiet) {
    std::cout << o.description << "\nmu_hat " << f.x[poi_index] << " +- " << f.error[poi_index] << "\n      mu        t(mu)\n";
    for (const auto& p : points)
      std::cout << std::setw(8) << std::setprecision(4) << p.values[0] << std::setw(13) << p.t << (p.converged ? "" : "  (not converged)") << "\n";
    std::cout << "68.27%: [" << i68.lower.value << ", " << i68.upper.value << "]  95%: [" << i95.lower.value << ", "
              << i95.upper.value << "]  (" << out["seconds"].get<double>() << " s); wrote " << path << "\n";
  }
  return 0;
}

int run_impacts(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Nuisance impacts on mu: refits with each nuisance fixed at nu_hat +- its errors");
  add_data_options(options);
  add_common_options(options, true, true);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  ExperimentConfig config = setup_experiment(common);
  Measurement m(config, measurement_options(*r));
  Observed o = observe(m, config, *r);
  const stats::RegionModel model = model_of(o, m);
  const stats::FitResult f = stats::fit(model);
  if (!f.ok()) throw std::runtime_error("impacts: the fit did not converge: " + f.reason);
  const stats::Impacts im = stats::compute_impacts(model, f, model.poi());
  json out = header(config, o, m, *r);
  out["impacts"] = im.to_json();
  const std::string path = default_out(config, common, "impacts.json");
  write_text_atomically(path, out.dump(2) + "\n");
  if (!common.quiet) std::cout << o.description << "\n" << im.table() << "wrote " << path << "\n";
  return 0;
}

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
                           "Pseudo-experiments with full fits and profiled 68.27% intervals: coverage, width, bias, pulls");
  add_data_options(options);
  options.add_options()("n,count", "Pseudo-experiments per mu_true (default: measurement/toys/n); also --n", cxxopts::value<int64_t>())(
      "mu-values", "True mu values, comma separated (default: measurement/toys/mu_true; --mu-true gives one)",
      cxxopts::value<std::string>()->default_value(""))(
      "shard", "Run shard i of N (i/N, 0-based): toys with index % N == i", cxxopts::value<std::string>()->default_value("0/1"))(
      "merge", "Merge toy CSV files (the positional arguments) into one summary", cxxopts::value<bool>()->default_value("false"))(
      "files", "CSV files to merge", cxxopts::value<std::vector<std::string>>());
  options.parse_positional({"files"});
  add_common_options(options, true, true);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  ExperimentConfig config = setup_experiment(common);
  if ((*r)["merge"].as<bool>()) {
    if (!r->count("files")) throw InputError("", "--merge", "give the CSV files to merge");
    json provenance;
    std::vector<ToyRow> rows = merge_toy_shards((*r)["files"].as<std::vector<std::string>>(), config.hash, &provenance);
    const std::string path = default_out(config, common, "toys.csv");
    write_toy_csv(path, rows);
    json s = summarise_toys(rows);
    s.update(provenance);
    s["shard"] = "0/1";
    write_text_atomically(path + ".json", s.dump(2) + "\n");
    if (!common.quiet) std::cout << toy_table(s) << "merged " << rows.size() << " toys into " << path << "\n";
    return 0;
  }
  const json& tc = config.section("measurement").at("toys");
  const int64_t n = r->count("count") ? (*r)["count"].as<int64_t>() : tc.at("n").get<int64_t>();
  if (n <= 0) throw InputError("", "--n", "must be positive");
  std::vector<double> mus = tc.at("mu_true").get<std::vector<double>>();
  if (r->count("mu-true")) mus = {(*r)["mu-true"].as<double>()};
  if (!(*r)["mu-values"].as<std::string>().empty()) {
    mus.clear();
    std::stringstream ss((*r)["mu-values"].as<std::string>());
    for (std::string item; std::getline(ss, item, ',');) {
      try {
        mus.push_back(std::stod(item));
      } catch (const std::exception&) {
        throw InputError("", "--mu-values", "not a number: '" + item + "'");
      }
    }
  }
  std::string nus = r->count("nu-true") ? (*r)["nu-true"].as<std::string>() : tc.at("nu_true").get<std::string>();
  int shard = 0, shards = 1;
  {
    const std::string s = (*r)["shard"].as<std::string>();
    const auto slash = s.find('/');
    try {
      if (slash == std::string::npos) throw std::invalid_argument("");
      shard = std::stoi(s.substr(0, slash));
      shards = std::stoi(s.substr(slash + 1));
    } catch (const std::exception&) {
      throw InputError("", "--shard", "expected i/N, got '" + s + "'");
    }
    if (shards < 1 || shard < 0 || shard >= shards) throw InputError("", "--shard", "needs 0 <= i < N");
  }
  Measurement m(config, measurement_options(*r));
  const std::uint64_t seed = config.document.at("seed").get<std::uint64_t>();
  const std::string path = default_out(config, common, shards > 1 ? "toys_" + std::to_string(shard) + "of" + std::to_string(shards) + ".csv" : "toys.csv");
  std::vector<ToyRow> rows;
  int64_t total = 0;
  for (int64_t i = 0; i < n; ++i)
    if (i % shards == shard) ++total;
  Progress progress("toys", total * int64_t(mus.size()), common.quiet);
  int64_t done = 0;
  for (double mu : mus) {
    for (int64_t i = shard; i < n; i += shards) {
      auto t0 = std::chrono::steady_clock::now();
      htautau::NuVector nu = nu_truth(nus, seed, i);
      htautau::PseudoExperiment pe = htautau::pseudo_experiment(mu, nu, m.luminosity(), toy_seed(seed, mu), i);
      EvaluatedEvents e = m.evaluate(pe.events, "pseudo-experiment " + std::to_string(i));
      const stats::RegionModel model(share(m.model(e, "pseudo-experiment")), "pseudo-experiment");
      const int poi = model.poi();
      ToyRow row;
      row.index = i;
      row.mu_true = mu;
      row.nu_true = std::vector<double>(nu.begin(), nu.end());
      row.events = pe.events.features.size(0);
      const stats::FitResult f = stats::fit(model);
      row.converged = f.ok();
      row.mu_hat = f.x[poi];
      row.mu_error = f.error[poi];
      if (f.ok()) {
        const stats::Interval in = stats::profile_interval(model, f, poi, 1.0);
        row.lower = in.lower.value;
        row.upper = in.upper.value;
        row.interval_ok = in.lower.usable() && in.upper.usable();
      }
      row.seconds = seconds_since(t0);
      rows.push_back(row);
      ++done;
      progress.update(done, "mu_true " + std::to_string(mu));
      // Rewritten after each toy: an interrupted run keeps what it finished.
      write_toy_csv(path, rows);
    }
  }
  progress.finish();
  json s = summarise_toys(rows);
  s["config_hash"] = config.hash;
  s["seed"] = seed;
  s["shard"] = std::to_string(shard) + "/" + std::to_string(shards);
  s["nu_true"] = nus;
  s["analysis"] = r->count("reference") ? "binned reference" : "unbinned";
  write_text_atomically(path + ".json", s.dump(2) + "\n");
  if (!common.quiet) std::cout << toy_table(s) << "wrote " << path << " and " << path << ".json\n";
  return 0;
}

}  // namespace refinery::cli

namespace refinery::cli {

// `refinery report --config C`: the summary table of the main job from the
// JSON files the measurement commands wrote into the output directory.
int run_report(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Summary table of the measurement's results in the output directory");
  add_common_options(options, true, false);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  ExperimentConfig config = setup_experiment(common);
  const std::string dir = config.document.at("output_dir").get<std::string>();
  std::vector<std::string> found;
  std::string current;  // the file being read, for messages
  auto load = [&](const std::string& name) -> json {
    std::ifstream in(dir + "/" + name);
    if (!in) return json();
    found.push_back(name);
    current = dir + "/" + name;
    try {
      return json::parse(in);
    } catch (const json::exception&) {
      throw InputError(dir + "/" + name, "", "malformed JSON");
    }
  };
  std::ostringstream o;
  o << std::fixed << std::setprecision(4);
  o << "analysis   data                   mu_hat   68.27% profiled interval   width   coverage (toys)        score\n";
  // A result file without the keys read here is not a result of the command
  // that writes it: one error naming the file (never a read of a missing key).
  try {
  for (const char* analysis : {"unbinned", "reference"}) {
    const std::string suffix = std::string(analysis) == "reference" ? "_reference" : "";
    for (const char* what : {"asimov", "toy"}) {
      json f = load(std::string("fit_") + what + suffix + ".json");
      if (f.is_null() || !f.contains("interval_68")) continue;
      const double lo = f.at("interval_68").at("lower").at("value").get<double>(),
                   hi = f.at("interval_68").at("upper").at("value").get<double>();
      o << std::left << std::setw(11) << analysis << std::setw(21) << (std::string(what) == "asimov" ? "Asimov (mu 1)" : "pseudo-experiment")
        << std::right << std::setw(8) << f.at("fit").at("parameters").at(0).at("value").get<double>() << "   [" << lo << ", " << hi
        << "]" << std::setw(18) << hi - lo << "\n";
    }
    json t = load("toys" + suffix + ".csv.json");
    if (!t.is_null())
      for (const auto& s : t.at("per_mu_true")) {
        if (!s.contains("coverage")) continue;
        std::ostringstream label;
        label << s.at("usable").get<int>() << " toys, mu " << std::setprecision(2) << s.at("mu_true").get<double>();
        o << std::left << std::setw(11) << analysis << std::setw(21) << label.str() << std::right << std::setw(8)
          << "-" << std::setw(27) << "-" << std::setw(13) << s.at("mean_width").get<double>() << std::setw(9)
          << s.at("coverage").get<double>() << " +- " << s.at("coverage_error").get<double>() << std::setw(9)
          << s.at("score").get<double>() << "\n";
      }
  }
  json im = load("impacts.json");
  if (!im.is_null()) {
    o << "\nimpacts on mu (Asimov), post-fit +1/-1 sigma; stat-only error "
      << im.at("impacts").at("stat_only_error").get<double>() << ", total "
      << im.at("impacts").at("mu_error").get<double>() << "\n";
    for (const auto& i : im.at("impacts").at("impacts"))
      o << "  " << std::left << std::setw(14) << i.at("name").get<std::string>() << std::right << std::setw(9)
        << i.at("postfit_up").get<double>() << std::setw(9) << i.at("postfit_down").get<double>() << "\n";
  }
  } catch (const json::exception& e) {
    std::string what = e.what();
    what = what.substr(std::min(what.size(), what.find(']') + 2));
    throw InputError(current, "", "not a refinery result of the expected kind: " + what);
  }
  if (found.empty())
    throw InputError(dir, "", "no results to report: none of fit_asimov.json, fit_toy.json, toys.csv.json, "
                              "impacts.json (and their _reference forms) is there; run refinery fit, toys or impacts first");
  std::cout << o.str();
  return 0;
}

}  // namespace refinery::cli
