// `refinery fit|scan|impacts|hypotest|limit`: one set of inference commands
// over the model interface, for a pyhf workspace (WORKSPACE.json) or an
// experiment's measurement (--config EXPERIMENT.json), with the same options
// and the same JSON keys (infer/model_source.h):
//   fit       MLE, Hessian errors, correlations, profiled 68.27% and 95% intervals of the POI
//   scan      t on a grid of the POI (or of two parameters: --poi2), the rest re-minimised
//   impacts   ranked nuisance impacts on the POI and its statistical-only error
//   hypotest  asymptotic CLs (q~, q) or p0 (q0), observed and expected
//   limit     CLs upper limits on the POI, observed and expected
// A fit that does not converge is a result with status "failed" and its
// reason, exit 1 with one line on stderr.
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>


#include "infer/model_source.h"
#include "infer/patch_hypotests.h"
#include "infer/scan_shards.h"
#include "infer/toy_hypotest.h"
#include "src/cli/job_array.h"
#include "src/config/schema.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/core/worker_threads.h"
#include "src/histfactory/hf_model.h"
#include "src/stats/fit.h"
#include "src/stats/hypotest.h"
#include "src/stats/impacts.h"
#include "src/stats/profile.h"
#include "src/stats/workspace_model.h"
#include "src/stats/yields.h"

namespace refinery::cli {

using nlohmann::json;
using stats::TestStat;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string fit_text(const ModelSource& s, const stats::FitResult& f) {
  std::ostringstream os;
  os << s.description << "\nfit: " << f.brief() << "\n" << std::setprecision(6);
  size_t width = 14;
  for (const auto& n : f.names) width = std::max(width, n.size() + 2);
  for (int i = 0; i < f.x.size(); ++i)
    os << "  " << std::left << std::setw(int(width)) << f.names[i] << std::right << std::setw(13) << f.x[i] << " +- "
       << f.error[i] << (f.held[i] ? "  (fixed)" : f.at_bound[i] ? "  (at bound)" : "") << "\n";
  return os.str();
}

// One line on stderr for a fit that failed; the exit code.
int report_failure(const char* command, const ModelSource& s, const stats::FitResult& f) {
  if (f.ok()) return 0;
  std::cerr << "refinery " << command << ": error: " << s.file << ": the fit did not converge: " << f.reason
            << (s.out.empty() ? "" : " (" + s.out + ")") << "\n";
  return 1;
}

// The MLE a scan or impacts starts from, recorded in `out`; a failed fit is
// written as the result (exit code in *exit_code) and false returned.
bool best_fit(const char* command, const ModelSource& s, const cxxopts::ParseResult& r, const CommonOptions& common,
              json* out, stats::FitResult* f, int* exit_code) {
  *f = stats::fit(*s.model);
  *out = s.header;
  (*out)["fit"] = f->to_json();
  if (f->ok()) return true;
  emit_result(*out, s, r, common, fit_text(s, *f));
  *exit_code = report_failure(command, s, *f);
  return false;
}

int require_poi(const ModelSource& s, const std::string& flag) {
  if (s.poi >= 0) return s.poi;
  if (s.workspace) static_cast<const stats::WorkspaceModel&>(*s.model).histfactory().require_poi();
  return s.model->poi("", flag);
}

std::vector<double> grid(const cxxopts::ParseResult& r, const char* points_flag, const char* range_flag,
                         const stats::Parameter& p, double centre, double error) {
  const int n = r[points_flag].as<int>();
  if (n < 2 || n > 100000) throw InputError("", std::string("--") + points_flag, "must lie in 2..100000");
  double lo = centre - 3 * (error > 0 ? error : 1.0), hi = centre + 3 * (error > 0 ? error : 1.0);
  const std::string range = r[range_flag].as<std::string>();
  if (!range.empty()) {
    const auto colon = range.find(':');
    try {
      if (colon == std::string::npos) throw std::invalid_argument("");
      std::size_t a = 0, b = 0;
      lo = std::stod(range.substr(0, colon), &a);
      hi = std::stod(range.substr(colon + 1), &b);
      if (a != colon || b != range.size() - colon - 1 || !std::isfinite(lo) || !std::isfinite(hi))
        throw std::invalid_argument("");
    } catch (const std::exception&) {
      throw InputError("", std::string("--") + range_flag, "expected LO:HI, got '" + range + "'");
    }
    if (!(lo < hi)) throw InputError("", std::string("--") + range_flag, "needs LO < HI");
  }
  lo = std::max(lo, p.lower);
  hi = std::min(hi, p.upper);
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(lo + (hi - lo) * i / (n - 1));
  return v;
}

// Expected yields per region and process: pre-fit (at the initial values)
// and, when the fit converged, post-fit (at the best fit).
json yields_json(const stats::Model& model, const stats::FitResult& f) {
  auto listing = [](const std::vector<stats::ProcessYields>& yields) {
    json a = json::array();
    for (const auto& y : yields) {
      double total = 0.0;
      for (double v : y.bins) total += v;
      a.push_back({{"region", y.region}, {"process", y.process}, {"bins", y.bins}, {"total", total}});
    }
    return a;
  };
  json j = {{"prefit", listing(model.expected_yields(model.init()))}};
  if (f.ok()) j["postfit"] = listing(model.expected_yields(f.x));
  return j;
}

}  // namespace

