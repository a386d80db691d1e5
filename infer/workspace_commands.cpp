// `refinery fit|hypotest|limit` on HistFactory (pyhf JSON) workspaces, and
// `refinery inspect WORKSPACE.json`.
#include <chrono>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <sstream>

#include <ATen/Parallel.h>

#include "src/cli/options.h"
#include "src/config/schema.h"
#include "src/core/error.h"
#include "src/core/threads.h"
#include "src/histfactory/asymptotics.h"

namespace refinery::cli {

using namespace refinery::histfactory;
using nlohmann::json;

namespace {

void add_workspace_options(cxxopts::Options& options) {
  options.add_options("Workspace")("workspace", "pyhf JSON workspace", cxxopts::value<std::string>())(
      "patch", "JSON patch file applied to the workspace (repeatable)",
      cxxopts::value<std::vector<std::string>>())(
      "patchset", "HEPData patchset file", cxxopts::value<std::string>())(
      "patch-name", "Name of the patch in --patchset", cxxopts::value<std::string>())(
      "measurement", "Measurement name (default: the first)", cxxopts::value<std::string>()->default_value(""))(
      "interp", "Interpolation: default = code4 (pyhf's: normsys code4, histosys code4p) or code1 (normsys code1, histosys code0)",
      cxxopts::value<std::string>()->default_value("default"))("json", "Print JSON");
  options.parse_positional({"workspace"});
  options.positional_help("WORKSPACE");
}

InterpOptions interp_options(const std::string& s) {
  if (s == "default" || s == "code4") return {NormsysCode::kCode4, HistosysCode::kCode4p};
  if (s == "code1") return {NormsysCode::kCode1, HistosysCode::kCode0};
  throw InputError("", "--interp", "unknown interpolation '" + s + "' (known: default, code4, code1)");
}

std::string workspace_path(const cxxopts::ParseResult& r) {
  if (!r.count("workspace")) throw InputError("", "WORKSPACE", "no workspace file given");
  return r["workspace"].as<std::string>();
}

Workspace load_workspace(const cxxopts::ParseResult& r, const std::string& patch_name_override = "") {
  std::vector<std::string> patches;
  if (r.count("patch")) patches = r["patch"].as<std::vector<std::string>>();
  std::string patchset = r.count("patchset") ? r["patchset"].as<std::string>() : "";
  std::string name = !patch_name_override.empty() ? patch_name_override
                     : r.count("patch-name") ? r["patch-name"].as<std::string>() : "";
  return Workspace::load(workspace_path(r), patches, patchset, name);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

json vec(const Eigen::VectorXd& v) { return std::vector<double>(v.data(), v.data() + v.size()); }

std::string status_of(bool ok) { return ok ? "converged" : "failed"; }

// The model of a workspace with the measurement and interpolation options.
HistFactoryModel model_of(const Workspace& ws, const cxxopts::ParseResult& r) {
  return HistFactoryModel(ws, r["measurement"].as<std::string>(),
                          interp_options(r["interp"].as<std::string>()));
}

}  // namespace

int run_measurement_fit(int argc, char** argv);  // measurement_commands.cpp

int run_fit(int argc, char** argv) {
  // With --config: the experiment's profile-likelihood measurement.
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--config" || std::string(argv[i]).rfind("--config=", 0) == 0)
      return run_measurement_fit(argc, argv);
  cxxopts::Options options(argv[0], "Maximum-likelihood fit of a HistFactory workspace (refinery fit --config EXPERIMENT.json: the measurement)");
  add_workspace_options(options);
  add_common_options(options, false, false);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  set_threads(common.threads);
  auto t0 = std::chrono::steady_clock::now();
  HistFactoryModel model = model_of(load_workspace(*r), *r);
  FitResult f = fit(model, model.observed(), std::numeric_limits<double>::quiet_NaN(), nullptr, true);
  const double init_nll = 2.0 * model.nll(model.init(), model.observed());
  const double secs = seconds_since(t0);
  json out;
  out["poi"] = model.parameters()[model.poi_index()].name;
  out["parameters"] = model.parameter_names();
  out["bestfit"] = vec(f.x);
  out["errors"] = vec(f.errors);
  out["twice_nll"] = f.twice_nll;
  out["twice_nll_init"] = init_nll;
  out["status"] = status_of(f.minimizer.usable());
  out["message"] = f.minimizer.message;
  out["iterations"] = f.minimizer.iterations;
  out["seconds"] = secs;
  if (r->count("json")) {
    std::cout << out.dump() << "\n";
  } else {
    std::cout << "fit " << out["status"].get<std::string>() << " (" << f.minimizer.message << ") in "
              << f.minimizer.iterations << " iterations, " << secs << " s; -2 log L = "
              << std::setprecision(10) << f.twice_nll << "\n";
    for (size_t i = 0; i < model.parameters().size(); ++i)
      std::cout << "  " << std::left << std::setw(40) << model.parameters()[i].name << std::right
                << std::setw(14) << std::setprecision(6) << f.x[i] << " +- " << f.errors[i] << "\n";
  }
  return f.minimizer.usable() ? 0 : 1;
}

int run_hypotest(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Asymptotic CLs hypothesis test of a POI value on a workspace");
  add_workspace_options(options);
  options.add_options()("mu", "Tested POI value", cxxopts::value<double>()->default_value("1"))(
      "test-stat", "qtilde, q or q0", cxxopts::value<std::string>()->default_value("qtilde"))(
      "all", "With --patchset: test every patch, one JSON line each, in parallel");
  add_common_options(options, false, false);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  set_threads(common.threads);
  const double mu = (*r)["mu"].as<double>();
  const TestStat stat = parse_test_stat((*r)["test-stat"].as<std::string>());
  auto one = [&](const Workspace& ws) {
    auto t0 = std::chrono::steady_clock::now();
    HistFactoryModel model = model_of(ws, *r);
    AsymptoticCalculator calc(model, model.observed(), stat);
    HypotestResult h = calc.hypotest(mu);
    json out;
    out["poi"] = model.parameters()[model.poi_index()].name;
    out["mu"] = mu;
    out["test_stat"] = (*r)["test-stat"].as<std::string>();
    if (stat == TestStat::kQ0) {
      out["p0_obs"] = h.clsb;
      out["p0_exp"] = h.cls_exp;
    } else {
      out["cls_obs"] = h.cls;
      out["clsb_obs"] = h.clsb;
      out["clb_obs"] = h.clb;
      out["cls_exp"] = h.cls_exp;
    }
    out["status"] = status_of(h.converged);
    out["seconds"] = seconds_since(t0);
    return out;
  };
  if (r->count("all")) {
    if (!r->count("patchset")) throw InputError("", "--all", "needs --patchset");
    const std::string ps_file = (*r)["patchset"].as<std::string>();
    json patchset = read_json_file(ps_file);
    json base = read_json_file(workspace_path(*r));
    auto names = patch_names(patchset, ps_file);
    std::vector<std::string> lines(names.size());
    std::mutex error_mutex;
    std::string first_error;
    auto t0 = std::chrono::steady_clock::now();
    // One worker per thread, each with its own model (models are built in
    // under a millisecond; fits dominate).
    at::parallel_for(0, static_cast<int64_t>(names.size()), 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        try {
          json doc = apply_patch(base, patch_from_patchset(patchset, names[i], ps_file), ps_file);
          json out = one(Workspace::from_json(doc, workspace_path(*r)));
          out["patch"] = names[i];
          lines[i] = out.dump();
        } catch (const std::exception& ex) {
          std::lock_guard<std::mutex> lock(error_mutex);
          if (first_error.empty()) first_error = ex.what();
        }
      }
    });
    if (!first_error.empty()) throw InputError(first_error);
    for (const auto& l : lines) std::cout << l << "\n";
    if (!common.quiet)
      std::cerr << "hypotest: " << names.size() << " patches in " << seconds_since(t0) << " s\n";
    return 0;
  }
  json out = one(load_workspace(*r));
  if (r->count("json")) {
    std::cout << out.dump() << "\n";
  } else {
    std::cout << out.dump(2) << "\n";
  }
  return out["status"] == "converged" ? 0 : 1;
}

