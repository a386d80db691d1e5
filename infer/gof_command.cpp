// `refinery gof`: goodness of fit of any model (src/stats/goodness_of_fit.h):
// the saturated-model statistic per region and in total, its distribution
// from pseudo-experiments at the best fit, and the p-values. For a pyhf
// workspace (WORKSPACE.json) or an experiment (--config), with the data
// options of `fit`.
#include <chrono>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <sstream>

#include "infer/model_source.h"
#include "src/core/error.h"
#include "src/core/progress.h"
#include "src/core/worker_threads.h"
#include "src/stats/goodness_of_fit.h"

namespace refinery::cli {

using nlohmann::json;

namespace {

std::string gof_text(const ModelSource& s, const stats::GofResult& g) {
  std::ostringstream os;
  os << s.description << "\n" << std::setprecision(4);
  os << "goodness of fit (saturated model), " << g.ntoys << " pseudo-experiments at the best fit";
  if (!g.failures.empty()) os << " (" << g.failures.size() << " failed to fit, left out)";
  os << "\n";
  std::size_t w = 10;
  for (const auto& r : g.observed.regions) w = std::max(w, r.size() + 2);
  os << std::left << std::setw(int(w)) << "region" << std::right << std::setw(6) << "bins" << std::setw(12) << "q_obs"
     << std::setw(20) << "p-value" << "\n";
  auto p = [](double v, double e) {
    std::ostringstream c;
    c << std::setprecision(3) << v << " +- " << std::setprecision(2) << e;
    return c.str();
  };
  for (std::size_t k = 0; k < g.observed.regions.size(); ++k)
    os << std::left << std::setw(int(w)) << g.observed.regions[k] << std::right << std::setw(6)
       << g.observed.region_bins[k] << std::setw(12) << g.observed.region_q[k] << std::setw(20)
       << p(g.region_p[k], g.region_p_error[k]) << "\n";
  if (g.observed.constraint_q != 0.0)
    os << std::left << std::setw(int(w)) << "constraints" << std::right << std::setw(6) << "" << std::setw(12)
       << g.observed.constraint_q << "\n";
  int bins = 0;
  for (int b : g.observed.region_bins) bins += b;
  os << std::left << std::setw(int(w)) << "total" << std::right << std::setw(6) << bins << std::setw(12)
     << g.observed.total << std::setw(20) << p(g.p_value, g.p_error) << "\n";
  return os.str();
}

}  // namespace

int run_gof(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Goodness of fit: the saturated-model statistic per region and in total, with p-values from "
                           "pseudo-experiments at the best fit: refinery gof WORKSPACE.json or refinery gof --config "
                           "EXPERIMENT.json");
  add_model_options(options);
  options.add_options()("ntoys", "Pseudo-experiments for the p-values", cxxopts::value<std::int64_t>()->default_value("500"));
  add_common_options(options, true, true);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  const std::int64_t ntoys = (*r)["ntoys"].as<std::int64_t>();
  if (ntoys < 0 || ntoys > 100000000) throw InputError("", "--ntoys", "must lie in 0..1e8");
  ModelSource s = load_model_source(*r, common, "gof");
  // The workspace engine runs toys side by side; an experiment's model
  // evaluates its events on LibTorch's threads, one toy at a time.
  set_worker_threads(s.workspace ? common.threads : 1);
  std::uint64_t seed = 0;
  if (s.config) seed = s.config->document.value("seed", std::uint64_t(0));
  if (common.seed) seed = *common.seed;
  const auto t0 = std::chrono::steady_clock::now();
  Progress progress("gof toys", ntoys, common.quiet || r->count("json"), 5.0);
  std::mutex lock;
  const stats::GofResult g = stats::goodness_of_fit(*s.model, ntoys, seed, [&](std::int64_t done, std::int64_t) {
    std::lock_guard<std::mutex> guard(lock);
    progress.update(done);
  });
  progress.finish();
  json out = s.header;
  out["fit"] = g.fit.to_json();
  if (g.ok()) {
    out["gof"] = g.to_json();
    out["gof"]["seed"] = seed;
  }
  out["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  emit_result(out, s, *r, common, g.ok() ? gof_text(s, g) : s.description + "\nfit: " + g.fit.brief() + "\n");
  if (g.ok()) return 0;
  std::cerr << "refinery gof: error: " << s.file << ": the fit did not converge: " << g.fit.reason
            << (s.out.empty() ? "" : " (" + s.out + ")") << "\n";
  return 1;
}

}  // namespace refinery::cli
