// The binned yields' response to the calibration nuisances, brought to the
// simulator's on a paired sample.
//
// A binned region's expected yield of process p in bin b at nu is the
// simulated weights times the learned ratios, M_bp(nu) = sum_j w_j
// r_p(x_j|nu). Where a network reads a nuisance more weakly than the
// simulator moves the bin (in the built-in example a background's response
// in its largest bin was 0.72 of the simulator's; the example's notes in docs/),
// the fit reads the wrong amount of information from the bin. A paired
// sample (the same simulated events at nu = 0 and at points nu_k, as the
// DCR networks are trained on) measures the simulator's yields T_bp(nu_k)
// against the model's M_bp(nu_k) on the same events, and a correction
// c_bp of the ansatz's coefficients, exp(phi(nu) . c_bp), brings the one to
// the other: the HistFactory template's information with the networks'
// smooth interpolation between the points.
//
// Per cell (bin, process), y_k = log T_k - log M_k is fitted by generalised
// least squares, y = Phi c with Phi_kc = phi_c(nu_k). Its covariance is the
// paired one: every event moves T_k and M_k together, so each event's
// contributions u_ek = (w_e^k [in the cell at nu_k] - w_e r_k(x_e) [in the
// cell at 0]) / T_k are summed per event over the points, S = sum_e u_e
// u_e^T (the points share their events: S is not diagonal). Then c_hat =
// (Phi^T S^-1 Phi)^-1 Phi^T S^-1 y, Cov c_hat = (Phi^T S^-1 Phi)^-1,
// chi2 = c_hat^T Cov^-1 c_hat, and the correction applied is shrunk towards
// 0 by the positive-part James-Stein factor max(0, 1 - (q - 2) / chi2), q the
// coefficients the points identify (James and Stein 1961; Efron and Morris,
// JASA 68 (1973) 117): a cell whose discrepancy is within its paired noise
// keeps its networks' response, a cell where the simulator differs by many
// errors takes the simulator's. Columns of Phi that are 0 at every point
// (nuisances the sample does not move) get no correction, nor do directions
// the points leave open.
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace refinery::likelihood {

struct PairedYieldSample {
  // Nominal events (nu = 0): event numbers [n] int64, cell [n] int64 (-1:
  // in no cell), weights [n] float64, and log r of each event's process at
  // each point [n, K] float64 (the model being corrected).
  torch::Tensor nominal_event, nominal_cell, nominal_weight, nominal_log_r;
  // The same events simulated at the points: event numbers, cells (of the
  // shifted features), weights and the point index 0..K-1 of every row [m].
  torch::Tensor varied_event, varied_cell, varied_weight, varied_point;
  torch::Tensor phi;  // [K, C] float64: the ansatz at each point
  int64_t n_cells = 0;
};

struct PairedYieldCorrection {
  torch::Tensor correction;  // [n_cells, C] float64: shrink * raw (0 where not fitted)
  torch::Tensor raw;         // [n_cells, C] generalised least squares
  torch::Tensor error;       // [n_cells, C] sqrt(diag Cov raw)
  torch::Tensor chi2;        // [n_cells] raw against 0
  torch::Tensor shrink;      // [n_cells] the James-Stein factor applied
  torch::Tensor ndf;         // [n_cells] int64: coefficients identified (0: not fitted)
};

// Cells with fewer than `min_events` nominal events, or with a point where
// the simulator's or the model's yield is not positive, are not fitted.
// Throws std::invalid_argument on inconsistent shapes.
PairedYieldCorrection paired_yield_correction(const PairedYieldSample& sample, int64_t min_events = 100);

}  // namespace refinery::likelihood