int run_fit(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Maximum-likelihood fit with profiled intervals of the POI: refinery fit WORKSPACE.json "
                           "(a pyhf workspace) or refinery fit --config EXPERIMENT.json (the experiment's measurement)");
  add_model_options(options);
  options.add_options()("no-interval", "Skip the profiled intervals")(
      "max-iterations", "Newton iterations allowed per fit", cxxopts::value<int>()->default_value("200"));
  add_common_options(options, true, true);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  auto t0 = std::chrono::steady_clock::now();
  ModelSource s = load_model_source(*r, common, "fit");
  const double setup = seconds_since(t0);
  stats::ProfileOptions opt;
  opt.fit.minimizer.max_iterations = (*r)["max-iterations"].as<int>();
  if (opt.fit.minimizer.max_iterations < 1) throw InputError("", "--max-iterations", "must be >= 1");
  auto t1 = std::chrono::steady_clock::now();
  const stats::FitResult f = stats::fit(*s.model, opt.fit);
  json out = s.header;
  out["fit"] = f.to_json();
  out["parameters"] = stats::parameter_table_json(*s.model);
  out["yields"] = yields_json(*s.model, f);
  std::string text = fit_text(s, f);
  if (f.ok() && s.poi >= 0 && !r->count("no-interval")) {
    for (double cl : {0.6827, 0.95}) {
      const stats::Interval in = stats::profile_interval(*s.model, f, s.poi, stats::chi2_level(cl), opt);
      out[cl < 0.9 ? "interval_68" : "interval_95"] = in.to_json();
      std::ostringstream line;
      line << "  " << (cl < 0.9 ? "68.27%" : "95%   ") << " profiled interval of " << in.parameter << ": ["
           << in.lower.value << ", " << in.upper.value << "]\n";
      text += line.str();
    }
  }
  out["seconds"] = {{"setup", setup}, {"fit_and_intervals", seconds_since(t1)}};
  emit_result(out, s, *r, common, text);
  return report_failure("fit", s, f);
}

