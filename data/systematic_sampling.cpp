#include "data/systematic_sampling.h"

#include <cmath>
#include <stdexcept>

namespace refinery {

torch::Tensor systematic_choice(const torch::Tensor& selected, const torch::Tensor& order_by, double keep,
                                double start) {
  if (!(keep > 0.0 && keep <= 1.0)) throw std::invalid_argument("systematic_choice: keep must be in (0, 1]");
  if (!(start >= 0.0 && start < 1.0)) throw std::invalid_argument("systematic_choice: start must be in [0, 1)");
  const torch::Tensor chosen = torch::zeros({selected.size(0)}, torch::kBool);
  const torch::Tensor index = selected.nonzero().select(1, 0);
  const int64_t m = index.size(0);
  if (m == 0) return chosen;
  const torch::Tensor order =
      std::get<1>(order_by.index_select(0, index).to(torch::kFloat64).sort(/*stable=*/true, /*dim=*/0, /*descending=*/false));
  const torch::Tensor sorted_index = index.index_select(0, order).contiguous();
  const int64_t* at = sorted_index.data_ptr<int64_t>();
  bool* out = chosen.data_ptr<bool>();
  for (int64_t j = 0; j < m; ++j)
    if (std::floor(start + double(j + 1) * keep) > std::floor(start + double(j) * keep)) out[at[j]] = true;
  return chosen;
}

}  // namespace refinery
