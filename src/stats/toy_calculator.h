// Toy-based hypothesis tests of any model: the distributions of the test
// statistic (q~_mu, q_mu or q0, hypotest.h) under the signal-plus-background
// and the background-only hypotheses sampled by pseudo-experiments, instead
// of the asymptotic formulae. Where counts are small the asymptotic
// distributions are wrong; toys are the LHC's reference there (ATL-PHYS-PUB-
// 2011-11 / CMS NOTE-2011/005, section 2.1).
//
// Generation (the LHC convention): the pseudo-experiments of a hypothesis mu
// are drawn at the conditional fit of the model to the observed data with
// the POI held at mu (nuisances at their profiled values), main and
// auxiliary data both randomised (Model::toy). pyhf's ToyCalculator draws
// them at the model's initial values instead (pyhf/infer/calculators.py,
// `suggested_init`); ToyOptions::at_initial reproduces that.
//
// p-values count toys at least as extreme as the observation (q_toy >=
// q_obs, pyhf's EmpiricalDistribution.pvalue): CLs+b from the
// signal-plus-background toys, CLb from the background-only ones, CLs their
// ratio, each with its binomial standard error. Ties: a discrete model gives
// equal q for equal counts up to the fits' convergence, so a toy within
// kTieTolerance * (1 + q_obs) of q_obs counts as equal.
//
// Pseudo-experiment i of a hypothesis is a pure function of (seed,
// hypothesis, i): shards (i % shards == shard) and threads give the same
// toys, and shards merge into the unsharded result exactly.
//
// A toy whose fit fails keeps its index with q = NaN and the reason: it is
// counted and reported, left out of the p-values, and never stops the run.
#pragma once
#include <Eigen/Dense>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "src/stats/fit.h"
#include "src/stats/hypotest.h"
#include "src/stats/model.h"

namespace refinery::stats {

constexpr double kTieTolerance = 1e-6;

struct ToyOptions {
  std::int64_t ntoys = 1000;  // per hypothesis
  std::uint64_t seed = 0;
  int shard = 0, shards = 1;  // this run draws the toys with index % shards == shard
  bool at_initial = false;    // draw at the model's initial nuisances (pyhf), not the conditional fits
};

// The test statistics of the pseudo-experiments of one hypothesis.
struct ToySample {
  double mu = 0.0;                   // the POI value the toys were drawn at
  Eigen::VectorXd generated_at;      // the full parameter point
  std::vector<std::int64_t> index;   // toy index, ascending
  std::vector<double> q;             // NaN where a fit failed
  std::vector<std::string> reason;   // why, "" where it did not
  std::int64_t failed() const;
  std::vector<double> valid() const;  // the finite q, sorted ascending
};

// p-values from the observed statistic and the two samples.
struct ToyPValues {
  double clsb = 0, clb = 0, cls = 0;
  double clsb_error = 0, clb_error = 0, cls_error = 0;  // binomial standard errors
  // q, q~: expected CLs at -2..+2 sigma of the background-only toys
  // (ascending, as HypotestResult::cls_exp). q0: expected p0 at +2..-2 sigma
  // of the signal toys (ascending, pyhf's order).
  std::array<double, 5> expected{};
};
// `null` holds the toys of the tested hypothesis (signal-plus-background
// for q and q~; mu = 0 for q0), `alt` those of the other one (background-
// only; for q0 the signal at the tested mu). For q0 clb = 1 and cls = clsb = p0.
ToyPValues toy_pvalues(double q_obs, const ToySample& null, const ToySample& alt, TestStat stat);

struct ToyHypotestResult {
  double mu = 1.0;
  double q_obs = 0.0;
  ToySample null, alt;
  ToyPValues p;
  bool converged = true;  // the fits to the observed data
  std::string message;
};

class ToyCalculator {
 public:
  ToyCalculator(const Model& model, int poi, TestStat stat = TestStat::kQtilde, const FitOptions& options = {});
  // The observed statistic at mu and both samples of this shard (threads from
  // worker_threads()). `progress`, when set, is called after each toy with
  // (done, total) from the worker threads.
  ToyHypotestResult hypotest(double mu, const ToyOptions& options,
                             const std::function<void(std::int64_t, std::int64_t)>& progress = {});

 private:
  ToySample sample(double mu_generate, double mu_test, int hypothesis, const ToyOptions& options,
                   const std::function<void()>& tick);
  const Model& model_;
  int poi_;
  TestStat stat_;
  FitOptions options_;
  FitResult free_data_;
};

}  // namespace refinery::stats
