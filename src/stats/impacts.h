// Impacts of the constrained and free nuisance parameters on one POI: each
// nuisance held at nu_hat +- its pre-fit (constraint) and post-fit (fit
// error) uncertainty, the rest refitted; the shift of the POI's estimate.
// The stat-only error: every other parameter held at its fitted value.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/stats/fit.h"

namespace refinery::stats {

struct Impact {
  std::string name;
  double prefit_up = 0, prefit_down = 0, postfit_up = 0, postfit_down = 0;  // shift of the POI
  double nu_hat = 0, nu_error = 0, prefit_error = 0;
};
struct Impacts {
  std::string poi;
  std::vector<Impact> ranked;  // by max |post-fit shift|, largest first
  double mu_hat = 0, mu_error = 0, stat_only_error = 0;
  nlohmann::json to_json() const;
  std::string table() const;
};

// For every parameter other than `poi` that is neither fixed nor a POI.
Impacts compute_impacts(const Model& model, const FitResult& best, int poi, const FitOptions& options = {});

}  // namespace refinery::stats
