// The INFERNO synthetic 3D mixture (de Castro & Dorigo, arXiv:1806.04743):
//   background: N((x0,x1) | (2 + r, 0), diag(5, 9)) x Exp(x2 | lambda)
//   signal:     N((x0,x1) | (0, 0), I)              x Exp(x2 | 2)
// with expected counts s (signal, nominal 50) and b (background, 1000), and
// nuisances r (nominal 0) and lambda (nominal 3). Exp(x | l) = l exp(-l x).
// Benchmarks (what is known about the nuisances):
//   0: r, lambda, b fixed                 1: r free
//   2: r, lambda free                     3: r ~ N(0, 0.4), lambda ~ N(3, 1)
//   4: as 3, plus b ~ N(1000, 100)
#pragma once
#include <cstdint>
#include <string>

#include <torch/types.h>

#include "src/io/event_set.h"

namespace refinery::analytic {

struct InfernoParameters {
  double s = 50.0, b = 1000.0, r = 0.0, lambda = 3.0;
};

struct InfernoBenchmark {
  int index;
  bool r_free, lambda_free, b_free;
  double r_sigma, lambda_sigma, b_sigma;  // Gaussian constraint widths (0: unconstrained)
  std::string description;
};
const InfernoBenchmark& inferno_benchmark(int index);  // throws InputError outside 0-4

// Exact log densities (normalised over x in R^2 x [0, inf)), float64 [N].
torch::Tensor inferno_log_pdf_signal(const torch::Tensor& x);
torch::Tensor inferno_log_pdf_background(const torch::Tensor& x, double r, double lambda);
// log of the expected differential count s p_s(x) + b p_b(x|r,lambda).
torch::Tensor inferno_log_intensity(const torch::Tensor& x, const InfernoParameters& p);

// Expected Fisher information of the unbinned extended likelihood in
// (s, r, lambda, b) at p: I_ij = integral d_i nu(x) d_j nu(x) / nu(x) dx with
// nu = s p_s + b p_b, estimated as sum_j w_j d_i log nu(x_j) d_j log nu(x_j)
// over a weighted sample of the full model (weights summing to s + b, e.g.
// inferno_sample at p). float64 [4,4].
torch::Tensor inferno_fisher(const torch::Tensor& x, const torch::Tensor& w, const InfernoParameters& p);
// sigma(s) of a benchmark from that information: the parameters the
// benchmark lets float, their Gaussian constraints added, sqrt((I^-1)_ss).
// The paper's analytic row (14.71 / 15.52 / 15.65 / 15.62 / 16.89) is
// reproduced to its MC precision (docs/sannt.md).
double inferno_sigma_s(const torch::Tensor& fisher, int benchmark);

// Draws n_signal and n_background events (features float32 [N,3]; process 0
// signal, 1 background; weights s/n_signal and b/n_background).
EventSet inferno_sample(std::int64_t n_signal, std::int64_t n_background,
                        const InfernoParameters& p, torch::Generator& gen);
EventMeta inferno_meta();

}  // namespace refinery::analytic
