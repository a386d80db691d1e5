// Points in signal-yield space labelled with the exact likelihood
// (src/stats/signal_yield_likelihood.h), the training set of a likelihood
// surrogate (issue 18 item 1). Two kinds of points, both covering the
// region the asymptotic CLs of any signal direction needs (up to `reach` in
// twice the NLL above the background-only minimum, observed or Asimov,
// which is beyond the +2 sigma expected limit):
//
//  * rays: a direction d (a point of the simplex, uniform, times each bin's
//    scale) and points t * d with t uniform in [0, t_max], where t_max is
//    where twice the NLL along the ray first exceeds `reach` (found by
//    doubling and bisection; those points are labelled too). Every signal
//    hypothesis mu * s of a CLs scan is a ray, and the rays put points
//    near the origin (small signals) that a volume sampler rarely visits.
//    The first rays are the template's axes.
//  * Markov chains: Metropolis-Hastings on s >= 0 with target
//    exp(-max(Delta_obs, Delta_A) / T), T = reach / (2 K) for K bins, so
//    that the chains fill the region up to the reach in every direction.
//    Gaussian proposals shaped by the covariance of the ray points inside
//    the reach (the region is far from axis-aligned where a signal in one
//    bin can be absorbed by a background normalisation), reflected at 0,
//    their size adapted during a burn-in to an acceptance of about 0.3;
//    each chain starts at a ray point inside the reach. The target is
//    truncated to the ellipsoid (in the ray cloud's metric) 1.5 times as
//    far out as the farthest ray point inside the reach: a proposal outside
//    is rejected without a fit. Every other proposal is labelled and kept
//    (accepted or not), the burn-in's too.
// Resumable: with a journal file, every finished ray and chain is appended
// to it (its points to 17 digits, one line each); a run with the same
// likelihood and options that finds the journal takes the finished ones
// from it and computes only the rest. Rays and chains depend only on their
// own stream and on the finished rays, so the resumed run's points equal an
// uninterrupted run's exactly (a line cut by a kill is ignored).
// A bin's scale is the yield that, alone, raises twice the Asimov NLL by
// `reach`. Fits of a ray or a chain start from the previous point's
// minimum. Each ray and chain has its own random stream keyed by (seed,
// kind, index), so the points do not depend on the thread count.
#pragma once
#include <Eigen/Dense>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "src/stats/signal_yield_likelihood.h"

namespace refinery::stats {

struct YieldSamplingOptions {
  std::int64_t points = 100000;  // labelled points in all (approximately: whole rays and chain steps)
  double ray_fraction = 0.5;     // share of the points on rays
  int points_per_ray = 16;
  int chains = 16;
  double reach = 25.0;  // in twice the NLL above the background-only minimum
  std::uint64_t seed = 1;
  // The journal (empty: none), and what identifies the run beyond these
  // options and the likelihood's background NLLs (e.g. the workspace's hash):
  // a journal of another run is refused (InputError naming it).
  std::string journal, journal_identity;
  bool IsValid(std::string* error) const;
};

struct YieldPoints {
  Eigen::MatrixXd yields;  // [N, K]
  Eigen::VectorXd nll_observed, nll_asimov;  // [N]
  std::vector<std::uint8_t> source;  // 0 ray, 1 chain
  Eigen::VectorXd scale;  // [K] each bin's scale
  std::int64_t failed = 0;  // points whose fit failed (not kept)
  double acceptance = 0.0;  // of the chains after burn-in
  std::int64_t resumed_units = 0, resumed_points = 0;  // taken from the journal
  std::int64_t size() const { return yields.rows(); }
};

// `progress(done)` is called with the number of labelled points so far
// (from any thread; may be empty).
YieldPoints sample_yields(const SignalYieldLikelihood& likelihood, const YieldSamplingOptions& options,
                          const std::function<void(std::int64_t)>& progress = {});

}  // namespace refinery::stats
