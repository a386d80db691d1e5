#include "src/calibration/isotonic.h"

#include <vector>

#include "src/core/error.h"

namespace refinery {

torch::Tensor interpolate_table(const torch::Tensor& v, const torch::Tensor& x, const torch::Tensor& y) {
  const int64_t k = x.size(0);
  torch::Tensor xv = x.to(v.scalar_type()), yv = y.to(v.scalar_type());
  if (k == 1) return torch::full_like(v, yv[0].item<double>());
  torch::Tensor i = torch::searchsorted(xv, v.contiguous()).clamp(1, k - 1);
  torch::Tensor x0 = xv.index_select(0, (i - 1).flatten()).view_as(v), x1 = xv.index_select(0, i.flatten()).view_as(v);
  torch::Tensor y0 = yv.index_select(0, (i - 1).flatten()).view_as(v), y1 = yv.index_select(0, i.flatten()).view_as(v);
  torch::Tensor t = ((v - x0) / (x1 - x0)).clamp(0.0, 1.0);
  return y0 + t * (y1 - y0);
}

torch::Tensor PiecewiseLinear::operator()(const torch::Tensor& v) const { return interpolate_table(v, x, y); }

PiecewiseLinear fit_isotonic(const torch::Tensor& score_in, const torch::Tensor& target_in,
                             const torch::Tensor& weight_in, int64_t max_bins) {
  const int64_t n = score_in.numel();
  if (n == 0 || target_in.numel() != n || weight_in.numel() != n)
    throw InputError("", "isotonic fit", "score, target and weight need the same, non-zero length");
  torch::Tensor score = score_in.to(torch::kFloat64).flatten(), target = target_in.to(torch::kFloat64).flatten(),
                weight = weight_in.to(torch::kFloat64).flatten();
  if (!torch::isfinite(score).all().item<bool>() || !torch::isfinite(weight).all().item<bool>() ||
      (weight < 0).any().item<bool>())
    throw InputError("", "isotonic fit", "scores and weights must be finite, weights non-negative");
  torch::Tensor order = torch::argsort(score);
  score = score.index_select(0, order).contiguous();
  target = target.index_select(0, order).contiguous();
  weight = weight.index_select(0, order).contiguous();
  const double* s = score.data_ptr<double>();
  const double* t = target.data_ptr<double>();
  const double* w = weight.data_ptr<double>();
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) total += w[i];
  if (!(total > 0)) throw InputError("", "isotonic fit", "total weight is zero");

  // Groups of about equal event count (the statistical precision of a
  // group's frequency follows its number of events, not its weight); equal
  // scores never straddle two groups.
  struct Block {
    double w = 0, ws = 0, wt = 0;  // weight, weighted score and target sums
    double lo = 0, hi = 0;         // smallest and largest score
  };
  std::vector<Block> groups;
  const int64_t per_group = std::max<int64_t>(1, n / std::max<int64_t>(max_bins, 1));
  Block current;
  int64_t in_group = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (in_group == 0) current.lo = s[i];
    current.hi = s[i];
    current.w += w[i];
    current.ws += w[i] * s[i];
    current.wt += w[i] * t[i];
    ++in_group;
    const bool boundary = i + 1 == n || s[i + 1] != s[i];
    if (boundary && in_group >= per_group) {
      in_group = 0;
      groups.push_back(current);
      current = Block{};
    }
  }
  if (current.w > 0) groups.push_back(current);

  // Pool adjacent violators over the groups.
  std::vector<Block> stack;
  for (const Block& g : groups) {
    if (!(g.w > 0)) continue;
    stack.push_back(g);
    while (stack.size() > 1) {
      const Block& b = stack.back();
      const Block& a = stack[stack.size() - 2];
      if (a.wt / a.w <= b.wt / b.w) break;
      Block merged{a.w + b.w, a.ws + b.ws, a.wt + b.wt, a.lo, b.hi};
      stack.pop_back();
      stack.back() = merged;
    }
  }
  // Knots at the blocks' weighted mean scores, holding their values, plus
  // the ends of the fitted range; linear in between.
  std::vector<double> xs, ys;
  auto add = [&](double x, double y) {
    if (!xs.empty() && x <= xs.back()) return;
    xs.push_back(x);
    ys.push_back(y);
  };
  add(stack.front().lo, stack.front().wt / stack.front().w);
  for (const Block& b : stack) add(b.ws / b.w, b.wt / b.w);
  add(stack.back().hi, stack.back().wt / stack.back().w);
  PiecewiseLinear map;
  map.x = torch::tensor(xs, torch::kFloat64);
  map.y = torch::tensor(ys, torch::kFloat64);
  return map;
}

}  // namespace refinery
