// `refinery surrogate eval SURROGATE.onnx (--yields S1,S2,... | --workspace
// BKG.json --patchset PS.json [--exact])`: CLs at mu = 1 and 95% CLs
// upper limits from a likelihood surrogate (src/stats/yield_surrogate.h),
// through the asymptotic calculator of every other model, for a signal
// given by its yields in the surrogate's bins or by the patches of a
// patchset (their POI-scaled samples' nominal yields). With --exact the
// same numbers from the exact likelihood the surrogate learned (the
// workspace with the signal's nominal yields and no signal modifiers,
// src/stats/signal_yield_likelihood.h) beside them, and a summary of the
// differences. Each line also gives the spread of the observed limit over
// the ensemble's members, and a warning when a limit lies beyond the
// training points' range. LibTorch-free: runs in the front end.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "infer/model_source.h"
#include "infer/surrogate_signals.h"
#include "src/cli/command.h"
#include "src/cli/options.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/core/text.h"
#include "src/core/worker_threads.h"
#include "src/stats/hypotest.h"
#include "src/stats/signal_yield_likelihood.h"
#include "src/stats/yield_surrogate.h"

namespace refinery::cli {

using nlohmann::json;

namespace {

struct Numbers {
  double cls = NAN;
  std::array<double, 5> cls_exp{NAN, NAN, NAN, NAN, NAN};
  double limit = NAN;
  std::array<double, 5> limit_exp{NAN, NAN, NAN, NAN, NAN};
  double seconds = 0;
};

Numbers numbers(const stats::Model& model) {
  const auto t0 = std::chrono::steady_clock::now();
  stats::AsymptoticCalculator calc(model, model.poi(), stats::TestStat::kQtilde);
  Numbers n;
  if (model.parameters()[model.poi()].upper >= 1.0) {
    const auto h = calc.hypotest(1.0);
    n.cls = h.cls;
    n.cls_exp = h.cls_exp;
  }
  const auto l = calc.upper_limits(0.05);
  n.limit = l.observed;
  n.limit_exp = l.expected;
  n.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return n;
}

json to_json(const Numbers& n) {
  auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  json e = json::array(), le = json::array();
  for (int i = 0; i < 5; ++i) {
    e.push_back(num(n.cls_exp[i]));
    le.push_back(num(n.limit_exp[i]));
  }
  return {{"cls", num(n.cls)}, {"cls_expected", e}, {"limit", num(n.limit)}, {"limit_expected", le}, {"seconds", n.seconds}};
}

std::vector<stats::TemplateBin> bins_of(const stats::YieldSurrogateSpec& spec, const histfactory::Workspace& ws,
                                        const std::string& file) {
  std::vector<stats::TemplateBin> out;
  for (const auto& name : spec.bins) {
    const auto one = stats::parse_signal_template(ws, {name}, file + ": metadata_props.inputs");
    if (one.size() != 1 || one[0].name() != name)
      throw InputError(file, "metadata_props.inputs", "bin '" + name + "' names more than one bin of the workspace");
    out.push_back(one[0]);
  }
  return out;
}

}  // namespace

int run_surrogate_eval(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "CLs and 95% CLs upper limits from a likelihood surrogate: refinery surrogate eval "
                           "SURROGATE.onnx --yields S1,S2,... or --workspace BKG.json --patchset PS.json [--exact]");
  add_model_options(options, false);
  options.add_options()("what", "eval", cxxopts::value<std::string>())("surrogate", "The surrogate (ONNX, refinery surrogate train)", cxxopts::value<std::string>())(
      "yields", "The signal's yields in the surrogate's bins (comma-separated, in the order of its inputs)",
      cxxopts::value<std::string>())("exact", "Also the exact likelihood's numbers (needs --workspace)");
  add_common_options(options, false, true);
  options.parse_positional({"what", "surrogate"});
  options.positional_help("SURROGATE.onnx");
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  if (!r->count("surrogate")) throw InputError("", "SURROGATE.onnx", "the surrogate to evaluate");
  for (const char* flag : {"asimov", "toy", "data", "poi-bounds", "mu-true", "nu-true"})
    if (r->count(flag)) throw InputError("", std::string("--") + flag, "a surrogate evaluates the observed data it learned");
  const bool with_yields = r->count("yields") > 0;
  if (with_yields == (r->count("patchset") + r->count("patch") > 0))
    throw InputError("", "--yields", "give the signal either as --yields or as --patchset/--patch with --workspace");
  if (!with_yields && !r->count("workspace"))
    throw InputError("", "--workspace", "the background-only workspace the patches apply to");
  if (r->count("exact") && !r->count("workspace"))
    throw InputError("", "--exact", "needs --workspace (the exact likelihood)");
  set_worker_threads(common.threads);
  const std::string file = (*r)["surrogate"].as<std::string>();
  const auto surrogate = stats::YieldSurrogate::load(file);
  const auto& spec = surrogate->spec();
  const int K = surrogate->dimension();

