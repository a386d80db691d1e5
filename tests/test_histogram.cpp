// The trainable histogram: exact counts forward, the kernel surrogate's
// derivative backward (checked by finite differences), conservation of the
// total, double backward.
#include "testing.hpp"

#include "src/autograd/histogram.h"
#include "src/core/error.h"

using namespace refinery;

namespace {

torch::Tensor grad_of(const torch::Tensor& out, const torch::Tensor& wrt, bool create_graph = false) {
  return torch::autograd::grad({out}, {wrt}, {}, /*retain_graph=*/true, create_graph)[0];
}

}  // namespace

TEST_CASE("Histogram forward: exact weighted counts, out-of-range values in the edge bins", "[histogram]") {
  torch::Tensor s = torch::tensor({-0.5, 0.0, 0.05, 0.1, 0.34, 0.5, 0.99, 1.0, 1.7}, torch::kFloat64);
  torch::Tensor w = torch::tensor({1.0, 2.0, 0.5, 1.5, 3.0, 0.25, 1.0, 2.0, 4.0}, torch::kFloat64);
  torch::Tensor h = histogram(s, w, HistogramOptions(4, 0.0, 1.0));
  // Bins [0,.25) [.25,.5) [.5,.75) [.75,1]: -0.5, 0, 0.05, 0.1 | 0.34 | 0.5 | 0.99, 1.0, 1.7
  std::vector<double> want{1.0 + 2.0 + 0.5 + 1.5, 3.0, 0.25, 1.0 + 2.0 + 4.0};
  for (int b = 0; b < 4; ++b) REQUIRE(h[b].item<double>() == want[b]);
  // Random values against a plain loop.
  torch::Generator gen = at::make_generator<at::CPUGeneratorImpl>(3);
  torch::Tensor r = torch::rand({5000}, gen, torch::kFloat32);
  torch::Tensor rw = torch::rand({5000}, gen, torch::kFloat64);
  torch::Tensor hr = histogram(r, rw, HistogramOptions(20, 0.0, 1.0));
  std::vector<double> loop(20, 0.0);
  for (int64_t i = 0; i < 5000; ++i) loop[std::min<int64_t>(19, (int64_t)std::floor(r[i].item<float>() * 20.0))] += rw[i].item<double>();
  for (int b = 0; b < 20; ++b) REQUIRE(hr[b].item<double>() == Approx(loop[b]).epsilon(1e-12));
  REQUIRE_THROWS_AS(histogram(s, w, HistogramOptions(0, 0.0, 1.0)), InputError);
  REQUIRE_THROWS_AS(histogram(s, w.narrow(0, 0, 3), HistogramOptions(4, 0.0, 1.0)), InputError);
}

TEST_CASE("Histogram backward: the surrogate's derivative, by finite differences", "[histogram]") {
  for (auto kernel : {HistogramKernel::kGaussian, HistogramKernel::kTriangular}) {
    for (double width : {1.0, 0.5}) {
      torch::Generator gen = at::make_generator<at::CPUGeneratorImpl>(7);
      torch::Tensor s = (torch::rand({40}, gen, torch::kFloat64) * 1.2 - 0.1).requires_grad_(true);
      torch::Tensor w = (torch::rand({40}, gen, torch::kFloat64) + 0.5).requires_grad_(true);
      torch::Tensor g = torch::randn({10}, gen, torch::kFloat64);
      HistogramOptions o = HistogramOptions(10, 0.0, 1.0).width(width).kernel(kernel);
      torch::Tensor gs = grad_of((histogram(s, w, o) * g).sum(), s);
      torch::Tensor gw = grad_of((histogram(s, w, o) * g).sum(), w);
      const double eps = 1e-6;
      for (int64_t j = 0; j < 40; ++j) {
        torch::Tensor sp = s.detach().clone(), sm = s.detach().clone();
        sp[j] += eps;
        sm[j] -= eps;
        const double fd = ((surrogate_histogram(sp, w.detach(), o) - surrogate_histogram(sm, w.detach(), o)) * g)
                              .sum()
                              .item<double>() /
                          (2 * eps);
        INFO("kernel " << (int)kernel << " width " << width << " event " << j);
        REQUIRE(gs[j].item<double>() == Approx(fd).margin(1e-6));
      }
      // d h_b / d w_j is the exact indicator: the upstream gradient of the event's bin.
      torch::Tensor bin = (s.detach() * 10).floor().clamp(0, 9).to(torch::kLong);
      REQUIRE(torch::allclose(gw, g.index_select(0, bin), 0, 1e-15));
      // Moving an event never changes the total.
      torch::Tensor g_total = grad_of(histogram(s, w, o).sum(), s);
      REQUIRE(g_total.abs().max().item<double>() < 1e-12);
    }
  }
}

