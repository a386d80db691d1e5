#include "src/calibration/staged_calibration.h"

#include "src/calibration/isotonic.h"
#include "src/core/error.h"

namespace refinery {

namespace {

// One stage: class c's column replaced by `col`, the other classes scaled to
// share the rest, the floor applied.
torch::Tensor apply_stage(const torch::Tensor& p, int64_t c, const torch::Tensor& col) {
  const int64_t C = p.size(1);
  torch::Tensor others_old = (p.sum(1) - p.select(1, c)).clamp_min(1e-300);
  torch::Tensor scale = ((1.0 - col).clamp_min(0.0) / others_old).unsqueeze(1);
  torch::Tensor q = torch::cat({p.narrow(1, 0, c) * scale, col.unsqueeze(1), p.narrow(1, c + 1, C - c - 1) * scale}, 1);
  q = q.clamp_min(kCalibrationFloor);
  return q / q.sum(1, true);
}

}  // namespace

StagedCalibrationImpl::StagedCalibrationImpl(int64_t c, int64_t k) {
  knots_x = register_buffer("knots_x", torch::zeros({c, k}, torch::kFloat64));
  knots_y = register_buffer("knots_y", torch::zeros({c, k}, torch::kFloat64));
  counts = register_buffer("counts", torch::zeros({c}, torch::kLong));
  stage_order = register_buffer("stage_order", torch::arange(c, torch::kLong));
  fitted_flag = register_buffer("fitted", torch::zeros({}, torch::kBool));
}

void StagedCalibrationImpl::fit(const torch::Tensor& p_in, const torch::Tensor& y, const torch::Tensor& w,
                                int64_t max_bins) {
  torch::NoGradGuard guard;
  if (p_in.dim() != 2 || y.numel() != p_in.size(0) || w.numel() != p_in.size(0))
    throw InputError("", "calibration", "probabilities [N,C], labels [N] and weights [N] expected");
  const int64_t C = p_in.size(1);
  torch::Tensor p = p_in.to(torch::kFloat64);
  std::vector<PiecewiseLinear> maps(C);
  int64_t k_max = 1;
  torch::Tensor class_weight = torch::zeros({C}, torch::kFloat64).index_add_(0, y, w.to(torch::kFloat64));
  torch::Tensor order = torch::argsort(class_weight, 0, /*descending=*/true);
  for (int64_t stage = 0; stage < C; ++stage) {
    const int64_t c = order[stage].item<int64_t>();
    PiecewiseLinear m = fit_isotonic(p.select(1, c), (y == c).to(torch::kFloat64), w, max_bins);
    p = apply_stage(p, c, m(p.select(1, c)));
    k_max = std::max(k_max, m.x.size(0));
    maps[c] = std::move(m);
  }
  knots_x.set_(torch::zeros({C, k_max}, torch::kFloat64));
  knots_y.set_(torch::zeros({C, k_max}, torch::kFloat64));
  counts.set_(torch::zeros({C}, torch::kLong));
  stage_order.set_(order.clone());
  for (int64_t c = 0; c < C; ++c) {
    const int64_t k = maps[c].x.size(0);
    knots_x[c].narrow(0, 0, k).copy_(maps[c].x);
    knots_y[c].narrow(0, 0, k).copy_(maps[c].y);
    // Padding repeats the last knot (never reached: only `counts` knots are read).
    if (k < k_max) {
      knots_x[c].narrow(0, k, k_max - k).fill_(maps[c].x[k - 1].item<double>());
      knots_y[c].narrow(0, k, k_max - k).fill_(maps[c].y[k - 1].item<double>());
    }
    counts[c] = k;
  }
  fitted_flag.fill_(true);
}

torch::Tensor StagedCalibrationImpl::forward(const torch::Tensor& p_in) {
  if (!fitted()) return p_in;
  if (p_in.size(1) != n_classes())
    throw InputError("", "calibration", "calibrated for " + std::to_string(n_classes()) + " classes, got " +
                                            std::to_string(p_in.size(1)));
  torch::Tensor p = p_in.to(torch::kFloat64);
  for (int64_t stage = 0; stage < n_classes(); ++stage) {
    const int64_t c = stage_order[stage].item<int64_t>();
    const int64_t k = counts[c].item<int64_t>();
    torch::Tensor col = interpolate_table(p.select(1, c), knots_x[c].narrow(0, 0, k), knots_y[c].narrow(0, 0, k));
    p = apply_stage(p, c, col);
  }
  return p.to(p_in.scalar_type());
}

}  // namespace refinery