int run_scan(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--merge") return run_scan_merge(argc, argv);
  cxxopts::Options options(argv[0],
                           "Profile-likelihood scan of the POI (or of two parameters with --poi2), the other free "
                           "parameters re-minimised at every point, with the profiled intervals");
  add_model_options(options);
  options.add_options()("points", "Scan points", cxxopts::value<int>()->default_value("21"))(
      "range", "Scan range LO:HI (default: the estimate -+ 3 errors)", cxxopts::value<std::string>()->default_value(""))(
      "poi2", "A second parameter: scan the grid of both", cxxopts::value<std::string>())(
      "points2", "Scan points of --poi2", cxxopts::value<int>()->default_value("11"))(
      "range2", "Scan range of --poi2", cxxopts::value<std::string>()->default_value(""))(
      "shard", "Scan shard i of N (i/N, 0-based): a contiguous block of the points (2D: of the rows of the first "
               "parameter); --merge joins the shards",
      cxxopts::value<std::string>()->default_value("0/1"));
  add_common_options(options, true, true);
  add_job_array_options(options);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  const cli::Shard part = cli::parse_shard((*r)["shard"].as<std::string>());
  if (job_array_requested(*r))
    return emit_job_array(*r, {"scan", ".json", {"scan", "--merge"}, common.out.empty() ? "scan.json" : common.out});
  ModelSource s = load_model_source(*r, common, "scan");
  const int a = require_poi(s, "--poi");
  const int b = r->count("poi2") ? s.model->poi((*r)["poi2"].as<std::string>(), "--poi2") : -1;
  if (b == a) throw InputError("", "--poi2", "names the scanned parameter itself");
  auto t0 = std::chrono::steady_clock::now();
  json out;
  stats::FitResult f;
  int exit_code = 0;
  if (!best_fit("scan", s, *r, common, &out, &f, &exit_code)) return exit_code;
  const auto& pars = s.model->parameters();
  const std::vector<double> va = grid(*r, "points", "range", pars[a], f.x[a], f.error[a]);
  const std::vector<double> vb = b < 0 ? std::vector<double>{} : grid(*r, "points2", "range2", pars[b], f.x[b], f.error[b]);
  if (part.count > int(va.size()))
    throw InputError("", "--shard", "more shards (" + std::to_string(part.count) + ") than " +
                                        (b < 0 ? "points (" : "rows of the first parameter (") +
                                        std::to_string(va.size()) + ")");
  // A contiguous block of the points (rows): the walk from the MLE stays warm.
  const stats::ScanRows rows = stats::ScanRows::block(va.size(), part.index, part.count);
  std::vector<stats::ScanPoint> points =
      b < 0 ? stats::profile_scan(*s.model, f, a, va, {}, rows) : stats::profile_scan_2d(*s.model, f, a, b, va, vb, {}, rows);
  json pts = json::array();
  const std::size_t per_row = b < 0 ? 1 : vb.size();
  for (std::size_t k = 0; k < points.size(); ++k) {
    if (!rows.contains(k / per_row)) continue;
    const auto& p = points[k];
    json point = {{"value", b < 0 ? json(p.values[0]) : json(p.values)}, {"t", p.t}, {"converged", p.converged}};
    if (!p.converged) point["reason"] = p.reason;
    pts.push_back(point);
  }
  out["scan"] = {{"parameters", b < 0 ? json{pars[a].name} : json{pars[a].name, pars[b].name}}, {"points", pts}};
  // The profiled intervals of a 1D scan: by the shard that holds the first block.
  if (b < 0 && part.index == 0) {
    out["interval_68"] = stats::profile_interval(*s.model, f, a, 1.0).to_json();
    out["interval_95"] = stats::profile_interval(*s.model, f, a, stats::chi2_level(0.95)).to_json();
  }
  out["description"] = s.description;
  if (b >= 0 && part.count == 1) add_scan_contours(out);
  if (part.count > 1)
    out["scan"]["shard"] = {{"shard", std::to_string(part.index) + "/" + std::to_string(part.count)},
                            {"model_digest", model_digest(*s.model)},
                            {"grid", b < 0 ? json{va} : json{va, vb}}};
  out["seconds"] = seconds_since(t0);
  emit_result(out, s, *r, common, scan_text(out));
  return 0;
}

int run_impacts(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Nuisance impacts on the POI: refits with each nuisance held at nu_hat +- its errors");
  add_model_options(options);
  add_common_options(options, true, true);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  ModelSource s = load_model_source(*r, common, "impacts");
  const int poi = require_poi(s, "--poi");
  auto t0 = std::chrono::steady_clock::now();
  json out;
  stats::FitResult f;
  int exit_code = 0;
  if (!best_fit("impacts", s, *r, common, &out, &f, &exit_code)) return exit_code;
  const stats::Impacts im = stats::compute_impacts(*s.model, f, poi);
  out["impacts"] = im.to_json();
  out["parameters"] = stats::parameter_table_json(*s.model);
  out["seconds"] = seconds_since(t0);
  emit_result(out, s, *r, common, s.description + "\n" + im.table());
  return 0;
}

namespace {

json hypotest_json(const ModelSource& s, double mu, TestStat stat, const std::string& stat_name) {
  auto t0 = std::chrono::steady_clock::now();
  const int poi = require_poi(s, "--poi");
  stats::check_poi_value(*s.model, poi, stat == TestStat::kQ0 ? 0.0 : mu,
                         stat == TestStat::kQ0 ? "--test-stat q0 (tests mu = 0)" : "--mu");
  stats::AsymptoticCalculator calc(*s.model, poi, stat);
  const stats::HypotestResult h = calc.hypotest(mu);
  json out = s.header;
  out["mu"] = mu;
  out["test_stat"] = stat_name;
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
  out["status"] = h.converged ? "converged" : "failed";
  if (!h.converged) out["message"] = h.message;
  out["seconds"] = seconds_since(t0);
  return out;
}

}  // namespace

