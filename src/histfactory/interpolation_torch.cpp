// The interpolations of src/histfactory/interpolation.h on LibTorch tensors
// (in the library's LibTorch part; the double versions stay LibTorch-free).
#include <torch/torch.h>

#include <cmath>

#include "src/histfactory/interpolation.h"

namespace refinery::histfactory {

torch::Tensor histosys_delta(HistosysCode code, const torch::Tensor& a, const torch::Tensor& up,
                             const torch::Tensor& down) {
  torch::Tensor outer = torch::where(a >= 0, a * up, a * down);
  if (code == HistosysCode::kCode0) return outer;
  torch::Tensor a2 = a * a;
  torch::Tensor inner = 0.5 * (up + down) * a + 0.5 * (up - down) * (15.0 * a2 - 10.0 * a2 * a2 + 3.0 * a2 * a2 * a2) / 8.0;
  return torch::where(a.abs() < 1, inner, outer);
}

torch::Tensor normsys_factor(NormsysCode code, const torch::Tensor& th, double hi, double lo,
                             const std::array<double, 6>& a) {
  torch::Tensor outer = torch::where(th >= 0, torch::exp(th * std::log(hi)), torch::exp(-th * std::log(lo)));
  if (code != NormsysCode::kCode4) return outer;
  torch::Tensor poly = torch::zeros_like(th);
  for (int i = 6; i >= 1; --i) poly = poly * th + a[i - 1];
  return torch::where(th.abs() < 1, 1.0 + poly * th, outer);
}

}  // namespace refinery::histfactory