TEST_CASE("Histogram double backward equals the surrogate's second derivative", "[histogram]") {
  torch::Generator gen = at::make_generator<at::CPUGeneratorImpl>(11);
  torch::Tensor s = torch::rand({30}, gen, torch::kFloat64).requires_grad_(true);
  torch::Tensor w = torch::rand({30}, gen, torch::kFloat64) + 0.5;
  torch::Tensor g = torch::randn({8}, gen, torch::kFloat64);
  HistogramOptions o(8, 0.0, 1.0);
  torch::Tensor first = grad_of((histogram(s, w, o) * g).sum(), s, true);
  torch::Tensor second = grad_of(first.pow(2).sum(), s);
  torch::Tensor first_ref = grad_of((surrogate_histogram(s, w, o) * g).sum(), s, true);
  torch::Tensor second_ref = grad_of(first_ref.pow(2).sum(), s);
  REQUIRE(torch::allclose(first, first_ref, 1e-12, 1e-12));
  REQUIRE(torch::allclose(second, second_ref, 1e-10, 1e-10));
  REQUIRE(second.abs().sum().item<double>() > 0);
}

TEST_CASE("Multiclass histogram: argmax class blocks, gradient through the binned output", "[histogram]") {
  torch::Tensor p = torch::tensor({{0.7, 0.2, 0.1}, {0.1, 0.8, 0.1}, {0.3, 0.3, 0.4}, {0.96, 0.02, 0.02}},
                                  torch::kFloat64)
                        .requires_grad_(true);
  torch::Tensor w = torch::tensor({1.0, 2.0, 3.0, 4.0}, torch::kFloat64);
  torch::Tensor h = multiclass_histogram(p, w, 2);
  // Per class bins of [1/3, 1]: edge 2/3. Event 0 -> class 0 bin 1; 1 -> class 1 bin 1;
  // 2 -> class 2 bin 0; 3 -> class 0 bin 1.
  std::vector<double> want{0, 5, 0, 2, 3, 0};
  for (int b = 0; b < 6; ++b) REQUIRE(h[b].item<double>() == want[b]);
  torch::Tensor gp = grad_of((h * torch::arange(6, torch::kFloat64)).sum(), p);
  // Only the assigned class's output of each event receives a gradient.
  REQUIRE(gp[0][1].item<double>() == 0.0);
  REQUIRE(gp[2][0].item<double>() == 0.0);
  REQUIRE(gp[2][2].item<double>() != 0.0);
}

TEST_CASE("Softmax histogram: argmax counts forward, soft-assignment gradient backward", "[histogram]") {
  torch::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
  torch::Tensor logits = torch::randn({25, 4}, gen, torch::kFloat64).requires_grad_(true);
  torch::Tensor w = torch::rand({25}, gen, torch::kFloat64) + 0.5;
  torch::Tensor g = torch::randn({4}, gen, torch::kFloat64);
  for (double t : {1.0, 0.5}) {
    torch::Tensor h = softmax_histogram(logits, w, t);
    torch::Tensor want = torch::zeros({4}, torch::kFloat64).index_add_(0, logits.detach().argmax(1), w);
    REQUIRE(torch::equal(h, want));
    torch::Tensor first = grad_of((h * g).sum(), logits, true);
    torch::Tensor soft = torch::mv(torch::softmax(logits / t, 1).t(), w);
    torch::Tensor first_ref = grad_of((soft * g).sum(), logits, true);
    REQUIRE(torch::allclose(first, first_ref, 1e-12, 1e-14));
    REQUIRE(torch::allclose(grad_of(first.pow(2).sum(), logits), grad_of(first_ref.pow(2).sum(), logits), 1e-10, 1e-12));
  }
  REQUIRE_THROWS_AS(softmax_histogram(logits, w, 0.0), InputError);
}
