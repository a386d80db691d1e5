#include "infer/signal_fraction_thinning.h"

#include "data/systematic_sampling.h"
#include "src/core/random_seed.h"

#include <algorithm>
#include <vector>

namespace refinery {

namespace {
// Uniform in [0, 1) from the event number and the rule: its own stream,
// independent of the simulator's (which thinned mc.h5 by features).
double uniform_of(int64_t event, size_t rule) {
  return unit_interval(stream_seed(0x7468696e6e696e67ULL /* "thinning" */, {uint64_t(event), uint64_t(rule)}));
}

// A stratified rule's choice (per row): its eligible rows ordered by
// (group, order, fraction, event number), kept at the systematic places.
std::vector<char> systematic_rows(const int64_t* p, const double* f, const int64_t* e, const int64_t* g, const double* o,
                                  int64_t n, const SignalFractionThinning& t, size_t rule) {
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < n; ++i)
    if (p[i] == t.process && t.covers(f[i])) rows.push_back(i);
  auto number = [&](int64_t i) { return e ? e[i] : i; };
  auto group = [&](int64_t i) { return g ? g[i] : int64_t(0); };
  std::sort(rows.begin(), rows.end(), [&](int64_t a, int64_t b) {
    if (group(a) != group(b)) return group(a) < group(b);
    if (o && o[a] != o[b]) return o[a] < o[b];
    if (f[a] != f[b]) return f[a] < f[b];
    return number(a) < number(b);
  });
  const double start = unit_interval(stream_seed(0x7468696e6e696e67ULL /* "thinning" */, {uint64_t(rule), uint64_t(rows.size()), 0x73797374ULL}));
  const std::vector<char> places = systematic_places(int64_t(rows.size()), t.keep, start);
  std::vector<char> chosen(size_t(n), 0);
  for (size_t j = 0; j < rows.size(); ++j) chosen[size_t(rows[j])] = places[j];
  return chosen;
}
}  // namespace

torch::Tensor stratified_order(const torch::Tensor& order, const torch::Tensor& selected, const torch::Tensor& features) {
  const torch::Tensor columns = torch::cat({order.to(torch::kFloat64).unsqueeze(1), features.to(torch::kFloat64)}, 1);
  return torch::where(selected, morton_order_key(selected, columns), order.to(torch::kFloat64));
}

ThinningSelection select_by_signal_fraction(const torch::Tensor& process, const torch::Tensor& signal_fraction,
                                            const torch::Tensor& event_numbers,
                                            const std::vector<SignalFractionThinning>& rules, const torch::Tensor& group,
                                            const torch::Tensor& order) {
  const int64_t n = process.size(0);
  const torch::Tensor proc = process.to(torch::kInt64).contiguous();
  const torch::Tensor fs = signal_fraction.to(torch::kFloat64).contiguous();
  const torch::Tensor ev = event_numbers.defined() ? event_numbers.to(torch::kInt64).contiguous() : torch::Tensor();
  const int64_t* p = proc.data_ptr<int64_t>();
  const double* f = fs.data_ptr<double>();
  const int64_t* e = ev.defined() ? ev.data_ptr<int64_t>() : nullptr;
  const torch::Tensor gr = group.defined() ? group.to(torch::kInt64).contiguous() : torch::Tensor();
  const int64_t* g = gr.defined() ? gr.data_ptr<int64_t>() : nullptr;
  // (not-a-number would break the sort's ordering: read as 0)
  const torch::Tensor od = order.defined() ? torch::nan_to_num(order.to(torch::kFloat64), 0.0).contiguous() : torch::Tensor();
  const double* o = od.defined() ? od.data_ptr<double>() : nullptr;
  std::vector<std::vector<char>> systematic(rules.size());
  for (size_t r = 0; r < rules.size(); ++r)
    if (rules[r].stratified) systematic[r] = systematic_rows(p, f, e, g, o, n, rules[r], r);
  std::vector<int64_t> rows;
  std::vector<double> factor, variance;
  rows.reserve(size_t(n));
  factor.reserve(size_t(n));
  variance.reserve(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    double w = 1.0, v = 1.0;
    bool kept = true;
    for (size_t r = 0; r < rules.size() && kept; ++r) {
      const SignalFractionThinning& t = rules[r];
      if (p[i] != t.process || !t.covers(f[i])) continue;
      kept = t.stratified ? systematic[r][size_t(i)] != 0 : uniform_of(e ? e[i] : i, r) < t.keep;
      w /= t.keep;
      if (t.stratified) v *= t.keep;
    }
    if (!kept) continue;
    rows.push_back(i);
    factor.push_back(w);
    variance.push_back(v);
  }
  ThinningSelection s;
  s.rows = torch::tensor(rows, torch::kInt64);
  s.weight_factor = torch::tensor(factor, torch::kFloat64);
  s.variance_factor = torch::tensor(variance, torch::kFloat64);
  return s;
}

}  // namespace refinery
