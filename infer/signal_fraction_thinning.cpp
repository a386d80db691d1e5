#include "infer/signal_fraction_thinning.h"

#include "src/core/random_seed.h"

namespace refinery {

namespace {
// Uniform in [0, 1) from the event number and the rule: its own stream,
// independent of the simulator's (which thinned mc.h5 by features).
double uniform_of(int64_t event, size_t rule) {
  const uint64_t h = stream_seed(0x7468696e6e696e67ULL /* "thinning" */, {uint64_t(event), uint64_t(rule)});
  return double(h >> 11) * 0x1.0p-53;
}
}  // namespace

ThinningSelection select_by_signal_fraction(const torch::Tensor& process, const torch::Tensor& signal_fraction,
                                            const torch::Tensor& event_numbers,
                                            const std::vector<SignalFractionThinning>& rules) {
  const int64_t n = process.size(0);
  const torch::Tensor proc = process.to(torch::kInt64).contiguous();
  const torch::Tensor fs = signal_fraction.to(torch::kFloat64).contiguous();
  const torch::Tensor ev = event_numbers.defined() ? event_numbers.to(torch::kInt64).contiguous() : torch::Tensor();
  const int64_t* p = proc.data_ptr<int64_t>();
  const double* f = fs.data_ptr<double>();
  const int64_t* e = ev.defined() ? ev.data_ptr<int64_t>() : nullptr;
  std::vector<int64_t> rows;
  std::vector<double> factor;
  rows.reserve(size_t(n));
  factor.reserve(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    double w = 1.0;
    bool kept = true;
    for (size_t r = 0; r < rules.size() && kept; ++r) {
      const SignalFractionThinning& t = rules[r];
      if (p[i] != t.process || !(f[i] < t.signal_fraction_below)) continue;
      kept = uniform_of(e ? e[i] : i, r) < t.keep;
      w /= t.keep;
    }
    if (!kept) continue;
    rows.push_back(i);
    factor.push_back(w);
  }
  ThinningSelection s;
  s.rows = torch::tensor(rows, torch::kInt64);
  s.weight_factor = torch::tensor(factor, torch::kFloat64);
  return s;
}

}  // namespace refinery
