#include "models/feature_preprocessor.h"

#include <algorithm>
#include <vector>

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
  // Plain loops over the rows, accumulating in double: tensor expressions
  // over a whole training sample allocated float64 copies of it per
  // operation (a DCR's variation events: seconds of page faults per
  // network, more than the sums).
  const torch::Tensor x = x_in.to(torch::kFloat32).contiguous();
  const torch::Tensor w = w_in.to(torch::kFloat64).contiguous();
  const int64_t n = x.size(0), F = x.size(1);
  const float* xp = x.data_ptr<float>();
  const double* wp = w.data_ptr<double>();
  const float s = sentinel.item<float>();
  // Sums over all ranks' rows: weights, weighted values, undefined counts;
  // then the squared deviations from the common mean.
  std::vector<torch::Tensor> sums{torch::zeros({F}, torch::kFloat64), torch::zeros({F}, torch::kFloat64),
                                  torch::zeros({F}, torch::kFloat64)};
  double* sw = sums[0].data_ptr<double>();
  double* swx = sums[1].data_ptr<double>();
  double* undefined = sums[2].data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    const float* row = xp + i * F;
    for (int64_t f = 0; f < F; ++f) {
      if (row[f] == s) {
        undefined[f] += 1.0;
      } else {
        sw[f] += wp[i];
        swx[f] += wp[i] * double(row[f]);
      }
    }
  }
  group.sum(sums);
  torch::Tensor m = sums[1] / sums[0].clamp_min(1e-300);
  std::vector<torch::Tensor> squares{torch::zeros({F}, torch::kFloat64)};
  const double* mp = m.data_ptr<double>();
  double* sq = squares[0].data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    const float* row = xp + i * F;
    for (int64_t f = 0; f < F; ++f)
      if (row[f] != s) {
        const double d = double(row[f]) - mp[f];
        sq[f] += wp[i] * d * d;
      }
  }
  group.sum(squares);
  torch::Tensor v = squares[0] / sums[0].clamp_min(1e-300);
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

bool FeaturePreprocessorImpl::same_as(const FeaturePreprocessorImpl& other) const {
  return torch::equal(mean, other.mean) && torch::equal(inv_std, other.inv_std) &&
         indicator_cols.sizes() == other.indicator_cols.sizes() && torch::equal(indicator_cols, other.indicator_cols) &&
         torch::equal(sentinel, other.sentinel);
}

void FeaturePreprocessorImpl::copy_from(const FeaturePreprocessorImpl& other) {
  torch::NoGradGuard guard;
  mean.copy_(other.mean);
  inv_std.copy_(other.inv_std);
  indicator_cols.copy_(other.indicator_cols);
  sentinel.copy_(other.sentinel);
}

}  // namespace refinery