  struct Signal {
    std::string name;
    Eigen::VectorXd s;
  };
  std::vector<Signal> signals;
  std::unique_ptr<histfactory::Workspace> background;
  std::vector<stats::TemplateBin> bins;
  if (r->count("workspace")) {
    background = std::make_unique<histfactory::Workspace>(background_workspace(*r));
    bins = bins_of(spec, *background, file);
  }
  const std::string measurement = (*r)["measurement"].as<std::string>();
  if (with_yields) {
    const auto items = split((*r)["yields"].as<std::string>());
    if (int(items.size()) != K)
      throw InputError("", "--yields", std::to_string(items.size()) + " values for the surrogate's " + std::to_string(K) + " bins (" + join(spec.bins) + ")");
    Eigen::VectorXd s(K);
    for (int k = 0; k < K; ++k) {
      char* end = nullptr;
      s[k] = std::strtod(items[k].c_str(), &end);
      if (items[k].empty() || *end != '\0' || !std::isfinite(s[k]) || s[k] < 0)
        throw InputError("", "--yields", "'" + items[k] + "' is not a finite yield >= 0");
    }
    signals.push_back({"yields", s});
  } else {
    for (const auto& sw : signal_workspaces(*r)) {
      double outside = 0.0;
      Eigen::VectorXd s = stats::signal_yields(sw.workspace, bins, measurement, &outside);
      if (outside > 0.0)
        std::cerr << "warning: " << sw.name << ": " << outside << " signal events lie outside the surrogate's bins and are ignored\n";
      signals.push_back({sw.name, s});
    }
  }
  std::unique_ptr<stats::SignalYieldLikelihood> exact;
  if (r->count("exact"))
    exact = std::make_unique<stats::SignalYieldLikelihood>(*background, bins, measurement,
                                                           interp_options((*r)["interp"].as<std::string>()));

  // Per signal: the surrogate's numbers, the exact likelihood's (--exact),
  // the spread of the members' observed limits; JSON is written from them.
  struct Row {
    std::string error;
    Numbers surrogate, reference;
    double spread = NAN;
  };
  std::vector<Row> rows(signals.size());
  std::vector<std::string> warnings(signals.size());
  parallel_for(std::int64_t(signals.size()), [&](std::int64_t i) {
    const auto& sig = signals[i];
    Row& row = rows[i];
    if (!(sig.s.array() > 0).any()) {
      row.error = "no signal yield in the surrogate's bins";
      return;
    }
    const stats::SurrogateModel model(surrogate, sig.s);
    const Numbers& n = row.surrogate = numbers(model);
    std::vector<double> member_limits;
    for (int m = 0; m < surrogate->members() && surrogate->members() > 1; ++m) {
      const stats::SurrogateModel member(surrogate, sig.s, m);
      stats::AsymptoticCalculator c(member, 0, stats::TestStat::kQtilde);
      member_limits.push_back(c.upper_limits(0.05).observed);
    }
    double mean = 0, sq = 0;
    for (double v : member_limits) mean += v / member_limits.size();
    for (double v : member_limits) sq += (v - mean) * (v - mean) / std::max<std::size_t>(1, member_limits.size() - 1);
    if (member_limits.size() > 1 && std::isfinite(sq)) row.spread = std::sqrt(sq);
    const double valid = surrogate->validity(sig.s);
    const double highest = std::max(n.limit, n.limit_exp[4]);
    const std::string range = "(mu up to " + std::to_string(valid) + " for this signal; training yields up to " + join([&] {
                                std::vector<std::string> v;
                                for (int k = 0; k < K; ++k) v.push_back(std::to_string(spec.yields_max[k]));
                                return v;
                              }()) + "; spread of the members' observed limit " +
                              (std::isfinite(row.spread) ? std::to_string(row.spread) : "n/a") + ")";
    if (valid < 1.0)
      warnings[i] = sig.name + ": the signal at mu = 1 lies beyond the surrogate's range of validity " + range +
                    ": no CLs at mu = 1";
    else if (!std::isfinite(n.limit) || !std::isfinite(n.limit_exp[4]) || highest > valid)
      warnings[i] = sig.name + ": a limit lies beyond the surrogate's range of validity " + range;
    if (exact) row.reference = numbers(*exact->model_at(sig.s));
  });