std::vector<json> hypotest_patches(const cxxopts::ParseResult& r, const json& patchset, const json& base,
                                   const std::string& ps_file, const std::vector<std::string>& names, double mu,
                                   TestStat stat, const std::string& stat_name) {
  std::vector<json> results(names.size());
  // One worker per thread, each with its own model (models are built in
  // under a millisecond; fits dominate). Every point gets a result line:
  // a bad patch or a failed fit is that point's status, not the batch's.
  parallel_for(static_cast<std::int64_t>(names.size()), [&](std::int64_t i) {
    json out;
    try {
      json doc = histfactory::apply_patch(base, histfactory::patch_from_patchset(patchset, names[i], ps_file), ps_file);
      const ModelSource s = workspace_source(
          histfactory::Workspace::from_json(doc, workspace_path(r) + " + " + ps_file + " (" + names[i] + ")"), r);
      out = hypotest_json(s, mu, stat, stat_name);
      out.erase("workspace");
    } catch (const InputError& ex) {
      out = json{{"status", "error"}, {"message", ex.what()}};
    } catch (const std::exception& ex) {
      out = json{{"status", "failed"}, {"message", std::string("internal error: ") + ex.what()}};
    }
    json line = {{"patch", names[i]}};
    line.update(out);
    results[i] = std::move(line);
  });
  return results;
}

int report_patch_failures(const std::string& command, const std::vector<std::string>& names,
                          const std::vector<std::string>& bad_input, const std::vector<std::string>& failed,
                          const std::string& what) {
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  if (!bad_input.empty() || !failed.empty())
    std::cerr << "refinery " << command << ": error: " << bad_input.size() + failed.size() << " of " << names.size()
              << " " << what << (bad_input.empty() ? "" : "; bad input: " + list(bad_input))
              << (failed.empty() ? "" : "; fit failed: " + list(failed)) << "\n";
  return !bad_input.empty() ? 2 : !failed.empty() ? 1 : 0;
}

int run_hypotest(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--merge") return run_hypotest_merge(argc, argv);
  cxxopts::Options options(argv[0],
                           "CLs hypothesis test of a POI value (or p0 with q0), asymptotic or from pseudo-experiments "
                           "(pyhf's conventions)");
  add_model_options(options);
  options.add_options()("mu", "Tested POI value (inside the POI's bounds)", cxxopts::value<double>()->default_value("1"))(
      "test-stat", "qtilde, q or q0", cxxopts::value<std::string>()->default_value("qtilde"))(
      "all", "With --patchset: test every patch, one JSON line each, in parallel");
  add_toy_hypotest_options(options);
  add_common_options(options, true, true);
  add_job_array_options(options);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  const double mu = (*r)["mu"].as<double>();
  const std::string stat_name = (*r)["test-stat"].as<std::string>();
  const TestStat stat = stats::parse_test_stat(stat_name);
  const bool toys = toy_calculator_requested(*r);
  if (job_array_requested(*r)) {
    if (!toys) throw InputError("", "--emit", "shards the pseudo-experiments of --calculator toybased");
    return emit_job_array(*r, {"hypotest", ".json", {"hypotest", "--merge"},
                               common.out.empty() ? "hypotest.json" : common.out});
  }
  if (toys && r->count("all"))
    throw InputError("", "--all", "tests every patch asymptotically; run the toy-based test one patch at a time");
  if (r->count("all")) {
    if (!r->count("patchset")) throw InputError("", "--all", "needs --patchset");
    if (r->count("patch-name")) throw InputError("", "--all", "tests every patch: give --patch-name or --all, not both");
    for (const char* flag : {"asimov", "toy", "data"})
      if (r->count(flag)) throw InputError("", std::string("--") + flag, "--all tests each patch's observed data");
    set_worker_threads(common.threads);
    const std::string ps_file = (*r)["patchset"].as<std::string>();
    json patchset = read_json_file(ps_file);
    json base = read_json_file(workspace_path(*r));
    if (verify_digest(*r)) histfactory::verify_patchset_digest(patchset, base, ps_file, workspace_path(*r));
    auto names = histfactory::patch_names(patchset, ps_file);
    auto t0 = std::chrono::steady_clock::now();
    const std::vector<json> results = hypotest_patches(*r, patchset, base, ps_file, names, mu, stat, stat_name);
    std::vector<std::string> bad_input, failed;
    json all = json::array();
    for (std::size_t i = 0; i < results.size(); ++i) {
      std::cout << results[i].dump() << "\n";
      all.push_back(results[i]);
      const std::string status = results[i]["status"].get<std::string>();
      if (status == "error") bad_input.push_back(names[i]);
      else if (status != "converged") failed.push_back(names[i]);
    }
    if (!common.out.empty()) write_text_atomically(common.out, all.dump(2) + "\n");
    if (!common.quiet) std::cerr << "hypotest: " << names.size() << " patches in " << seconds_since(t0) << " s\n";
    return report_patch_failures("hypotest", names, bad_input, failed, "patches failed");
  }
  ModelSource s = load_model_source(*r, common, "hypotest");
  std::string text;
  const json out = toys ? toy_hypotest_json(s, *r, mu, stat, stat_name, common.threads, common.quiet || r->count("json"), &text)
                        : hypotest_json(s, mu, stat, stat_name);
  emit_result(out, s, *r, common, text);
  if (out["status"] != "converged")
    std::cerr << "refinery hypotest: error: " << s.file << ": a fit did not converge: "
              << out.value("message", std::string()) << "\n";
  return out["status"] == "converged" ? 0 : 1;
}

