#include "src/likelihood/dcr_ansatz.h"

#include <stdexcept>
#include <vector>

namespace refinery::likelihood {

torch::Tensor dcr_coordinates(const torch::Tensor& nu, const std::vector<int>& powers) {
  if (all_linear(powers)) return nu;
  const int64_t k = nu.size(-1);
  if (int64_t(powers.size()) != k)
    throw std::invalid_argument("dcr_coordinates: " + std::to_string(powers.size()) + " powers for " +
                                std::to_string(k) + " nuisances");
  std::vector<torch::Tensor> cols;
  for (int64_t i = 0; i < k; ++i) {
    const torch::Tensor c = nu.select(-1, i);
    cols.push_back(powers[i] == 2 ? c * c : c);
  }
  return torch::stack(cols, -1);
}

torch::Tensor dcr_ansatz(const torch::Tensor& nu_in, int order, const std::vector<int>& powers) {
  const bool single = nu_in.dim() == 1;
  const torch::Tensor u = dcr_coordinates(single ? nu_in.unsqueeze(0) : nu_in, powers);
  const int64_t k = u.size(1);
  std::vector<torch::Tensor> cols;
  for (int64_t i = 0; i < k; ++i) cols.push_back(u.select(1, i));
  if (order == 2)
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = i; j < k; ++j) cols.push_back(u.select(1, i) * u.select(1, j));
  if (appended_terms(powers) > 0) {
    if (order != 2) throw std::invalid_argument("dcr_ansatz: a cubic term or a knot needs the quadratic ansatz");
    for (int64_t i = 0; i < k; ++i) {
      const torch::Tensor c = u.select(1, i);
      if (powers[i] == kCubic) cols.push_back(c * c * c);
      else if (is_knot(powers[i])) cols.push_back(torch::relu(c - knot_of(powers[i])).square());
    }
  }
  if (cols.empty()) return single ? torch::zeros({0}, u.options()) : torch::zeros({u.size(0), 0}, u.options());
  const torch::Tensor phi = torch::stack(cols, 1);
  return single ? phi.squeeze(0) : phi;
}

}  // namespace refinery::likelihood
