// Profile likelihood of any model along one or two of its parameters
// (design.md section 6):
//   t(mu) = 2 [NLL(mu, nu_hathat(mu)) - NLL(mu_hat, nu_hat)],
// the other free parameters (other POIs included) re-minimised at every
// point, warm-started from the neighbour.
//   scan:      1D points visited outward from the MLE; 2D grid visited row
//              by row in a serpentine, starting from the row nearest the MLE.
//   interval:  MINOS-like: the crossings t(mu) = level found by secant steps
//              on sqrt(t) (close to linear in mu), each a full profile fit.
#pragma once
#include <Eigen/Dense>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/stats/fit.h"

namespace refinery::stats {

struct ProfileOptions {
  FitOptions fit;
  double crossing_tolerance = 1e-4;  // on t at a crossing
  int max_crossing_steps = 30;
};

struct ScanPoint {
  std::vector<double> values;  // of the scanned parameters
  double t = 0.0, nll = 0.0;
  bool converged = false;
  std::string reason;  // of a failed fit
  Eigen::VectorXd x;
};

// The part of a scan one job computes (a shard of `scan --shard i/N`): the
// values (1D) or rows of the first parameter (2D) with begin <= index < end.
// The walk outward from the MLE restricted to them starts from the MLE, so
// a shard's points equal the whole scan's to the fits' tolerance.
struct ScanRows {
  std::size_t begin = 0, end = static_cast<std::size_t>(-1);
  bool contains(std::size_t i) const { return i >= begin && i < end; }
  // Block `index` of `count` contiguous blocks of n values.
  static ScanRows block(std::size_t n, int index, int count) {
    return {n * index / count, n * (index + 1) / count};
  }
};

// t at each value of parameter `index` (points outside `rows` are left
// unfitted: converged false, empty values).
std::vector<ScanPoint> profile_scan(const Model& model, const FitResult& best, int index,
                                    const std::vector<double>& values, const ProfileOptions& options = {},
                                    ScanRows rows = {});
// t on the grid values_a x values_b of parameters a, b; result row-major
// (a outer).
std::vector<ScanPoint> profile_scan_2d(const Model& model, const FitResult& best, int a, int b,
                                       const std::vector<double>& values_a, const std::vector<double>& values_b,
                                       const ProfileOptions& options = {}, ScanRows rows = {});

struct Crossing {
  double value = 0.0;     // at t = level
  bool found = false;     // t(value) = level
  bool at_bound = false;  // t stays below the level up to the parameter's bound: value = bound
  bool usable() const { return found || at_bound; }
  std::string status;
  int fits = 0;
};
struct Interval {
  std::string parameter;
  double level = 1.0;  // t threshold: 1 (68.27%), 3.8415 (95%)
  double cl = 0.6827;
  Crossing lower, upper;
  nlohmann::json to_json() const;
};
// Fully profiled interval {v : t(v) <= level} of parameter `index` around the
// MLE `best`.
Interval profile_interval(const Model& model, const FitResult& best, int index, double level,
                          const ProfileOptions& options = {});

// Quantile of t for a two-sided interval at confidence level cl (chi^2, 1 dof).
double chi2_level(double cl);
// The same for a region of two parameters (chi^2, 2 dof): -2 log(1 - cl),
// 2.2957 at one sigma's 68.27% (cl = erf(1/sqrt 2)), 5.9915 at 95%.
double chi2_level_2d(double cl);

// The confidence region's boundary {t = level} of a 2D scan (the converged
// points of profile_scan_2d), t interpolated linearly over a Delaunay
// triangulation of the points (src/stats/exclusion_contour.h); closed
// polylines where the region lies inside the grid, open ones where it
// leaves it. Each polyline as (a, b) pairs.
std::vector<std::vector<std::pair<double, double>>> scan_contour(const std::vector<ScanPoint>& points, double level);

}  // namespace refinery::stats
