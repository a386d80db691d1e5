// `refinery fit|hypotest|limit` on HistFactory (pyhf JSON) workspaces, and
// `refinery inspect WORKSPACE.json`.
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <sstream>

#include <ATen/Parallel.h>

#include "src/cli/options.h"
#include "src/config/schema.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/core/threads.h"
#include "src/histfactory/hf_model.h"
#include "src/stats/fit.h"
#include "src/stats/hypotest.h"
#include "src/stats/workspace_model.h"

namespace refinery::cli {

using namespace refinery::histfactory;
using nlohmann::json;
using stats::TestStat;

namespace {

void add_workspace_options(cxxopts::Options& options) {
  options.add_options("Workspace")("workspace", "pyhf JSON workspace", cxxopts::value<std::string>())(
      "patch", "JSON patch file applied to the workspace (repeatable)",
      cxxopts::value<std::vector<std::string>>())(
      "patchset", "HEPData patchset file", cxxopts::value<std::string>())(
      "patch-name", "Name of the patch in --patchset", cxxopts::value<std::string>())(
      "skip-digest-check", "Apply a --patchset even if its digest of the background-only workspace differs")(
      "measurement", "Measurement name (default: the first)", cxxopts::value<std::string>()->default_value(""))(
      "interp", "Interpolation: default = code4 (pyhf's: normsys code4, histosys code4p) or code1 (normsys code1, histosys code0)",
      cxxopts::value<std::string>()->default_value("default"))(
      "poi-bounds", "Bounds of the POI as LO,HI (default: the workspace's)", cxxopts::value<std::string>())(
      "verbose", "Print notes on what the workspace holds but the model does not use")("json", "Print JSON");
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

bool verify_digest(const cxxopts::ParseResult& r) { return r.count("skip-digest-check") == 0; }

Workspace load_workspace(const cxxopts::ParseResult& r) {
  std::vector<std::string> patches;
  if (r.count("patch")) patches = r["patch"].as<std::vector<std::string>>();
  std::string patchset = r.count("patchset") ? r["patchset"].as<std::string>() : "";
  std::string name = r.count("patch-name") ? r["patch-name"].as<std::string>() : "";
  if (!name.empty() && patchset.empty()) throw InputError("", "--patch-name", "needs --patchset");
  return Workspace::load(workspace_path(r), patches, patchset, name, verify_digest(r));
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

json vec(const Eigen::VectorXd& v) { return std::vector<double>(v.data(), v.data() + v.size()); }

std::string status_of(bool ok) { return ok ? "converged" : "failed"; }

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

// The model of a workspace with the measurement, interpolation and POI
// bound options; notes go to stderr with --verbose.
HistFactoryModel model_of(const Workspace& ws, const cxxopts::ParseResult& r) {
  HistFactoryModel model(ws, r["measurement"].as<std::string>(), interp_options(r["interp"].as<std::string>()));
  if (r.count("poi-bounds")) {
    auto [lo, hi] = parse_bounds(r["poi-bounds"].as<std::string>());
    model.set_bounds(model.require_poi(), lo, hi);
  }
  if (r.count("verbose"))
    for (const auto& note : model.notes()) std::cerr << "note: " << ws.file << ": " << note << "\n";
  return model;
}

// Every attempt of the minimiser's globalisation, as the result reports it.
json attempts_json(const stats::FitResult& f) {
  json out = json::array();
  for (const auto& a : f.attempts)
    out.push_back({{"strategy", a.strategy}, {"converged", a.converged}, {"twice_nll", 2.0 * a.f}, {"edm", a.edm},
                   {"iterations", a.iterations}, {"message", a.message}});
  return out;
}

json poi_name(const HistFactoryModel& model) {
  return model.poi_index() < 0 ? json(nullptr) : json(model.parameters()[model.poi_index()].name);
}

void add_notes(json& out, const HistFactoryModel& model) {
  if (!model.notes().empty()) out["notes"] = model.notes();
}

// Writes a result to --out atomically (when given).
void write_out(const json& out, const CommonOptions& common) {
  if (!common.out.empty()) write_text_atomically(common.out, out.dump(2) + "\n");
}

// Prints a result (one JSON line with --json, indented otherwise) and writes it to --out.
void emit(const json& out, const cxxopts::ParseResult& r, const CommonOptions& common) {
  std::cout << (r.count("json") ? out.dump() : out.dump(2)) << "\n";
  write_out(out, common);
}

}  // namespace

int run_measurement_fit(int argc, char** argv);  // measurement_commands.cpp

int run_fit(int argc, char** argv) {
  // With --config: the experiment's profile-likelihood measurement.
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--config" || std::string(argv[i]).rfind("--config=", 0) == 0)
      return run_measurement_fit(argc, argv);
  cxxopts::Options options(argv[0],
                           "Maximum-likelihood fit: refinery fit WORKSPACE.json (a HistFactory / pyhf workspace) or "
                           "refinery fit --config EXPERIMENT.json (the experiment's measurement; see that form's options "
                           "with refinery fit --config EXPERIMENT.json --help)");
  add_workspace_options(options);
  add_common_options(options, false, true);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  set_threads(common.threads);
  auto t0 = std::chrono::steady_clock::now();
  const stats::WorkspaceModel model(std::make_shared<const HistFactoryModel>(model_of(load_workspace(*r), *r)));
  const HistFactoryModel& hf = model.histfactory();
  const stats::FitResult f = stats::fit(model);
  const double init_nll = 2.0 * model.nll(model.init());
  const double secs = seconds_since(t0);
  json out;
  out["poi"] = poi_name(hf);
  out["parameters"] = hf.parameter_names();
  out["bestfit"] = vec(f.x);
  out["errors"] = vec(f.error);
  out["twice_nll"] = f.twice_nll();
  out["twice_nll_init"] = init_nll;
  out["status"] = status_of(f.ok());
  out["message"] = f.reason;
  out["iterations"] = f.iterations;
  out["attempts"] = attempts_json(f);
  out["seconds"] = secs;
  add_notes(out, hf);
  if (r->count("json")) {
    emit(out, *r, common);
  } else {
    std::cout << "fit " << f.brief() << ", " << secs << " s; -2 log L = " << std::setprecision(10) << f.twice_nll()
              << "\n";
    for (size_t i = 0; i < hf.parameters().size(); ++i)
      std::cout << "  " << std::left << std::setw(40) << hf.parameters()[i].name << std::right
                << std::setw(14) << std::setprecision(6) << f.x[i] << " +- " << f.error[i] << "\n";
    write_out(out, common);
  }
  if (!f.ok())
    std::cerr << "refinery fit: error: " << workspace_path(*r) << ": the fit did not converge: " << f.reason << "\n";
  return f.ok() ? 0 : 1;
}

int run_hypotest(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Asymptotic CLs hypothesis test of a POI value on a workspace");
  add_workspace_options(options);
  options.add_options()("mu", "Tested POI value (inside the POI's bounds)", cxxopts::value<double>()->default_value("1"))(
      "test-stat", "qtilde, q or q0", cxxopts::value<std::string>()->default_value("qtilde"))(
      "all", "With --patchset: test every patch, one JSON line each, in parallel");
  add_common_options(options, false, true);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  set_threads(common.threads);
  const double mu = (*r)["mu"].as<double>();
  const TestStat stat = stats::parse_test_stat((*r)["test-stat"].as<std::string>());
  auto one = [&](const Workspace& ws) {
    auto t0 = std::chrono::steady_clock::now();
    HistFactoryModel hf = model_of(ws, *r);
    hf.require_poi();
    const stats::WorkspaceModel model(std::make_shared<const HistFactoryModel>(std::move(hf)));
    stats::check_poi_value(model, model.poi(), stat == TestStat::kQ0 ? 0.0 : mu,
                           stat == TestStat::kQ0 ? "--test-stat q0 (tests mu = 0)" : "--mu");
    stats::AsymptoticCalculator calc(model, model.poi(), stat);
    const stats::HypotestResult h = calc.hypotest(mu);
    json out;
    out["poi"] = poi_name(model.histfactory());
    out["mu"] = mu;
    out["test_stat"] = (*r)["test-stat"].as<std::string>();
    out["q_obs"] = h.q_obs;
    out["q_asimov"] = h.q_asimov;
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
    if (!h.converged) out["message"] = h.message;
    out["seconds"] = seconds_since(t0);
    add_notes(out, model.histfactory());
    return out;
  };
  if (r->count("all")) {
    if (!r->count("patchset")) throw InputError("", "--all", "needs --patchset");
    if (r->count("patch-name")) throw InputError("", "--all", "tests every patch: give --patch-name or --all, not both");
    const std::string ps_file = (*r)["patchset"].as<std::string>();
    json patchset = read_json_file(ps_file);
    json base = read_json_file(workspace_path(*r));
    if (verify_digest(*r)) verify_patchset_digest(patchset, base, ps_file, workspace_path(*r));
    auto names = patch_names(patchset, ps_file);
    std::vector<json> results(names.size());
    auto t0 = std::chrono::steady_clock::now();
    // One worker per thread, each with its own model (models are built in
    // under a millisecond; fits dominate). Every point gets a result line:
    // a bad patch or a failed fit is that point's status, not the batch's.
    at::parallel_for(0, static_cast<int64_t>(names.size()), 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        json out;
        try {
          json doc = apply_patch(base, patch_from_patchset(patchset, names[i], ps_file), ps_file);
          out = one(Workspace::from_json(doc, workspace_path(*r) + " + " + ps_file + " (" + names[i] + ")"));
        } catch (const InputError& ex) {
          out = json{{"status", "error"}, {"message", ex.what()}};
        } catch (const std::exception& ex) {
          out = json{{"status", "failed"}, {"message", std::string("internal error: ") + ex.what()}};
        }
        json line = {{"patch", names[i]}};
        line.update(out);
        results[i] = std::move(line);
      }
    });
    std::vector<std::string> bad_input, failed;
    json all = json::array();
    for (std::size_t i = 0; i < results.size(); ++i) {
      std::cout << results[i].dump() << "\n";
      all.push_back(results[i]);
      const std::string status = results[i]["status"].get<std::string>();
      if (status == "error") bad_input.push_back(names[i]);
      else if (status != "converged") failed.push_back(names[i]);
    }
    write_out(all, common);
    if (!common.quiet)
      std::cerr << "hypotest: " << names.size() << " patches in " << seconds_since(t0) << " s\n";
    auto list = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
      return s;
    };
    if (!bad_input.empty() || !failed.empty())
      std::cerr << "refinery hypotest: error: " << bad_input.size() + failed.size() << " of " << names.size()
                << " patches failed" << (bad_input.empty() ? "" : "; bad input: " + list(bad_input))
                << (failed.empty() ? "" : "; fit failed: " + list(failed)) << "\n";
    return !bad_input.empty() ? 2 : !failed.empty() ? 1 : 0;
  }
  json out = one(load_workspace(*r));
  emit(out, *r, common);
  if (out["status"] != "converged")
    std::cerr << "refinery hypotest: error: " << workspace_path(*r) << ": a fit did not converge: "
              << out.value("message", std::string()) << "\n";
  return out["status"] == "converged" ? 0 : 1;
}

