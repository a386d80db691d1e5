// Random streams in LibTorch tensors (seeds: src/core/random_seed.h).
#pragma once
#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include <cstdint>
#include <initializer_list>

#include "src/core/random_seed.h"

namespace refinery {

// LibTorch's generator (used where speed does not matter: analytic toys).
inline torch::Generator make_generator(std::uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

// A counter-based stream: the i-th number drawn is a hash of (key, i), so
// blocks are filled in parallel and the result does not depend on the number
// of threads. Returns float64 tensors.
class RandomStream {
 public:
  explicit RandomStream(std::uint64_t key) : key_(splitmix64(key)) {}
  // Uniform in (0, 1): never exactly 0 or 1, so log(u) is finite.
  torch::Tensor uniform(std::int64_t n);
  torch::Tensor uniform(std::int64_t n, double lo, double hi);
  torch::Tensor uniform2d(std::int64_t n, std::int64_t k);  // [n,k]
  // Standard normal (Box-Muller).
  torch::Tensor normal(std::int64_t n, double mean = 0.0, double sd = 1.0);
  // Exponential with the given mean.
  torch::Tensor exponential(std::int64_t n, double mean);
  // Gamma(k, theta) for integer shape k, as a sum of k exponentials.
  torch::Tensor gamma_int(std::int64_t n, int k, double theta);
  // Poisson(rate) counts capped at `cap` (exact below the cap).
  torch::Tensor poisson_capped(std::int64_t n, double rate, int cap);
  std::uint64_t drawn() const { return counter_; }
  // Moves the stream past `count` numbers without drawing them.
  void skip(std::uint64_t count) { counter_ += count; }

  // The stream from here on restricted to the events at `positions` (int64
  // [m], each in [0, n)) of blocks of n events: a draw for the m events
  // (uniform(m), uniform2d(m, k) and everything built on them) returns the
  // numbers a draw for all n would have given those events, and advances
  // the stream by the n events' count. A generator thus computes its later
  // stages for the events a selection kept only, with the numbers every
  // event would have had (data/htautau/generator.cpp).
  RandomStream restricted(const torch::Tensor& positions, std::int64_t n) const;

 private:
  // Fills p[0, m) with the uniforms of the stream's positions base + index(j)
  // for j < m, index(j) = (subset ? subset[j / k] * k + j % k : j).
  void fill(double* p, std::int64_t m, std::int64_t k) const;

  std::uint64_t key_;
  std::uint64_t counter_ = 0;
  torch::Tensor positions_;  // int64 [m]; undefined: unrestricted
  std::int64_t block_ = 0;   // n of a restricted stream
};

}  // namespace refinery
