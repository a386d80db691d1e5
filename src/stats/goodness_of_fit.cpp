#include "src/stats/goodness_of_fit.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>

#include "src/core/random_seed.h"
#include "src/core/worker_threads.h"
#include "src/stats/probability.h"

namespace refinery::stats {

namespace {

// The parameter value a constraint's auxiliary datum prefers.
double constraint_mode(Constraint c, double aux, double width) {
  switch (c) {
    case Constraint::kPoisson: return aux / width;
    default: return aux;  // Gaussian and log-normal
  }
}

// 2 [nu - n + n log(n / nu)]: one bin's deviance from its saturated value.
double bin_deviance(double n, double nu) {
  if (!(nu > 0.0)) return n > 0.0 ? std::numeric_limits<double>::infinity() : 0.0;
  return 2.0 * (nu - n + (n > 0.0 ? n * std::log(n / nu) : 0.0));
}

}  // namespace

GofStatistic saturated_statistic(const Model& model, const Eigen::VectorXd& x) {
  GofStatistic s;
  std::map<std::string, std::vector<double>> expected;
  for (const auto& y : model.expected_yields(x)) {
    auto& e = expected[y.region];
    e.resize(std::max(e.size(), y.bins.size()), 0.0);
    for (std::size_t b = 0; b < y.bins.size(); ++b) e[b] += y.bins[b];
  }
  for (const auto& d : model.observed_yields()) {
    const auto& nu = expected.at(d.region);
    double q = 0.0;
    for (std::size_t b = 0; b < d.bins.size(); ++b) q += bin_deviance(d.bins[b], b < nu.size() ? nu[b] : 0.0);
    s.regions.push_back(d.region);
    s.region_q.push_back(q);
    s.region_bins.push_back(static_cast<int>(d.bins.size()));
    s.total += q;
  }
  for (int i = 0; i < model.size(); ++i) {
    const Parameter& p = model.parameters()[i];
    if (p.fixed || p.constraint == Constraint::kNone) continue;
    const double at_fit = constraint_nll(p.constraint, x[i], p.aux, p.width).value;
    const double mode = constraint_mode(p.constraint, p.aux, p.width);
    // A Poisson constraint with aux = 0 prefers x -> 0, where its term -> 0.
    const double best = p.constraint == Constraint::kPoisson && !(mode > 0.0)
                            ? 0.0
                            : constraint_nll(p.constraint, mode, p.aux, p.width).value;
    s.constraint_q += 2.0 * (at_fit - best);
  }
  s.total += s.constraint_q;
  return s;
}

GofResult goodness_of_fit(const Model& model, std::int64_t ntoys, std::uint64_t seed,
                          const std::function<void(std::int64_t, std::int64_t)>& progress) {
  GofResult r;
  FitOptions options;
  options.covariance = false;
  r.fit = fit(model, options);
  for (bool held : r.fit.held) r.free_parameters += !held;
  if (!r.fit.ok()) return r;
  r.observed = saturated_statistic(model, r.fit.x);
  r.ntoys = ntoys;
  const std::size_t regions = r.observed.regions.size();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.toy_total.assign(ntoys, nan);
  r.toy_regions.assign(ntoys, std::vector<double>(regions, nan));
  std::vector<std::string> reasons(ntoys);
  std::atomic<std::int64_t> done{0};
  parallel_for(ntoys, [&](std::int64_t i) {
    const std::unique_ptr<Model> toy = model.toy(r.fit.x, stream_seed(seed, {0x60f, std::uint64_t(i)}));
    FitOptions o = options;
    o.start = r.fit.x;
    const FitResult f = fit(*toy, o);
    if (f.ok()) {
      const GofStatistic s = saturated_statistic(*toy, f.x);
      r.toy_total[i] = s.total;
      r.toy_regions[i] = s.region_q;
    } else {
      reasons[i] = f.reason;
    }
    const std::int64_t d = ++done;
    if (progress) progress(d, ntoys);
  });
  for (std::int64_t i = 0; i < ntoys; ++i)
    if (!reasons[i].empty()) r.failures.push_back({i, reasons[i]});
  // p-values: toys with q >= q_obs among those that fitted.
  auto p_of = [&](auto value_of, double q_obs, double* error) {
    std::int64_t n = 0, k = 0;
    for (std::int64_t i = 0; i < ntoys; ++i) {
      const double q = value_of(i);
      if (!std::isfinite(q)) continue;
      ++n;
      k += q >= q_obs;
    }
    const double p = n > 0 ? double(k) / double(n) : nan;
    *error = binomial_error(p, n);
    return p;
  };
  r.p_value = p_of([&](std::int64_t i) { return r.toy_total[i]; }, r.observed.total, &r.p_error);
  for (std::size_t k = 0; k < regions; ++k) {
    double e = 0.0;
    r.region_p.push_back(p_of([&](std::int64_t i) { return r.toy_regions[i][k]; }, r.observed.region_q[k], &e));
    r.region_p_error.push_back(e);
  }
  return r;
}

nlohmann::json GofResult::to_json() const {
  using nlohmann::json;
  auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  json j = {{"statistic", "saturated"}, {"q_obs", num(observed.total)}, {"constraint_q", num(observed.constraint_q)}};
  int bins = 0;
  json regions = json::array();
  for (std::size_t k = 0; k < observed.regions.size(); ++k) {
    bins += observed.region_bins[k];
    json reg = {{"region", observed.regions[k]}, {"bins", observed.region_bins[k]}, {"q_obs", num(observed.region_q[k])}};
    if (k < region_p.size()) reg["p_value"] = num(region_p[k]), reg["p_value_error"] = num(region_p_error[k]);
    regions.push_back(reg);
  }
  j["regions"] = regions;
  j["bins"] = bins;
  j["free_parameters"] = free_parameters;
  j["ntoys"] = ntoys;
  j["p_value"] = num(p_value);
  j["p_value_error"] = num(p_error);
  json q = json::array(), failed = json::array();
  for (double v : toy_total) q.push_back(num(v));
  for (const auto& [i, why] : failures) failed.push_back({{"toy", i}, {"reason", why}});
  j["toys"] = {{"q", q}, {"failed", failures.size()}, {"failures", failed}};
  return j;
}

}  // namespace refinery::stats
