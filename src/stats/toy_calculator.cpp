#include "src/stats/toy_calculator.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "src/core/random_seed.h"
#include "src/core/worker_threads.h"
#include "src/stats/probability.h"

namespace refinery::stats {

namespace {

// A conditional fit to the observed data that failed: the point to draw
// the toys at is unknown.
struct GenerationFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Toys of `sorted` (ascending) at least as extreme as q: q_toy >= q up to
// the tie tolerance.
std::int64_t count_at_least(const std::vector<double>& sorted, double q) {
  const double edge = q - kTieTolerance * (1.0 + std::abs(q));
  return static_cast<std::int64_t>(sorted.end() - std::lower_bound(sorted.begin(), sorted.end(), edge));
}

// Percentile with linear interpolation between order statistics (numpy's
// default) of an ascending vector.
double percentile(const std::vector<double>& sorted, double fraction) {
  if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double pos = fraction * double(sorted.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - double(lo)) * (sorted[hi] - sorted[lo]);
}

}  // namespace

std::int64_t ToySample::failed() const {
  return std::count_if(q.begin(), q.end(), [](double v) { return !std::isfinite(v); });
}

std::vector<double> ToySample::valid() const {
  std::vector<double> v;
  for (double x : q)
    if (std::isfinite(x)) v.push_back(x);
  std::sort(v.begin(), v.end());
  return v;
}

ToyPValues toy_pvalues(double q_obs, const ToySample& null, const ToySample& alt, TestStat stat) {
  const std::vector<double> qn = null.valid(), qa = alt.valid();
  const auto nn = static_cast<std::int64_t>(qn.size()), na = static_cast<std::int64_t>(qa.size());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto p_null = [&](double q) { return nn > 0 ? double(count_at_least(qn, q)) / double(nn) : nan; };
  auto p_alt = [&](double q) { return na > 0 ? double(count_at_least(qa, q)) / double(na) : nan; };
  ToyPValues r;
  r.clsb = p_null(q_obs);
  r.clsb_error = binomial_error(r.clsb, nn);
  // Expected values at the quantiles of the other hypothesis' toys; the
  // ascending order of HypotestResult::cls_exp.
  std::vector<double> expected;
  if (stat == TestStat::kQ0) {
    r.clb = 1.0;
    r.cls = r.clsb;
    r.cls_error = r.clsb_error;
    for (double q : qa) expected.push_back(p_null(q));
  } else {
    r.clb = p_alt(q_obs);
    r.clb_error = binomial_error(r.clb, na);
    r.cls = r.clb > 0 ? r.clsb / r.clb : nan;
    r.cls_error = r.clsb > 0 && r.clb > 0 ? r.cls * std::hypot(r.clsb_error / r.clsb, r.clb_error / r.clb) : nan;
    for (double q : qa) {
      const double b = p_alt(q);
      expected.push_back(b > 0 ? p_null(q) / b : nan);
    }
  }
  std::sort(expected.begin(), expected.end());
  const double sigmas[5] = {-2, -1, 0, 1, 2};
  for (int k = 0; k < 5; ++k) r.expected[k] = percentile(expected, normal_cdf(sigmas[k]));
  return r;
}

ToyCalculator::ToyCalculator(const Model& model, int poi, TestStat stat, const FitOptions& options)
    : model_(model), poi_(poi), stat_(stat), options_(options) {
  options_.covariance = false;
  free_data_ = fit(model, options_);
}

ToySample ToyCalculator::sample(double mu_generate, double mu_test, int hypothesis, const ToyOptions& options,
                                const std::function<void()>& tick) {
  ToySample s;
  s.mu = mu_generate;
  if (options.at_initial) {
    s.generated_at = model_.init();
    s.generated_at[poi_] = mu_generate;
  } else {
    const FitResult cond = fit_at(model_, poi_, mu_generate, free_data_.x, options_);
    if (!cond.ok()) throw GenerationFailure("conditional fit to the data at " + model_.parameters()[poi_].name + " = " +
                                     std::to_string(mu_generate) + ": " + cond.reason);
    s.generated_at = cond.x;
  }
  for (std::int64_t i = options.shard; i < options.ntoys; i += options.shards) s.index.push_back(i);
  s.q.assign(s.index.size(), std::numeric_limits<double>::quiet_NaN());
  s.reason.assign(s.index.size(), "");
  parallel_for(static_cast<std::int64_t>(s.index.size()), [&](std::int64_t k) {
    const std::unique_ptr<Model> toy =
        model_.toy(s.generated_at, stream_seed(options.seed, {std::uint64_t(hypothesis), std::uint64_t(s.index[k])}));
    FitOptions o = options_;
    o.start = s.generated_at;
    const FitResult free = fit(*toy, o);
    if (!free.ok()) {
      s.reason[k] = "free fit: " + free.reason;
    } else {
      FitResult cond;
      const double q = test_statistic(*toy, poi_, stat_, mu_test, free, free.x, options_, &cond);
      if (cond.ok()) s.q[k] = q;
      else s.reason[k] = "conditional fit: " + cond.reason;
    }
    if (tick) tick();
  });
  return s;
}

ToyHypotestResult ToyCalculator::hypotest(double mu, const ToyOptions& options,
                                          const std::function<void(std::int64_t, std::int64_t)>& progress) {
  ToyHypotestResult r;
  r.mu = mu;
  if (!free_data_.ok()) {
    r.converged = false;
    r.message = "free fit to the data: " + free_data_.reason;
    return r;
  }
  // The tested value and the other hypothesis: for q and q~ the toys of mu
  // (null) and of the background only (alt); for q0 those of mu = 0 (null)
  // and of the signal at mu (alt).
  const double background_mu = std::max(0.0, model_.parameters()[poi_].lower);
  const double tested = stat_ == TestStat::kQ0 ? 0.0 : mu;
  FitResult cond;
  r.q_obs = test_statistic(model_, poi_, stat_, tested, free_data_, free_data_.x, options_, &cond);
  if (!cond.ok()) {
    r.converged = false;
    r.message = "conditional fit to the data: " + cond.reason;
    return r;
  }
  std::int64_t per = 0;
  for (std::int64_t i = options.shard; i < options.ntoys; i += options.shards) ++per;
  const std::int64_t total = 2 * per;
  std::atomic<std::int64_t> done{0};
  auto tick = [&] {
    const std::int64_t d = ++done;
    if (progress) progress(d, total);
  };
  try {
    r.null = sample(stat_ == TestStat::kQ0 ? 0.0 : mu, tested, 0, options, tick);
    r.alt = sample(stat_ == TestStat::kQ0 ? mu : background_mu, tested, 1, options, tick);
  } catch (const GenerationFailure& e) {
    r.converged = false;
    r.message = e.what();
    return r;
  }
  r.p = toy_pvalues(r.q_obs, r.null, r.alt, stat_);
  return r;
}

}  // namespace refinery::stats
