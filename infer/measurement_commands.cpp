// `refinery toys --config EXPERIMENT.json`: pseudo-experiments from the
// simulator with full fits and intervals (coverage, width, bias, pulls, the
// challenge score; --shard i/N and --merge), and `refinery report`.
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
#include "infer/model_source.h"
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

std::shared_ptr<const LikelihoodModel> share(LikelihoodModel model) {
  return std::make_shared<const LikelihoodModel>(std::move(model));
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
      htautau::NuVector nu = htautau::truth_option(nus, seed, i);
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
