#include "src/likelihood/mc_statistics.h"

#include <cmath>

namespace refinery::likelihood {

torch::Tensor mc_statistics(const torch::Tensor& lambda_in, const torch::Tensor& observed,
                            const torch::Tensor& delta) {
  const torch::Tensor lambda = lambda_in.to(torch::kFloat64);
  const torch::Tensor n = observed.to(torch::kFloat64);
  const torch::Tensor on = delta > 0;
  // Bins without the term evaluate at delta = 1 and are discarded, so that
  // no infinity reaches the gradient through the branch not taken.
  const torch::Tensor tau = 1.0 / torch::where(on, delta.to(torch::kFloat64).square(), torch::ones_like(lambda));
  const torch::Tensor m = (n - lambda) - (n + tau) * torch::log((n + tau) / (lambda + tau));
  return torch::where(on, m, torch::zeros_like(m)).sum();
}

McStatisticsBin profile_mc_statistics(double lambda, double n, double delta) {
  McStatisticsBin r;
  const double tau = 1.0 / (delta * delta);
  r.gamma = (n + tau) / (lambda + tau);
  r.value = (n - lambda) - (n + tau) * std::log(r.gamma);
  r.d1 = r.gamma - 1.0;
  r.d2 = -r.gamma / (lambda + tau);
  return r;
}

}  // namespace refinery::likelihood

namespace refinery::likelihood {

std::vector<double> equal_share_edges(const torch::Tensor& value_in, const torch::Tensor& weight_in, int cells) {
  const torch::Tensor value = value_in.to(torch::kFloat64).contiguous();
  const torch::Tensor weight = weight_in.to(torch::kFloat64).clamp_min(0.0);
  std::vector<double> edges;
  if (cells <= 1 || value.numel() == 0) return edges;
  auto [sorted, order] = value.sort();
  const torch::Tensor cum = weight.index_select(0, order).cumsum(0).contiguous();
  const double total = cum[-1].item<double>();
  if (!(total > 0.0)) return edges;
  const auto v = sorted.contiguous();
  const double* pv = v.data_ptr<double>();
  const double* pc = cum.data_ptr<double>();
  const int64_t n = value.numel();
  int64_t j = 0;
  for (int k = 1; k < cells; ++k) {
    const double target = total * k / cells;
    while (j < n - 1 && pc[j] < target) ++j;
    // The edge lies midway to the next value, so the event at j stays below.
    const double e = j + 1 < n ? 0.5 * (pv[j] + pv[j + 1]) : pv[j];
    if (edges.empty() || e > edges.back()) edges.push_back(e);
  }
  return edges;
}

torch::Tensor cell_index(const torch::Tensor& value, const std::vector<double>& edges) {
  if (edges.empty()) return torch::zeros({value.numel()}, torch::kInt64);
  return torch::bucketize(value.to(torch::kFloat64).contiguous(), torch::tensor(edges, torch::kFloat64), /*out_int32=*/false,
                          /*right=*/true);
}

}  // namespace refinery::likelihood
