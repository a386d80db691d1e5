// Two small probability helpers the tests of hypotheses share.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace refinery::stats {

// The standard normal cumulative distribution Phi(x), through erfc so that
// the far tails keep their relative precision.
inline double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
// Its upper tail 1 - Phi(x), without the cancellation of 1 - normal_cdf(x):
// a 20-sigma p-value (1e-89) is not rounded to 0.
inline double normal_sf(double x) { return 0.5 * std::erfc(x / std::sqrt(2.0)); }

// Standard error of a fraction p estimated from n independent trials,
// sqrt(p (1 - p) / n); 0 without trials.
inline double binomial_error(double p, std::int64_t n) {
  return n > 0 ? std::sqrt(std::max(0.0, p * (1.0 - p)) / double(n)) : 0.0;
}

}  // namespace refinery::stats
