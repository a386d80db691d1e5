// Loss weights of a DCR training's nu-points from the nuisances' priors.
//
// The ansatz log r(x|nu) = phi(nu) . Delta(x) cannot follow the simulator's
// response exactly over a wide range of nu (a smearing that grows over five
// times its typical size, say), so the network's error is a compromise
// between the training points, and by default every point counts as much as
// any other. The fits, however, read the ansatz where the pseudo-experiments
// and the data put nu, i.e. where the priors put it. With point weights the
// loss is a quadrature of its expectation over the prior: each training
// point weighs the prior's probability of lying nearer to it than to any
// other point (its Voronoi cell, the distance measured in each nuisance's
// prior scale). The nominal point nu = 0, where log r = 0 holds exactly,
// takes part in the partition and keeps its cell unweighted.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "src/stats/constraint.h"

namespace refinery {

// A nuisance's prior as the measurement declares it.
struct NuisancePrior {
  std::string name;
  stats::Constraint constraint = stats::Constraint::kGaussian;  // kGaussian or kLogNormal
  double centre = 0.0, width = 1.0;
  double lower = -1e300, upper = 1e300;  // draws are clipped to the range
  // The prior's scale in the nuisance's own units: the width (Gaussian), the
  // centre times the width (log-normal: its width near the centre).
  double scale() const;
};

// Per training point (rows of nu_points [P, K], columns the priors' nuisances
// in order), the prior probability of its Voronoi cell, estimated from
// `draws` draws (seeded), normalised to mean 1 over the points (a uniform
// weighting is all ones). Every point must receive prior probability: a
// point without any (nearer to none of the draws) is an input error naming
// `source`, since it would take no part in the training.
torch::Tensor dcr_prior_point_weights(const torch::Tensor& nu_points, const std::vector<NuisancePrior>& priors,
                                      std::uint64_t seed, std::int64_t draws, const std::string& source);

}  // namespace refinery
