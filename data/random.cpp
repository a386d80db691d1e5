#include "data/random.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace refinery {

namespace {
double to_uniform(std::uint64_t key, std::uint64_t position) {
  std::uint64_t h = splitmix64(key ^ splitmix64(position));
  return (static_cast<double>(h >> 11) + 0.5) * 0x1.0p-53;  // (0,1), 53 bits
}
}  // namespace

void RandomStream::fill(double* p, std::int64_t m, std::int64_t k) const {
  const std::uint64_t key = key_, base = counter_;
  const std::int64_t* subset = positions_.defined() ? positions_.data_ptr<std::int64_t>() : nullptr;
  at::parallel_for(0, m, 1 << 14, [&](std::int64_t b, std::int64_t e) {
    if (!subset) {
      for (std::int64_t i = b; i < e; ++i) p[i] = to_uniform(key, base + static_cast<std::uint64_t>(i));
    } else if (k == 1) {
      for (std::int64_t i = b; i < e; ++i) p[i] = to_uniform(key, base + static_cast<std::uint64_t>(subset[i]));
    } else {
      for (std::int64_t i = b; i < e; ++i)
        p[i] = to_uniform(key, base + static_cast<std::uint64_t>(subset[i / k] * k + i % k));
    }
  });
}

RandomStream RandomStream::restricted(const torch::Tensor& positions, std::int64_t n) const {
  if (positions_.defined()) throw std::logic_error("RandomStream::restricted: the stream is restricted already");
  RandomStream r = *this;
  r.positions_ = positions.to(torch::kInt64).contiguous();
  r.block_ = n;
  return r;
}

torch::Tensor RandomStream::uniform(std::int64_t n) { return uniform2d(n, 1).view({n}); }
torch::Tensor RandomStream::uniform(std::int64_t n, double lo, double hi) {
  return uniform(n) * (hi - lo) + lo;
}

torch::Tensor RandomStream::uniform2d(std::int64_t n, std::int64_t k) {
  if (positions_.defined() && n != positions_.size(0))
    throw std::logic_error("RandomStream: a restricted stream draws for its " + std::to_string(positions_.size(0)) +
                           " events, not " + std::to_string(n));
  torch::Tensor out = torch::empty({n, k}, torch::kFloat64);
  fill(out.data_ptr<double>(), n * k, k);
  counter_ += static_cast<std::uint64_t>((positions_.defined() ? block_ : n) * k);
  return out;
}

torch::Tensor RandomStream::normal(std::int64_t n, double mean, double sd) {
  torch::Tensor u = uniform(n), v = uniform(n);
  return torch::sqrt(-2.0 * torch::log(u)) * torch::cos((2.0 * M_PI) * v) * sd + mean;
}

torch::Tensor RandomStream::exponential(std::int64_t n, double mean) {
  return -mean * torch::log(uniform(n));
}

torch::Tensor RandomStream::gamma_int(std::int64_t n, int k, double theta) {
  return -theta * torch::log(uniform2d(n, k).prod(1));
}

torch::Tensor RandomStream::poisson_capped(std::int64_t n, double rate, int cap) {
  // Inversion: count = number of cumulative probabilities below u.
  torch::Tensor u = uniform(n);
  torch::Tensor count = torch::zeros({n}, torch::kFloat64);
  double p = std::exp(-rate), cdf = p;
  for (int k = 1; k <= cap; ++k) {
    count += (u > cdf).to(torch::kFloat64);
    p *= rate / k;
    cdf += p;
  }
  return count;
}

}  // namespace refinery
