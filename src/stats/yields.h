// Expected yields with their uncertainties (issue 16 item 1): per region and
// process, and per region in total, at a parameter point, each bin's and the
// total's error propagated through the full covariance of the parameters,
//   sigma^2 = J C J^T,   J = d(yields) / d(parameters),
// J by central differences of Model::expected_yields, so the correlations
// between processes and bins are kept (the totals are not summed in
// quadrature). Pre-fit: at the initial values with the constraints' widths
// (prefit_covariance); post-fit: at the best fit with its covariance.
#pragma once
#include <Eigen/Dense>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/stats/model.h"

namespace refinery::stats {

struct YieldWithError {
  std::string region, process;  // process "total": the region's sum
  std::vector<double> bins, errors;
  double total = 0.0, total_error = 0.0;
};

// The diagonal covariance of the constraints: Gaussian width^2, Poisson
// 1/tau, log-normal (aux width)^2 (its one-sigma range at the auxiliary
// datum, to first order); 0 for free and fixed parameters.
Eigen::MatrixXd prefit_covariance(const Model& model);

// The parameter table as the figures of pulls need it: per parameter its
// name, constraint, centre (the value its auxiliary datum prefers: aux,
// aux / tau for Poisson), pre-fit error (sqrt of prefit_covariance's
// diagonal), bounds, and whether it is fixed or a POI.
nlohmann::json parameter_table_json(const Model& model);

// The processes in the model's order, then one "total" per region (in the
// order regions first appear).
std::vector<YieldWithError> yields_with_errors(const Model& model, const Eigen::VectorXd& x,
                                               const Eigen::MatrixXd& covariance);

nlohmann::json to_json(const std::vector<YieldWithError>& yields);

}  // namespace refinery::stats
