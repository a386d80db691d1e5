#include "models/feature_preprocessor.h"

#include <algorithm>
#include <functional>

namespace refinery {

int64_t count_indicator_columns(const torch::Tensor& x, double sentinel) {
  return (x == static_cast<float>(sentinel)).any(0).sum().item<int64_t>();
}

int64_t count_indicator_columns(const torch::Tensor& x, distributed::Collective& group, double sentinel) {
  std::vector<torch::Tensor> undefined{(x == static_cast<float>(sentinel)).sum(0).to(torch::kLong)};
  group.sum(undefined);
  return (undefined[0] > 0).sum().item<int64_t>();
}

FeaturePreprocessorImpl::FeaturePreprocessorImpl(int64_t n, int64_t n_ind, double s) {
  mean = register_buffer("mean", torch::zeros({n}));
  inv_std = register_buffer("inv_std", torch::ones({n}));
  indicator_cols = register_buffer("indicator_cols", torch::arange(n_ind, torch::kLong));
  sentinel = register_buffer("sentinel", torch::full({1}, static_cast<float>(s)));
}

void FeaturePreprocessorImpl::fit(const torch::Tensor& x_in, const torch::Tensor& w_in,
                                  distributed::Collective& group) {
  torch::NoGradGuard guard;
  // In blocks of rows: float64 copies of a whole training sample (several
  // GB for a DCR's variation events) cost more in page faults than the sums.
  const int64_t n = x_in.size(0), F = x_in.size(1), block = int64_t(1) << 20;
  auto rows = [&](int64_t s, const std::function<void(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&)>& f) {
    const int64_t m = std::min(block, n - s);
    torch::Tensor xb = x_in.narrow(0, s, m);
    torch::Tensor defined = (xb != sentinel.item<float>()).to(torch::kFloat64);
    f(xb.to(torch::kFloat64), w_in.narrow(0, s, m).to(torch::kFloat64).unsqueeze(1) * defined, defined);
  };
  // Sums over all ranks' rows: weights, weighted values, undefined counts;
  // then the squared deviations from the common mean.
  std::vector<torch::Tensor> sums{torch::zeros({F}, torch::kFloat64), torch::zeros({F}, torch::kFloat64),
                                  torch::zeros({F}, torch::kFloat64)};
  for (int64_t s = 0; s < n; s += block)
    rows(s, [&](const torch::Tensor& x, const torch::Tensor& wd, const torch::Tensor& defined) {
      sums[0] += wd.sum(0), sums[1] += (wd * x).sum(0), sums[2] += (1.0 - defined).sum(0);
    });
  group.sum(sums);
  torch::Tensor sw = sums[0].clamp_min(1e-300);
  torch::Tensor m = sums[1] / sw;
  std::vector<torch::Tensor> squares{torch::zeros({F}, torch::kFloat64)};
  for (int64_t s = 0; s < n; s += block)
    rows(s, [&](const torch::Tensor& x, const torch::Tensor& wd, const torch::Tensor&) { squares[0] += (wd * (x - m).pow(2)).sum(0); });
  group.sum(squares);
  torch::Tensor v = squares[0] / sw;
  set_moments(m, v, sums[2]);
}

void FeaturePreprocessorImpl::set_moments(const torch::Tensor& m, const torch::Tensor& v,
                                          const torch::Tensor& undefined_count) {
  torch::NoGradGuard guard;
  torch::Tensor sd = torch::sqrt(v);
  mean.copy_(m.to(torch::kFloat32));
  inv_std.copy_(torch::where(sd > 1e-12, 1.0 / sd, torch::ones_like(sd)).to(torch::kFloat32));
  torch::Tensor cols = (undefined_count > 0).nonzero().squeeze(1);
  if (cols.size(0) != indicator_cols.size(0))
    throw std::logic_error("FeaturePreprocessor::fit: " + std::to_string(cols.size(0)) +
                           " features with undefined values, module built for " +
                           std::to_string(indicator_cols.size(0)));
  indicator_cols.copy_(cols);
}

torch::Tensor FeaturePreprocessorImpl::forward(const torch::Tensor& x) {
  torch::Tensor undefined = x == sentinel;
  torch::Tensor z = (x - mean) * inv_std;
  z = torch::where(undefined, torch::zeros_like(z), z);
  if (indicator_cols.size(0) == 0) return z;
  return torch::cat({z, undefined.index_select(1, indicator_cols).to(z.scalar_type())}, 1);
}

}  // namespace refinery
