#include "data/analytic/inferno.h"

#include <torch/torch.h>

#include <cmath>

#include "src/core/error.h"
#include "src/core/float64.h"

namespace refinery::analytic {

namespace {
constexpr double kLog2Pi = 1.8378770664093453;
}  // namespace

const InfernoBenchmark& inferno_benchmark(int index) {
  static const InfernoBenchmark benchmarks[5] = {
      {0, false, false, false, 0, 0, 0, "only s free; r, lambda, b fixed"},
      {1, true, false, false, 0, 0, 0, "r free (unconstrained)"},
      {2, true, true, false, 0, 0, 0, "r and lambda free (unconstrained)"},
      {3, true, true, false, 0.4, 1.0, 0, "r ~ N(0, 0.4), lambda ~ N(3, 1)"},
      {4, true, true, true, 0.4, 1.0, 100.0, "as 3, plus b ~ N(1000, 100)"},
  };
  if (index < 0 || index > 4)
    throw InputError("", "benchmark", "INFERNO benchmark must be 0-4, got " + std::to_string(index));
  return benchmarks[index];
}

torch::Tensor inferno_log_pdf_signal(const torch::Tensor& xin) {
  torch::Tensor x = xin.to(torch::kFloat64);
  torch::Tensor x0 = x.select(1, 0), x1 = x.select(1, 1), x2 = x.select(1, 2);
  torch::Tensor gauss = -kLog2Pi - 0.5 * (x0 * x0 + x1 * x1);
  torch::Tensor expo = std::log(2.0) - 2.0 * x2;
  return torch::where(x2 >= 0, gauss + expo, torch::full_like(x2, -INFINITY));
}

torch::Tensor inferno_log_pdf_background(const torch::Tensor& xin, double r, double lambda) {
  torch::Tensor x = xin.to(torch::kFloat64);
  torch::Tensor x0 = x.select(1, 0), x1 = x.select(1, 1), x2 = x.select(1, 2);
  torch::Tensor gauss = -kLog2Pi - 0.5 * std::log(5.0 * 9.0) -
                        0.5 * ((x0 - 2.0 - r).pow(2) / 5.0 + x1 * x1 / 9.0);
  torch::Tensor expo = std::log(lambda) - lambda * x2;
  return torch::where(x2 >= 0, gauss + expo, torch::full_like(x2, -INFINITY));
}

torch::Tensor inferno_log_intensity(const torch::Tensor& x, const InfernoParameters& p) {
  return torch::logaddexp(std::log(p.s) + inferno_log_pdf_signal(x),
                          std::log(p.b) + inferno_log_pdf_background(x, p.r, p.lambda));
}

EventSet inferno_sample(int64_t ns, int64_t nb, const InfernoParameters& p, torch::Generator& g) {
  if (ns < 0 || nb < 0) throw InputError("", "events", "negative event count");
  auto expo = [&](int64_t n, double rate) {
    return -torch::log(torch::rand({n}, g, kF64).clamp_min(1e-300)) / rate;
  };
  torch::Tensor sig = torch::stack({torch::randn({ns}, g, kF64), torch::randn({ns}, g, kF64),
                                    expo(ns, 2.0)},
                                   1);
  torch::Tensor bkg = torch::stack({2.0 + p.r + std::sqrt(5.0) * torch::randn({nb}, g, kF64),
                                    3.0 * torch::randn({nb}, g, kF64), expo(nb, p.lambda)},
                                   1);
  EventSet e;
  e.features = torch::cat({sig, bkg}).to(torch::kFloat32);
  e.weights = torch::cat({torch::full({ns}, ns ? p.s / ns : 0.0, kF64),
                          torch::full({nb}, nb ? p.b / nb : 0.0, kF64)});
  e.process = torch::cat({torch::zeros({ns}, torch::kInt32), torch::ones({nb}, torch::kInt32)});
  return e;
}

torch::Tensor inferno_fisher(const torch::Tensor& x_in, const torch::Tensor& w, const InfernoParameters& p) {
  torch::Tensor x = x_in.to(kF64);
  torch::Tensor ls = std::log(p.s) + inferno_log_pdf_signal(x);
  torch::Tensor lb = std::log(p.b) + inferno_log_pdf_background(x, p.r, p.lambda);
  torch::Tensor ln = torch::logaddexp(ls, lb);
  torch::Tensor fs = torch::exp(ls - ln), fb = torch::exp(lb - ln);  // shares of nu(x)
  torch::Tensor x0 = x.select(1, 0), x2 = x.select(1, 2);
  // d log nu / d(s, r, lambda, b)
  torch::Tensor d = torch::stack({fs / p.s, fb * (x0 - 2.0 - p.r) / 5.0, fb * (1.0 / p.lambda - x2), fb / p.b}, 1);
  return torch::matmul(d.t() * w.to(kF64), d);
}

double inferno_sigma_s(const torch::Tensor& fisher, int benchmark) {
  const InfernoBenchmark& bm = inferno_benchmark(benchmark);
  std::vector<int64_t> keep{0};
  std::vector<double> penalty{0.0};
  if (bm.r_free) keep.push_back(1), penalty.push_back(bm.r_sigma > 0 ? 1.0 / (bm.r_sigma * bm.r_sigma) : 0.0);
  if (bm.lambda_free)
    keep.push_back(2), penalty.push_back(bm.lambda_sigma > 0 ? 1.0 / (bm.lambda_sigma * bm.lambda_sigma) : 0.0);
  if (bm.b_free) keep.push_back(3), penalty.push_back(bm.b_sigma > 0 ? 1.0 / (bm.b_sigma * bm.b_sigma) : 0.0);
  torch::Tensor idx = torch::tensor(keep, torch::kLong);
  torch::Tensor F = fisher.index_select(0, idx).index_select(1, idx) + torch::diag(torch::tensor(penalty, kF64));
  return std::sqrt(torch::linalg::inv(F)[0][0].item<double>());
}

EventMeta inferno_meta() {
  EventMeta m;
  m.feature_names = {"x0", "x1", "x2"};
  m.process_names = {"signal", "background"};
  m.generator = "inferno";
  m.generator_version = "1.0";
  return m;
}

}  // namespace refinery::analytic