int run_limit(int argc, char** argv) {
  cxxopts::Options options(argv[0], "95% CLs upper limit on the POI (asymptotic, q~)");
  add_workspace_options(options);
  options.add_options()("level", "CLs level", cxxopts::value<double>()->default_value("0.05"));
  add_common_options(options, false, true);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  set_threads(common.threads);
  const double level = (*r)["level"].as<double>();
  if (!(level > 0 && level < 1)) throw InputError("", "--level", "must lie in (0, 1)");
  auto t0 = std::chrono::steady_clock::now();
  HistFactoryModel hf = model_of(load_workspace(*r), *r);
  hf.require_poi();
  const stats::WorkspaceModel model(std::make_shared<const HistFactoryModel>(std::move(hf)));
  stats::AsymptoticCalculator calc(model, model.poi(), TestStat::kQtilde);
  auto lim = calc.upper_limits(level);
  json out;
  out["poi"] = poi_name(model.histfactory());
  out["upper_limit_obs"] = lim.observed;
  out["upper_limit_exp"] = lim.expected;
  bool ok = std::isfinite(lim.observed);
  for (double v : lim.expected) ok = ok && std::isfinite(v);
  out["status"] = ok ? "converged" : "failed";
  if (!ok) out["message"] = "no CLs crossing inside the POI bounds (widen them with --poi-bounds)";
  out["seconds"] = seconds_since(t0);
  add_notes(out, model.histfactory());
  emit(out, *r, common);
  if (!ok) std::cerr << "refinery limit: error: " << workspace_path(*r) << ": " << out["message"].get<std::string>() << "\n";
  return ok ? 0 : 1;
}

int inspect_workspace(const std::string& path) {
  Workspace ws = Workspace::load(path);
  HistFactoryModel model(ws);
  std::cout << path << ": " << ws.channels.size() << " channels, " << model.samples() << " samples, "
            << model.bins() << " bins, " << model.parameters().size() << " parameters, POI "
            << (model.poi_index() < 0 ? ws.measurement().poi + " (not defined: background-only)"
                                      : model.parameters()[model.poi_index()].name)
            << "\n";
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
  for (const auto& note : model.notes()) std::cout << "note: " << note << "\n";
  return 0;
}

}  // namespace refinery::cli
