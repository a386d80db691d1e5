// Shape closure of a DCR network on paired samples (design.md section 3):
// the simulator's variation sample at nu against the nominal sample weighted
// by the learned r(x|nu), as weighted histograms in features, with a chi2
// against the statistical error of the difference.
//
// Nominal and variation samples made from the same events are correlated, so
// the error of a bin's difference D_b = S_b - L_b (S: the variation's yield
// in bin b, L: sum over nominal events in b of w r(x|nu)) is taken per event:
// D_b = sum_e d_eb with d_eb = w_v(e) [x_v(e) in b] - w_0(e) r(x_0(e)|nu) [x_0(e) in b]
// over the event numbers e (an event on one side only has the other term
// zero), and Var D_b = sum_e d_eb^2. chi2 = sum_b D_b^2 / Var D_b over bins
// with a non-zero variance (bins correlate through migrations between them;
// the chi2 ignores that, as a bin-by-bin check). Bins: equal shares of the
// nominal sample's weight in each feature (fewer where values repeat;
// equal_share_edges of src/likelihood/mc_statistics.h).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

namespace refinery {

struct ClosureSide {
  torch::Tensor values;  // float [N, F]: the features checked
  torch::Tensor weight;  // float64 [N]: nominal: w r(x|nu) (learned); variation: w
  torch::Tensor event;   // int64 [N]: event numbers
};

// One nu-point: per feature {name, chi2, ndf, chi2_ndf, bins: [{low, high,
// simulated, learned, error}]} and the inclusive yields with their error.
nlohmann::json dcr_shape_closure(const ClosureSide& learned, const ClosureSide& simulated,
                                 const std::vector<std::string>& feature_names, int bins);

// The score response of one nuisance: the network's per-event linear
// coefficient a(x) (its score along the nuisance at nu = 0) against the
// simulator's shift on paired samples at +delta and -delta,
//   response = (E_{+delta}[a] - E_{-delta}[a]) / (2 delta) / Var_0(a),
// which is Cov(a, a_true) / Var(a) to second order: 1 when a is the true
// score along its own direction, below 1 when the network's per-event
// spread is stronger than the simulator's (what a fit reads as too much
// information: its estimates answer to the truth with the response).
// `within cells`: a minus its nominal mean in each cell (cell >= 0 for
// every event; one cell gives only the overall response). The error is
// the paired one: each event's influence on the derivative and on Var_0,
// summed by event number (the three samples share their events). The
// symmetric difference is biased at O(delta^2) where the cells' edges cut
// the shift (3% for a shift of 0.2 of the cell variable's spread, 0.2% at
// 0.05): points close to 0 suit it best.
struct ScoreSample {
  torch::Tensor score;   // float64 [N]: a(x)
  torch::Tensor weight;  // float64 [N]
  torch::Tensor event;   // int64 [N]: event numbers
  torch::Tensor cell;    // int64 [N]: cell of each event, 0 .. cells - 1
};
// {response, error, derivative, variance} overall and, with cells > 1,
// {"within_cells": {...}}.
nlohmann::json dcr_score_response(const ScoreSample& nominal, const ScoreSample& plus, const ScoreSample& minus,
                                  double delta, int64_t cells);

// A printable table: one line per (nu-point, feature) with chi2/ndf and
// whether it passes (chi2/ndf < `limit`).
std::string dcr_closure_table(const nlohmann::json& report, double limit);

}  // namespace refinery