int run_limit(int argc, char** argv) {
  cxxopts::Options options(argv[0], "95% CLs upper limit on the POI (asymptotic, q~)");
  add_workspace_options(options);
  options.add_options()("level", "CLs level", cxxopts::value<double>()->default_value("0.05"));
  add_common_options(options, false, false);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  set_threads(common.threads);
  auto t0 = std::chrono::steady_clock::now();
  HistFactoryModel model = model_of(load_workspace(*r), *r);
  AsymptoticCalculator calc(model, model.observed(), TestStat::kQtilde);
  auto lim = calc.upper_limits((*r)["level"].as<double>());
  json out;
  out["poi"] = model.parameters()[model.poi_index()].name;
  out["upper_limit_obs"] = lim.observed;
  out["upper_limit_exp"] = lim.expected;
  bool ok = std::isfinite(lim.observed);
  for (double v : lim.expected) ok = ok && std::isfinite(v);
  out["status"] = ok ? "converged" : "failed: no CLs crossing inside the POI bounds";
  out["seconds"] = seconds_since(t0);
  std::cout << (r->count("json") ? out.dump() : out.dump(2)) << "\n";
  return ok ? 0 : 1;
}

int inspect_workspace(const std::string& path) {
  Workspace ws = Workspace::load(path);
  HistFactoryModel model(ws);
  std::cout << path << ": " << ws.channels.size() << " channels, " << model.samples() << " samples, "
            << model.bins() << " bins, " << model.parameters().size() << " parameters, POI "
            << model.parameters()[model.poi_index()].name << "\n";
  for (const auto& ch : ws.channels) {
    std::cout << "channel " << ch.name << " (" << ch.bins() << " bins)\n";
    for (const auto& s : ch.samples) {
      std::map<std::string, int> types;
      for (const auto& m : s.modifiers) types[m.type]++;
      std::cout << "  sample " << s.name << ":";
      for (const auto& [t, n] : types) std::cout << " " << n << " " << t;
      std::cout << "\n";
    }
  }
  return 0;
}

}  // namespace refinery::cli
