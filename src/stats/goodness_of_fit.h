// Goodness of fit of any model: the saturated-model statistic (Baker and
// Cousins, NIM 221 (1984) 437; Combine's `GoodnessOfFit --algo saturated`)
//   q = 2 sum_bins [nu - n + n log(n / nu)] + 2 sum_constraints [c(x_hat) - c(mode)],
// nu the expected count of a bin at the best fit (summed over processes),
// n the observed one, c a constraint term and `mode` the parameter value
// that its auxiliary datum prefers: -2 log of the likelihood ratio of the
// best fit to a model with one free expectation per bin. Per region the
// bins' part alone. The bins are the model's observed_yields(): a binned
// region's (a workspace channel's) bins, an unbinned region's cells of the
// classifier output (its total count without the simulated-sample
// statistics). Where a model's expected yields leave out factors of its
// likelihood (an unbinned region's event-level shapes, the analytic
// simulated-sample factors at 1) this is a binned summary, not the
// likelihood ratio; its p-value is exact either way, since it comes from
// pseudo-experiments of the same statistic.
//
// The distribution: pseudo-experiments drawn at the best fit (main and
// auxiliary data randomised), each fitted; p = fraction with q >= q_obs,
// per region and in total, with binomial errors. Toy i is a function of
// (seed, i) alone. A toy whose fit fails is counted and listed, not used.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/stats/fit.h"
#include "src/stats/model.h"

namespace refinery::stats {

struct GofStatistic {
  std::vector<std::string> regions;  // in the model's order
  std::vector<double> region_q;      // the bins' part per region
  std::vector<int> region_bins;
  double constraint_q = 0.0;
  double total = 0.0;
};

// The statistic of the model's data at x (the best fit).
GofStatistic saturated_statistic(const Model& model, const Eigen::VectorXd& x);

struct GofResult {
  FitResult fit;  // to the observed data
  GofStatistic observed;
  std::int64_t ntoys = 0;
  std::vector<double> toy_total;                 // NaN where the toy's fit failed
  std::vector<std::vector<double>> toy_regions;  // [toy][region]
  std::vector<std::pair<std::int64_t, std::string>> failures;
  double p_value = 0, p_error = 0;
  std::vector<double> region_p, region_p_error;
  int free_parameters = 0;  // neither fixed nor held
  bool ok() const { return fit.ok(); }
  nlohmann::json to_json() const;
};

// Fits the data, then ntoys pseudo-experiments at the best fit (threads from
// worker_threads()); `progress` as in ToyCalculator.
GofResult goodness_of_fit(const Model& model, std::int64_t ntoys, std::uint64_t seed,
                          const std::function<void(std::int64_t, std::int64_t)>& progress = {});

}  // namespace refinery::stats