  // The table, and the summary of the differences.
  std::printf("%-22s %9s %9s %9s %9s %9s", "signal", "CLs", "CLs_exp", "limit", "lim_exp", "spread");
  if (exact) std::printf(" | %9s %9s %9s %9s %8s %8s", "ref CLs", "ref exp", "ref lim", "ref exp", "dlim%", "dexp%");
  std::printf("\n");
  std::vector<double> dcls, dlim;
  int failed = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    if (!row.error.empty()) {
      std::printf("%-22s %s\n", signals[i].name.c_str(), row.error.c_str());
      ++failed;
      continue;
    }
    const Numbers &s = row.surrogate, &e = row.reference;
    std::printf("%-22s %9.4f %9.4f %9.4f %9.4f %9.4f", signals[i].name.c_str(), s.cls, s.cls_exp[2], s.limit,
                s.limit_exp[2], row.spread);
    if (exact) {
      const double d_obs = 100.0 * (s.limit / e.limit - 1.0), d_exp = 100.0 * (s.limit_exp[2] / e.limit_exp[2] - 1.0);
      std::printf(" | %9.4f %9.4f %9.4f %9.4f %+8.2f %+8.2f", e.cls, e.cls_exp[2], e.limit, e.limit_exp[2], d_obs, d_exp);
      const double dc = std::abs(s.cls - e.cls);
      if (std::isfinite(dc)) dcls.push_back(dc);
      for (int q = 0; q < 5; ++q) {
        const double dc_q = std::abs(s.cls_exp[q] - e.cls_exp[q]);
        if (std::isfinite(dc_q)) dcls.push_back(dc_q);
        if (std::isfinite(s.limit_exp[q]) && std::isfinite(e.limit_exp[q])) dlim.push_back(std::abs(s.limit_exp[q] / e.limit_exp[q] - 1.0));
      }
      if (std::isfinite(d_obs)) dlim.push_back(std::abs(d_obs) / 100.0);
    }
    std::printf("\n");
  }
  std::fflush(stdout);  // the table before the warnings
  for (const auto& w : warnings)
    if (!w.empty()) std::cerr << "warning: " << w << "\n";
  json summary = {{"signals", rows.size()}, {"failed", failed}};
  if (exact && !dlim.empty()) {
    std::sort(dlim.begin(), dlim.end());
    std::sort(dcls.begin(), dcls.end());
    int within2 = 0, within5 = 0;
    for (double d : dlim) {
      within2 += d <= 0.02;
      within5 += d <= 0.05;
    }
    summary["limits_compared"] = dlim.size();
    summary["limit_max_relative_difference"] = dlim.back();
    summary["limit_median_relative_difference"] = dlim[dlim.size() / 2];
    summary["limits_within_2_percent"] = double(within2) / dlim.size();
    summary["limits_within_5_percent"] = double(within5) / dlim.size();
    summary["cls_max_abs_difference"] = dcls.empty() ? json(nullptr) : json(dcls.back());
    std::printf("summary: %zu limits (observed and the five expected per signal) compared: median |d| %.2f%%, max %.2f%%, "
                "within 2%%: %.1f%%, within 5%%: %.1f%%; CLs (observed and expected at mu = 1): max |d| %.4f\n",
                dlim.size(), 100 * dlim[dlim.size() / 2], 100 * dlim.back(), 100.0 * within2 / dlim.size(),
                100.0 * within5 / dlim.size(), dcls.empty() ? NAN : dcls.back());
  }
  if (!common.out.empty()) {
    json out_rows = json::array();
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Row& row = rows[i];
      json j = {{"name", signals[i].name}, {"yields", std::vector<double>(signals[i].s.data(), signals[i].s.data() + K)}};
      if (!row.error.empty()) {
        j["error"] = row.error;
      } else {
        j["surrogate"] = to_json(row.surrogate);
        j["member_limit_spread"] = std::isfinite(row.spread) ? json(row.spread) : json(nullptr);
        if (exact) j["reference"] = to_json(row.reference);
      }
      out_rows.push_back(j);
    }
    json out = {{"surrogate", file}, {"rows", out_rows}, {"summary", summary}, {"command", "refinery surrogate eval"}};
    write_text_atomically(common.out, out.dump(2) + "\n");
  }
  return failed > 0 ? 1 : 0;
}

}  // namespace refinery::cli
