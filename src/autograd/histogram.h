// A histogram that networks can be trained through (design.md section 5).
//
// Forward: the exact weighted bin counts h_b = sum_j w_j 1[s_j in bin b] of
// values s (a network output) on `bins` equal bins of [lo, hi]; values
// outside the range count in the first or last bin, so no event is lost.
// Backward: the exact counts have zero derivative almost everywhere, so the
// gradient is that of a surrogate: the bin indicator convolved with a kernel
// K of scale `width` bin widths,
//     h~_b(s) = sum_j w_j [ C(e_{b+1} - s_j) - C(e_b - s_j) ],
//     d h~_b / d s_j = w_j [ K(e_b - s_j) - K(e_{b+1} - s_j) ],
// with C the kernel's CDF, e_b the bin edges and the outer edges at -inf and
// +inf (so sum_b d h~_b / d s_j = 0: moving an event never changes the
// total). K is a Gaussian of standard deviation width x bin width (default
// width 1) or a triangle of half-width width x bin width. d h_b / d w_j is
// the exact 1[s_j in bin b]. The backward is written in differentiable
// operations, so it can itself be differentiated (double backward).
// Non-finite values or weights are an InputError.
#pragma once
#include <torch/torch.h>

namespace refinery {

enum class HistogramKernel { kGaussian, kTriangular };

struct HistogramOptions {
  HistogramOptions(int64_t bins, double lo, double hi) : bins_(bins), lo_(lo), hi_(hi) {}
  TORCH_ARG(int64_t, bins);
  TORCH_ARG(double, lo);
  TORCH_ARG(double, hi);
  TORCH_ARG(double, width) = 1.0;  // kernel scale in bin widths
  TORCH_ARG(HistogramKernel, kernel) = HistogramKernel::kGaussian;
};

// Exact counts forward, surrogate gradient backward. s [N], w [N] -> [bins]
// (float64).
torch::Tensor histogram(const torch::Tensor& s, const torch::Tensor& w, const HistogramOptions& options);

// The bin of every value of s (float64 arithmetic; values outside [lo, hi]
// in the edge bins): the counts `histogram` makes, event by event. [N] int64.
torch::Tensor histogram_bin(const torch::Tensor& s, int64_t bins, double lo, double hi);

// The smooth surrogate h~ itself (differentiable by ordinary autograd); its
// gradient is the histogram's backward.
torch::Tensor surrogate_histogram(const torch::Tensor& s, const torch::Tensor& w, const HistogramOptions& options);

// Per-class bins for softmax outputs p [N,C]: every event is assigned to the
// class of its largest output and binned in that output over [1/C, 1] with
// `bins_per_class` bins; returns [C * bins_per_class]. The assignment is
// piecewise constant; the gradient flows through the binned value.
// With `surrogate`, the smooth surrogate of each class's histogram.
torch::Tensor multiclass_histogram(const torch::Tensor& p, const torch::Tensor& w, int64_t bins_per_class,
                                   double width = 1.0, HistogramKernel kernel = HistogramKernel::kGaussian,
                                   bool surrogate = false);

// The bin of `multiclass_histogram` event by event: c * bins_per_class + the
// bin of p_c over [1/C, 1], c the class of the largest output. [N] int64.
torch::Tensor multiclass_bin(const torch::Tensor& p, int64_t bins_per_class);

// Bins chosen by the network itself (INFERNO's summary): an event falls in
// the bin of its largest logit. Forward: the exact weighted counts of the
// argmax [C]; backward: the gradient of the soft assignment
// sum_j w_j softmax(logits_j / temperature), written in differentiable
// operations (double backward works). logits [N,C], w [N].
torch::Tensor softmax_histogram(const torch::Tensor& logits, const torch::Tensor& w, double temperature = 1.0);

}  // namespace refinery
