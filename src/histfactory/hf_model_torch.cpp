// HistFactoryModel::expected_torch, in the library's LibTorch part (the
// model itself is LibTorch-free: src/histfactory/hf_model.h).
#include <torch/torch.h>

#include "src/histfactory/hf_model.h"

namespace refinery::histfactory {

torch::Tensor HistFactoryModel::expected_torch(const torch::Tensor& x) const {
  std::vector<torch::Tensor> bins(observed_.main.size(), torch::zeros({}, torch::kFloat64));
  for (const auto& t : terms_) {
    torch::Tensor A = torch::full({}, t.nominal, torch::kFloat64);
    for (const auto& d : t.deltas) {
      A = A + histosys_delta(interp_.histosys, x[d.param], torch::tensor(d.up, torch::kFloat64),
                             torch::tensor(d.down, torch::kFloat64));
    }
    torch::Tensor v = A;
    for (const auto& f : t.factors) {
      torch::Tensor th = x[f.param];
      if (f.kind == Factor::kLinear) {
        v = v * th;
      } else {
        v = v * normsys_factor(interp_.normsys, th, f.hi, f.lo, f.code4);
      }
    }
    bins[t.bin] = bins[t.bin] + v;
  }
  return torch::stack(bins);
}

}  // namespace refinery::histfactory
