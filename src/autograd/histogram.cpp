#include "src/autograd/histogram.h"

#include <cmath>

#include "src/core/error.h"

namespace refinery {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void check(const torch::Tensor& s, const torch::Tensor& w, const HistogramOptions& o) {
  if (o.bins() < 1) throw InputError("", "histogram", "needs at least one bin");
  if (!(o.hi() > o.lo())) throw InputError("", "histogram", "range must have hi > lo");
  if (!(o.width() > 0)) throw InputError("", "histogram", "kernel width must be positive");
  if (s.dim() != 1 || w.dim() != 1 || s.size(0) != w.size(0))
    throw InputError("", "histogram", "values and weights must be 1-D of the same length");
  if (!torch::isfinite(s).all().item<bool>() || !torch::isfinite(w).all().item<bool>())
    throw InputError("", "histogram", "non-finite value or weight (a diverged network?)");
}

// Interior edges e_1..e_{B-1} as float64.
torch::Tensor interior_edges(const HistogramOptions& o) {
  const double dx = (o.hi() - o.lo()) / o.bins();
  return torch::arange(1, o.bins(), torch::kFloat64) * dx + o.lo();
}


double kernel_scale(const HistogramOptions& o) { return o.width() * (o.hi() - o.lo()) / o.bins(); }

// Kernel density K(u) and CDF C(u) at u = edge - s ([N, B-1]).
torch::Tensor kernel_pdf(const torch::Tensor& u, const HistogramOptions& o) {
  const double a = kernel_scale(o);
  if (o.kernel() == HistogramKernel::kGaussian)
    return torch::exp(-0.5 * (u / a).pow(2)) / (a * std::sqrt(2.0 * M_PI));
  return torch::clamp(a - u.abs(), 0.0) / (a * a);
}

torch::Tensor kernel_cdf(const torch::Tensor& u, const HistogramOptions& o) {
  const double a = kernel_scale(o);
  if (o.kernel() == HistogramKernel::kGaussian) return 0.5 * torch::erfc(-u / (a * std::sqrt(2.0)));
  torch::Tensor t = torch::clamp(u / a, -1.0, 1.0);
  return torch::where(t < 0, 0.5 * (1 + t).pow(2), 1 - 0.5 * (1 - t).pow(2));
}

// Differences over adjacent edges with the outer edges at -inf and +inf:
// per bin, F(e_b) - F(e_{b+1}) for F given at the interior edges [N, B-1]
// and its limits at -inf and +inf.
torch::Tensor edge_differences(const torch::Tensor& at_edges, double at_minus_inf, double at_plus_inf) {
  const int64_t n = at_edges.size(0);
  torch::Tensor lower = torch::cat({torch::full({n, 1}, at_minus_inf, at_edges.options()), at_edges}, 1);
  torch::Tensor upper = torch::cat({at_edges, torch::full({n, 1}, at_plus_inf, at_edges.options())}, 1);
  return lower - upper;
}

class HistogramFunction : public torch::autograd::Function<HistogramFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& s, const torch::Tensor& w, int64_t bins,
                               double lo, double hi, double width, int64_t kernel) {
    ctx->save_for_backward({s, w});
    ctx->saved_data["bins"] = bins;
    ctx->saved_data["lo"] = lo;
    ctx->saved_data["hi"] = hi;
    ctx->saved_data["width"] = width;
    ctx->saved_data["kernel"] = kernel;
    return torch::zeros({bins}, torch::kFloat64).index_add_(0, histogram_bin(s, bins, lo, hi), w.detach().to(torch::kFloat64));
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor& s = saved[0];
    const torch::Tensor& w = saved[1];
    HistogramOptions o(ctx->saved_data["bins"].toInt(), ctx->saved_data["lo"].toDouble(),
                       ctx->saved_data["hi"].toDouble());
    o.width(ctx->saved_data["width"].toDouble()).kernel(static_cast<HistogramKernel>(ctx->saved_data["kernel"].toInt()));
    const torch::Tensor& g = grad_out[0].to(torch::kFloat64);  // [B]
    torch::Tensor s64 = s.to(torch::kFloat64), w64 = w.to(torch::kFloat64);
    torch::Tensor u = interior_edges(o).unsqueeze(0) - s64.unsqueeze(1);           // [N, B-1]
    torch::Tensor dh_ds = edge_differences(kernel_pdf(u, o), 0.0, 0.0);             // K(e_b - s) - K(e_{b+1} - s)
    torch::Tensor grad_s = (w64 * torch::mv(dh_ds, g)).to(s.scalar_type());
    torch::Tensor grad_w = g.index_select(0, histogram_bin(s, o.bins(), o.lo(), o.hi())).to(w.scalar_type());
    return {grad_s, grad_w, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

class SoftmaxHistogramFunction : public torch::autograd::Function<SoftmaxHistogramFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits, const torch::Tensor& w,
                               double temperature) {
    ctx->save_for_backward({logits, w});
    ctx->saved_data["temperature"] = temperature;
    return torch::zeros({logits.size(1)}, torch::kFloat64)
        .index_add_(0, logits.detach().argmax(1), w.detach().to(torch::kFloat64));
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor& logits = saved[0];
    const torch::Tensor& w = saved[1];
    const double t = ctx->saved_data["temperature"].toDouble();
    torch::Tensor g = grad_out[0].to(torch::kFloat64);                         // [C]
    torch::Tensor p = torch::softmax(logits.to(torch::kFloat64) / t, 1);      // [N,C]
    torch::Tensor pg = torch::mv(p, g).unsqueeze(1);                          // [N,1]
    torch::Tensor grad_logits = (w.to(torch::kFloat64).unsqueeze(1) * p * (g.unsqueeze(0) - pg) / t);
    torch::Tensor grad_w = g.index_select(0, logits.detach().argmax(1));
    return {grad_logits.to(logits.scalar_type()), grad_w.to(w.scalar_type()), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor softmax_histogram(const torch::Tensor& logits, const torch::Tensor& w, double temperature) {
  if (logits.dim() != 2 || w.dim() != 1 || logits.size(0) != w.size(0))
    throw InputError("", "histogram", "logits [N,C] and weights [N] expected");
  if (!(temperature > 0)) throw InputError("", "histogram", "temperature must be positive");
  if (!torch::isfinite(logits).all().item<bool>() || !torch::isfinite(w).all().item<bool>())
    throw InputError("", "histogram", "non-finite value or weight (a diverged network?)");
  return SoftmaxHistogramFunction::apply(logits, w, temperature);
}

torch::Tensor histogram(const torch::Tensor& s, const torch::Tensor& w, const HistogramOptions& o) {
  check(s, w, o);
  return HistogramFunction::apply(s, w, o.bins(), o.lo(), o.hi(), o.width(), static_cast<int64_t>(o.kernel()));
}

torch::Tensor surrogate_histogram(const torch::Tensor& s, const torch::Tensor& w, const HistogramOptions& o) {
  check(s, w, o);
  torch::Tensor u = interior_edges(o).unsqueeze(0) - s.to(torch::kFloat64).unsqueeze(1);
  // C(e_{b+1} - s) - C(e_b - s) = -(F(e_b) - F(e_{b+1})) with C(-inf) = 0, C(+inf) = 1.
  torch::Tensor share = -edge_differences(kernel_cdf(u, o), 0.0, 1.0);
  return torch::mv(share.t(), w.to(torch::kFloat64));
}

torch::Tensor histogram_bin(const torch::Tensor& s, int64_t bins, double lo, double hi) {
  return ((s.detach().to(torch::kFloat64) - lo) * (bins / (hi - lo))).floor().clamp(0, bins - 1).to(torch::kLong);
}

torch::Tensor multiclass_bin(const torch::Tensor& p, int64_t bins_per_class) {
  const int64_t C = p.size(1);
  torch::Tensor assigned = p.detach().argmax(1);
  torch::Tensor value = p.detach().gather(1, assigned.unsqueeze(1)).squeeze(1);
  return assigned * bins_per_class + histogram_bin(value, bins_per_class, 1.0 / C, 1.0);
}

torch::Tensor multiclass_histogram(const torch::Tensor& p, const torch::Tensor& w, int64_t bins, double width,
                                   HistogramKernel kernel, bool surrogate) {
  if (p.dim() != 2 || p.size(1) < 2) throw InputError("", "histogram", "class outputs [N,C] with C >= 2 expected");
  const int64_t C = p.size(1);
  torch::Tensor assigned = p.detach().argmax(1);
  torch::Tensor value = p.gather(1, assigned.unsqueeze(1)).squeeze(1);
  std::vector<torch::Tensor> parts;
  for (int64_t c = 0; c < C; ++c) {
    torch::Tensor mask = (assigned == c).to(w.scalar_type());
    const HistogramOptions o = HistogramOptions(bins, 1.0 / C, 1.0).width(width).kernel(kernel);
    parts.push_back(surrogate ? surrogate_histogram(value, w * mask, o) : histogram(value, w * mask, o));
  }
  return torch::cat(parts);
}

}  // namespace refinery
