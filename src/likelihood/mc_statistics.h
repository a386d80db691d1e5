// Simulated-sample statistics in the likelihood (design.md section 2): the
// Barlow-Beeston-lite term, its one definition.
//
// Expected counts come from a finite simulated sample, so each bin's count
// lambda carries a relative statistical error delta = sqrt(sum w^2) / sum w
// (the bin's simulated weights), as if the sample held tau = 1 / delta^2
// unweighted events there (its effective number). One factor gamma >= 0 per
// bin, shared by the processes, multiplies lambda; the simulated sample is
// its auxiliary measurement, tau events observed where gamma tau are
// expected (a Poisson constraint, pyhf's shapesys form). Its contribution to
// -log L, relative to gamma = 1 and profiled over gamma, is
//
//   m(lambda; n, tau) = min_gamma [ (gamma - 1)(lambda + tau) - (n + tau) log gamma ]
//                     = (n - lambda) - (n + tau) log((n + tau) / (lambda + tau)),
//   gamma_hat = (n + tau) / (lambda + tau),
//   dm/dlambda = gamma_hat - 1,   d2m/dlambda2 = -gamma_hat / (lambda + tau),
//
// added to the bin's Poisson term (binned regions) or, in an unbinned region,
// to the extended term of the events in a cell of the classifier output (the
// unbinned likelihood factorises into the cells' counts times the densities
// within the cells, and gamma only changes the counts); m = 0 when n = lambda.
// Barlow and Beeston, Comput. Phys. Commun. 77 (1993) 219; one factor per
// bin shared by the processes ("lite"): J. S. Conway, arXiv:1103.0354, and
// CMS Combine's autoMCStats. The Poisson constraint rather than the Gaussian
// N(1, delta) of pyhf's staterror: with few simulated events in a bin the
// Gaussian biases the fit (cells with fewer events get wider constraints);
// measured on the Gaussian toy over six seeds (REFINERY_MCSTAT_SEEDS in
// tests/test_mc_statistics.cpp), figures in the H->tautau document.
//
// `mc_statistics` (LibTorch) is the definition: gradients reach lambda and,
// through it, parameters and networks. `profile_mc_statistics` is the
// closed-form backend the fused likelihood evaluates, held equal to it by
// tests/test_definitions.cpp.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace refinery::likelihood {

// Sum over bins of m(lambda_b; n_b, delta_b); bins with delta_b <= 0 add
// nothing. lambda, observed, delta: float64 [B].
torch::Tensor mc_statistics(const torch::Tensor& lambda, const torch::Tensor& observed, const torch::Tensor& delta);

// One bin: the value m, its first and second derivative in lambda, and the
// profiled factor gamma. lambda >= 0, n >= 0, delta > 0.
struct McStatisticsBin {
  double value = 0.0, d1 = 0.0, d2 = 0.0, gamma = 1.0;
};
McStatisticsBin profile_mc_statistics(double lambda, double n, double delta);

}  // namespace refinery::likelihood

namespace refinery::likelihood {

// The cells of an unbinned region's simulated-sample statistics: K - 1
// increasing interior edges in `value` (the classifier output) at which the
// cumulative `weight` reaches k/K of its total (weights >= 0: each cell
// holds an equal share, e.g. of the expected signal). Values [n] and weights
// [n], float64; repeated edges are dropped, so fewer cells may result.
std::vector<double> equal_share_edges(const torch::Tensor& value, const torch::Tensor& weight, int cells);
// The cell of each value: the number of interior edges <= value (int64 [n]).
torch::Tensor cell_index(const torch::Tensor& value, const std::vector<double>& edges);

}  // namespace refinery::likelihood
