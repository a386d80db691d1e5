#include "src/likelihood/dcr_ansatz.h"

#include <vector>

namespace refinery::likelihood {

torch::Tensor dcr_ansatz(const torch::Tensor& nu_in, int order) {
  const bool single = nu_in.dim() == 1;
  const torch::Tensor nu = single ? nu_in.unsqueeze(0) : nu_in;
  const int64_t k = nu.size(1);
  std::vector<torch::Tensor> cols;
  for (int64_t i = 0; i < k; ++i) cols.push_back(nu.select(1, i));
  if (order == 2)
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = i; j < k; ++j) cols.push_back(nu.select(1, i) * nu.select(1, j));
  if (cols.empty()) return single ? torch::zeros({0}, nu.options()) : torch::zeros({nu.size(0), 0}, nu.options());
  const torch::Tensor phi = torch::stack(cols, 1);
  return single ? phi.squeeze(0) : phi;
}

}  // namespace refinery::likelihood
