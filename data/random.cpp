#include "data/random.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>

namespace refinery {

torch::Tensor RandomStream::uniform(std::int64_t n) {
  torch::Tensor out = torch::empty({n}, torch::kFloat64);
  double* p = out.data_ptr<double>();
  const std::uint64_t key = key_, base = counter_;
  at::parallel_for(0, n, 1 << 14, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      std::uint64_t h = splitmix64(key ^ splitmix64(base + static_cast<std::uint64_t>(i)));
      p[i] = (static_cast<double>(h >> 11) + 0.5) * 0x1.0p-53;  // (0,1), 53 bits
    }
  });
  counter_ += static_cast<std::uint64_t>(n);
  return out;
}

torch::Tensor RandomStream::uniform(std::int64_t n, double lo, double hi) {
  return uniform(n) * (hi - lo) + lo;
}

torch::Tensor RandomStream::uniform2d(std::int64_t n, std::int64_t k) {
  return uniform(n * k).reshape({n, k});
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
