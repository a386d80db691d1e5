#include "data/systematic_sampling.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>
#include <stdexcept>

namespace refinery {

std::vector<char> systematic_places(int64_t m, double keep, double start) {
  if (!(keep > 0.0 && keep <= 1.0)) throw std::invalid_argument("systematic sampling: keep must be in (0, 1]");
  if (!(start >= 0.0 && start < 1.0)) throw std::invalid_argument("systematic sampling: start must be in [0, 1)");
  std::vector<char> kept(size_t(std::max<int64_t>(m, 0)), 0);
  for (int64_t j = 0; j < m; ++j)
    if (std::floor(start + double(j + 1) * keep) > std::floor(start + double(j) * keep)) kept[size_t(j)] = 1;
  return kept;
}

torch::Tensor systematic_choice(const torch::Tensor& selected, const torch::Tensor& order_by, double keep,
                                double start) {
  const torch::Tensor chosen = torch::zeros({selected.size(0)}, torch::kBool);
  const torch::Tensor index = selected.nonzero().select(1, 0);
  const int64_t m = index.size(0);
  const std::vector<char> places = systematic_places(m, keep, start);
  if (m == 0) return chosen;
  const torch::Tensor order =
      std::get<1>(order_by.index_select(0, index).to(torch::kFloat64).sort(/*stable=*/true, /*dim=*/0, /*descending=*/false));
  const torch::Tensor sorted_index = index.index_select(0, order).contiguous();
  const int64_t* at = sorted_index.data_ptr<int64_t>();
  bool* out = chosen.data_ptr<bool>();
  for (int64_t j = 0; j < m; ++j)
    if (places[size_t(j)]) out[at[j]] = true;
  return chosen;
}

torch::Tensor morton_order_key(const torch::Tensor& selected, const torch::Tensor& columns) {
  const int64_t d = columns.size(1);
  if (d < 1 || d > 4) throw std::invalid_argument("morton_order_key: between 1 and 4 variables");
  const int bits = std::min<int>(20, int(52 / d));
  const torch::Tensor key = torch::zeros({selected.size(0)}, torch::kFloat64);
  const torch::Tensor index = selected.nonzero().select(1, 0);
  const int64_t m = index.size(0);
  if (m == 0) return key;
  std::vector<uint64_t> code(size_t(m), 0);
  const double levels = std::ldexp(1.0, bits);
  for (int64_t k = 0; k < d; ++k) {
    const torch::Tensor order =
        std::get<1>(columns.select(1, k).index_select(0, index).to(torch::kFloat64).sort(/*stable=*/true, 0, false));
    const torch::Tensor ordered = order.contiguous();
    const int64_t* at = ordered.data_ptr<int64_t>();
    for (int64_t r = 0; r < m; ++r) {
      const uint64_t level = uint64_t(std::floor(double(r) * levels / double(m)));
      for (int b = 0; b < bits; ++b)
        if (level >> b & 1ULL) code[size_t(at[r])] |= 1ULL << (b * d + (d - 1 - k));
    }
  }
  const torch::Tensor selected_index = index.contiguous();
  double* out = key.data_ptr<double>();
  const int64_t* rows = selected_index.data_ptr<int64_t>();
  for (int64_t j = 0; j < m; ++j) out[rows[j]] = double(code[size_t(j)]);
  return key;
}

}  // namespace refinery
