#include "infer/response_nuisance.h"

#include <stdexcept>

#include "src/likelihood/fused_kernel.h"

namespace refinery {

namespace {
// Column of the product nu_a nu_b (a <= b) in the quadratic ansatz of K
// nuisances: after the K linear terms, pairs in row-major order.
int64_t pair_column(int a, int b, int K) {
  int64_t c = K;
  for (int i = 0; i < a; ++i) c += K - i;
  return c + (b - a);
}
}  // namespace

torch::Tensor extend_coefficients(const torch::Tensor& coef, int K, const std::vector<ResponseNuisance>& responses) {
  if (responses.empty()) return coef;
  const int R = int(responses.size()), KE = K + R;
  const int64_t C = likelihood::Ansatz(K, 2).C, CE = likelihood::Ansatz(KE, 2).C;
  if (coef.dim() != 3 || coef.size(2) != C)
    throw std::invalid_argument("extend_coefficients: expected [n, P, " + std::to_string(C) + "] coefficients");
  const int64_t n = coef.size(0), P = coef.size(1);
  torch::Tensor out = torch::zeros({n, P, CE}, torch::kFloat32);
  // The networks' own terms: linear, then their pairs.
  out.narrow(2, 0, K).copy_(coef.narrow(2, 0, K));
  for (int a = 0; a < K; ++a)
    for (int b = a; b < K; ++b) out.select(2, pair_column(a, b, KE)).copy_(coef.select(2, pair_column(a, b, K)));
  for (int r = 0; r < R; ++r) {
    const ResponseNuisance& resp = responses[size_t(r)];
    if (resp.of < 0 || resp.of >= K) throw std::invalid_argument("extend_coefficients: response of an unknown nuisance");
    const int64_t column = pair_column(resp.of, K + r, KE);
    for (int p : resp.processes) {
      if (p < 0 || p >= P) throw std::invalid_argument("extend_coefficients: unknown process");
      out.select(1, p).select(1, column).copy_(coef.select(1, p).select(1, resp.of) * float(resp.size));
    }
  }
  return out;
}

}  // namespace refinery