namespace {

// LO:HI:N as N equally spaced values.
std::vector<double> parse_scan(const std::string& spec) {
  double lo = 0, hi = 0;
  int n = 0;
  std::istringstream in(spec);
  char c1 = 0, c2 = 0;
  if (!(in >> lo >> c1 >> hi >> c2 >> n) || c1 != ':' || c2 != ':' || !in.eof() || !(lo < hi) || n < 2 || n > 10000)
    throw InputError("", "--scan", "expected LO:HI:N with LO < HI and 2 <= N <= 10000, got '" + spec + "'");
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(lo + (hi - lo) * i / (n - 1));
  return v;
}

}  // namespace

int run_limit(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "CLs upper limits on the POI (q~), observed and expected: asymptotic, or from "
                           "pseudo-experiments on a scan (--calculator toybased --scan LO:HI:N)");
  add_model_options(options);
  options.add_options()("level", "CLs level (0.05: 95% CL)", cxxopts::value<double>()->default_value("0.05"))(
      "scan", "Also CLs observed and expected at N POI values in [LO, HI] (LO:HI:N): the Brazil band "
      "(refinery plot brazil); the toy-based limit's points", cxxopts::value<std::string>());
  add_toy_limit_options(options);
  add_common_options(options, true, true);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  const double level = (*r)["level"].as<double>();
  if (!(level > 0 && level < 1)) throw InputError("", "--level", "must lie in (0, 1)");
  const std::vector<double> mus = r->count("scan") ? parse_scan((*r)["scan"].as<std::string>()) : std::vector<double>{};
  const bool toys = toy_calculator_requested(*r);
  if (toys && mus.empty())
    throw InputError("", "--calculator", "a toy-based limit is read off a scan: give --scan LO:HI:N");
  ModelSource s = load_model_source(*r, common, "limit");
  const int poi = require_poi(s, "--poi");
  if (toys) {
    std::string text;
    const json out = toy_limit_json(s, *r, level, mus, common.threads, common.quiet || r->count("json"), &text);
    emit_result(out, s, *r, common, text);
    const bool ok = out["status"] == "converged";
    if (!ok) std::cerr << "refinery limit: error: " << s.file << ": " << out["message"].get<std::string>() << "\n";
    return ok ? 0 : 1;
  }
  auto t0 = std::chrono::steady_clock::now();
  stats::AsymptoticCalculator calc(*s.model, poi, TestStat::kQtilde);
  const auto lim = calc.upper_limits(level);
  json out = s.header;
  out["level"] = level;
  out["upper_limit_obs"] = lim.observed;
  out["upper_limit_exp"] = lim.expected;
  bool ok = std::isfinite(lim.observed);
  for (double v : lim.expected) ok = ok && std::isfinite(v);
  if (!mus.empty()) {
    json points = json::array();
    for (double mu : mus) {
      stats::check_poi_value(*s.model, poi, mu, "--scan");
      const stats::HypotestResult h = calc.hypotest(mu);
      points.push_back({{"mu", mu}, {"cls_obs", h.cls}, {"cls_exp", h.cls_exp}, {"converged", h.converged}});
    }
    out["scan"] = points;
  }
  out["status"] = ok ? "converged" : "failed";
  if (!ok) out["message"] = "no CLs crossing inside the POI bounds (widen them with --poi-bounds)";
  out["seconds"] = seconds_since(t0);
  emit_result(out, s, *r, common, "");
  if (!ok) std::cerr << "refinery limit: error: " << s.file << ": " << out["message"].get<std::string>() << "\n";
  return ok ? 0 : 1;
}

}  // namespace refinery::cli
