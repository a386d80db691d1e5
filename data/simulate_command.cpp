// `refinery simulate`: the embedded default data.
//   refinery simulate --config experiments/htautau.json --out DIR
//       nominal.h5 (+ variations.h5 when the config lists variation points; mc.h5 and classifier.h5 when
//       simulation.mc_events and classifier_events ask for them)
//       and simulation.json (yields, migrations, config hash, seed) in DIR
//   refinery simulate htautau --events N --seed S --nu tes=1,jes=-0.5 --out file.h5
//       one sample at one nu point
//   refinery simulate htautau --pseudo-data [--mu M --nu ... | --draw-truth] --index I --out f.h5
//       one Poisson pseudo-experiment (truth in f.h5.json)
//   refinery simulate inferno|dcr_toy_1d|dcr_toy_3d|gaussian_latent --events N --out f.h5
#include <filesystem>

#include <iostream>
#include <optional>

#include "data/analytic/analytic_simulate.h"
#include "data/random.h"
#include "data/generators.h"
#include "data/htautau/htautau_simulation.h"
#include "src/cli/options.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/core/output_directory.h"
#include "src/io/event_writer.h"

namespace refinery::cli {

namespace {

// Re-raises a nuisance error found in the config under the config's file and
// key path: the message without the `where` prefix nu_from_map gave it.
[[noreturn]] void rethrow_in_config(const InputError& e, const std::string& where,
                                    const ExperimentConfig& config, const std::string& key) {
  std::string what = e.what();
  const std::string prefix = where + ": ";
  if (!where.empty() && what.rfind(prefix, 0) == 0) what = what.substr(prefix.size());
  throw ConfigError(config.file, key, what);
}

std::vector<htautau::NuVector> config_variations(const ExperimentConfig& config) {
  const auto& sim = config.section("simulation");
  std::vector<htautau::NuVector> points;
  const auto& list = sim.at("variations");
  for (size_t i = 0; i < list.size(); ++i) {
    std::map<std::string, double> values = list[i].get<std::map<std::string, double>>();
    try {
      points.push_back(htautau::nu_from_map(values, ""));
    } catch (const InputError& e) {
      rethrow_in_config(e, "", config, "simulation.variations[" + std::to_string(i) + "]");
    }
  }
  const auto& grid = sim.at("variation_grid");
  std::vector<std::string> names = grid.at("nuisances").get<std::vector<std::string>>();
  try {
    auto g = htautau::variation_grid(names, grid.at("step").get<double>(),
                                     grid.at("max_l1").get<double>());
    points.insert(points.end(), g.begin(), g.end());
  } catch (const InputError& e) {
    rethrow_in_config(e, "variation_grid.nuisances", config, "simulation.variation_grid.nuisances");
  }
  return points;
}

}  // namespace

int run_simulate_theory(int argc, char** argv);  // theory_simulate_command.cpp

int run_simulate(int argc, char** argv) {
  // The theory simulator's samples are not event files of an experiment: their own options.
  if (argc > 1 && std::string(argv[1]) == "theory") return run_simulate_theory(argc, argv);
  cxxopts::Options options(argv[0], "Generate events into HDF5 event files");
  options.add_options()("generator",
                        "htautau, inferno, dcr_toy_1d, dcr_toy_3d, gaussian_latent (default: the config's simulation.generator); theory (refinery simulate theory --help)",
                        cxxopts::value<std::string>())(
      "events", "Produced events (quick form; default: the config's simulation.events)",
      cxxopts::value<int64_t>())("nu", "Nuisance point, e.g. tes=1,jes=-0.5",
                                 cxxopts::value<std::string>()->default_value(""))(
      "luminosity", "fb^-1 (default: the config's)", cxxopts::value<double>())(
      "pseudo-data", "Write one Poisson pseudo-experiment (weights 1)")(
      "mu", "True signal strength of the pseudo-experiment",
      cxxopts::value<double>()->default_value("1"))(
      "draw-truth", "Draw mu and nu as the challenge does, from (seed, index)")(
      "index", "Pseudo-experiment index", cxxopts::value<uint64_t>()->default_value("0"))(
      "benchmark", "INFERNO benchmark 0-4", cxxopts::value<int>()->default_value("0"));
  add_common_options(options);
  options.parse_positional({"generator"});
  options.positional_help("[GENERATOR]");
  auto result = parse(options, argc, argv);
  if (!result) return 0;
  CommonOptions common = common_options(*result);
  ExperimentConfig config = setup_experiment(common);
  const auto& sim = config.section("simulation");
  std::string generator = result->count("generator") ? (*result)["generator"].as<std::string>()
                                                      : sim.at("generator").get<std::string>();
  if (result->count("generator")) generators::check(generator, "", "GENERATOR");
  else generators::check(generator, config.file, "simulation.generator");
  htautau::SimulationOptions opt;
  opt.seed = config.document.at("seed").get<uint64_t>();
  opt.luminosity = result->count("luminosity") ? (*result)["luminosity"].as<double>()
                                               : sim.at("luminosity").get<double>();
  opt.events = result->count("events") ? (*result)["events"].as<int64_t>()
                                       : sim.at("events").get<int64_t>();
  opt.chunk_events = sim.at("chunk_events").get<int64_t>();
  opt.compression = sim.at("compression").get<int>();
  opt.config_hash = config.hash;
  opt.quiet = common.quiet;
  if (opt.events <= 0)
    throw InputError("", "--events", "must be a positive number of events, got " + std::to_string(opt.events));
  if (!(opt.luminosity > 0)) throw InputError("", "--luminosity", "must be positive");
  if (common.out.empty()) throw InputError("", "--out", "no output path given");

  if (generator != "htautau") {
    analytic::simulate_to_file(generator, opt.events, opt.seed, (*result)["benchmark"].as<int>(),
                               (*result)["nu"].as<std::string>(), config.hash, common.out);
    std::cout << "wrote " << common.out << "\n";
    return 0;
  }
  htautau::NuVector nu = htautau::parse_nu((*result)["nu"].as<std::string>(), "--nu");

  if (result->count("pseudo-data")) {
    uint64_t index = (*result)["index"].as<uint64_t>();
    double mu = (*result)["mu"].as<double>();
    if (result->count("draw-truth")) std::tie(mu, nu) = htautau::draw_truth(opt.seed, index);
    auto pe = htautau::pseudo_experiment(mu, nu, opt.luminosity, opt.seed, index);
    write_events(common.out, pe.events, htautau::event_meta(opt, false));
    nlohmann::json truth = pe.truth();
    truth["config_hash"] = config.hash;
    write_text_atomically(common.out + ".json", truth.dump(2) + "\n");
    if (!common.quiet) std::cout << truth.dump(2) << "\n";
    return 0;
  }

  const bool quick = result->count("events") || result->count("generator") || !(*result)["nu"].as<std::string>().empty();
  htautau::SimulationReport report;
  std::optional<htautau::SimulationReport> classifier_report;  // classifier.h5, when the config asks for it
  std::string summary_path;
  std::optional<OutputDirectory> out_dir;  // removed again if empty when the simulation fails
  if (quick && common.config_path.empty()) {
    // One sample at one nu point.
    if (htautau::is_nominal(nu)) {
      report = htautau::simulate_samples(opt, {}, common.out, "");
    } else {
      report = htautau::simulate_samples(opt, {nu}, "", common.out);
      report.nominal = report.variations.front();
      report.variations.clear();
    }
    summary_path = common.out + ".json";
  } else {
    auto points = config_variations(config);
    // Checked before anything is simulated or created.
    const std::vector<double> mc_shares = htautau::parse_shares(sim.at("mc_shares"), config.file, "simulation.mc_shares");
    const auto mc_thinning = htautau::parse_thinning(sim.at("mc_thinning"), config.file, "simulation.mc_thinning");
    const auto mc_enhancement =
        htautau::parse_enhancement(sim.at("mc_enhancement"), config.file, "simulation.mc_enhancement");
    htautau::NuVector mc_nu{};
    try {
      mc_nu = htautau::nu_from_map(sim.at("mc_nu").get<std::map<std::string, double>>(), "");
    } catch (const InputError& e) {
      rethrow_in_config(e, "", config, "simulation.mc_nu");
    }
    opt.shares = htautau::parse_shares(sim.at("shares"), config.file, "simulation.shares");
    out_dir.emplace(common.out, "--out");
    if (!htautau::is_nominal(nu)) points.insert(points.begin(), nu);
    report = htautau::simulate_samples(opt, points, common.out + "/nominal.h5",
                                       common.out + "/variations.h5");
    summary_path = common.out + "/simulation.json";
    // An independent nominal sample for the likelihood's expected yields.
    const int64_t mc_events = sim.at("mc_events").get<int64_t>();
    if (mc_events > 0) {
      htautau::SimulationOptions mc = opt;
      mc.events = mc_events;
      mc.seed = stream_seed(opt.seed, {0x3c5a3b1e});
      mc.shares = mc_shares;
      mc.thinning = mc_thinning;
      mc.enhancement = mc_enhancement;
      htautau::SimulationReport r = htautau::is_nominal(mc_nu)
                                        ? htautau::simulate_samples(mc, {}, common.out + "/mc.h5", "")
                                        : htautau::simulate_samples(mc, {mc_nu}, "", common.out + "/mc.h5");
      if (!common.quiet)
        std::cout << "expected-yield sample mc.h5: " << r.produced << " events produced in " << r.seconds << " s\n";
    }
    // An independent nominal sample for the classifier's training alone.
    const int64_t classifier_events = sim.value("classifier_events", int64_t(0));
    if (classifier_events > 0) {
      htautau::SimulationOptions c = opt;
      c.events = classifier_events;
      c.seed = stream_seed(opt.seed, {0xc1a55e7e});
      classifier_report = htautau::simulate_samples(c, {}, common.out + "/classifier.h5", "");
      if (!common.quiet)
        std::cout << "classifier training sample classifier.h5: " << classifier_report->produced
                  << " events produced in " << classifier_report->seconds << " s\n";
    }
  }
  nlohmann::json j = report.to_json();
  if (classifier_report) {
    j["classifier"] = classifier_report->to_json();
    j["classifier"].erase("variations");
  }
  j["config_hash"] = config.hash;
  j["seed"] = opt.seed;
  j["luminosity"] = opt.luminosity;
  write_text_atomically(summary_path, j.dump(2) + "\n");
  if (out_dir) out_dir->commit();
  if (!common.quiet) {
    std::cout << "yields after preselection at " << opt.luminosity << " fb^-1 (" << report.produced
              << " events produced in " << report.seconds << " s)\n"
              << report.table() << "wrote " << common.out << "\n";
  }
  return 0;
}

}  // namespace refinery::cli
