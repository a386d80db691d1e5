#include "src/likelihood/paired_yield_calibration.h"

#include <Eigen/Dense>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace refinery::likelihood {

namespace {
void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("paired_yield_correction: " + what);
}
}  // namespace

PairedYieldCorrection paired_yield_correction(const PairedYieldSample& s, int64_t min_events) {
  const auto f64 = torch::kFloat64, i64 = torch::kInt64;
  require(s.phi.dim() == 2 && s.phi.size(0) > 0, "phi must be [K, C] with K > 0 points");
  const int64_t K = s.phi.size(0), C = s.phi.size(1), B = s.n_cells;
  require(B >= 0, "negative n_cells");
  const int64_t n = s.nominal_cell.numel(), m = s.varied_cell.numel();
  require(s.nominal_event.numel() == n && s.nominal_weight.numel() == n, "one event number and weight per nominal event");
  require(s.nominal_log_r.dim() == 2 && s.nominal_log_r.size(0) == n && s.nominal_log_r.size(1) == K,
          "nominal_log_r must be [n, K]");
  require(s.varied_event.numel() == m && s.varied_weight.numel() == m && s.varied_point.numel() == m,
          "one event number, weight and point per varied event");

  PairedYieldCorrection out;
  out.correction = torch::zeros({B, C}, f64);
  out.raw = torch::zeros({B, C}, f64);
  out.error = torch::zeros({B, C}, f64);
  out.chi2 = torch::zeros({B}, f64);
  out.shrink = torch::zeros({B}, f64);
  out.ndf = torch::zeros({B}, i64);
  if (B == 0) return out;

  // The events in a cell, nominal and varied.
  const torch::Tensor rows0 = (s.nominal_cell.to(i64) >= 0).nonzero().view(-1);
  const torch::Tensor c0 = s.nominal_cell.to(i64).index_select(0, rows0);
  const torch::Tensor ev0 = s.nominal_event.to(i64).index_select(0, rows0);
  const torch::Tensor w0 = s.nominal_weight.to(f64).index_select(0, rows0);
  const torch::Tensor m0 = w0.unsqueeze(1) * s.nominal_log_r.to(f64).index_select(0, rows0).exp();  // [n0, K]
  const torch::Tensor rowsv = (s.varied_cell.to(i64) >= 0).nonzero().view(-1);
  const torch::Tensor cv = s.varied_cell.to(i64).index_select(0, rowsv);
  const torch::Tensor evv = s.varied_event.to(i64).index_select(0, rowsv);
  const torch::Tensor wv = s.varied_weight.to(f64).index_select(0, rowsv);
  const torch::Tensor pv = s.varied_point.to(i64).index_select(0, rowsv);
  require(c0.numel() == 0 || c0.max().item<int64_t>() < B, "a nominal cell index >= n_cells");
  require(cv.numel() == 0 || cv.max().item<int64_t>() < B, "a varied cell index >= n_cells");
  require(pv.numel() == 0 || (pv.min().item<int64_t>() >= 0 && pv.max().item<int64_t>() < K), "a point index outside 0..K-1");

  // The model's and the simulator's yields per cell and point.
  const torch::Tensor k_index = torch::arange(K, i64);
  const torch::Tensor slot0 = (c0.unsqueeze(1) * K + k_index.unsqueeze(0)).reshape(-1);
  const torch::Tensor M = torch::zeros({B * K}, f64).index_add(0, slot0, m0.reshape(-1)).view({B, K});
  const torch::Tensor slotv = cv * K + pv;
  const torch::Tensor T = torch::zeros({B * K}, f64).index_add(0, slotv, wv).view({B, K});
  const torch::Tensor count0 = torch::bincount(c0, {}, B);

  // Each event's contribution to every point's relative difference, summed
  // per (cell, event): U [groups, K], groups sorted by cell.
  const torch::Tensor inv_T = torch::where(T > 0, 1.0 / T.clamp_min(1e-300), torch::zeros_like(T)).reshape(-1);
  const torch::Tensor all_ev = torch::cat({ev0, evv});
  const int64_t e_min = all_ev.numel() ? all_ev.min().item<int64_t>() : 0;
  const int64_t span = all_ev.numel() ? all_ev.max().item<int64_t>() - e_min + 1 : 1;
  require(span < (int64_t(1) << 62) / std::max<int64_t>(B, 1), "event numbers span too wide");
  const torch::Tensor key = torch::cat({(c0 * span + (ev0 - e_min)).unsqueeze(1).expand({-1, K}).reshape(-1),
                                        cv * span + (evv - e_min)});
  const torch::Tensor point = torch::cat({k_index.unsqueeze(0).expand({c0.size(0), K}).reshape(-1), pv});
  const torch::Tensor value = torch::cat({-(m0.reshape(-1) * inv_T.index_select(0, slot0)), wv * inv_T.index_select(0, slotv)});
  auto [groups, inverse] = torch::_unique(key, /*sorted=*/true, /*return_inverse=*/true);
  const int64_t G = groups.numel();
  const torch::Tensor U = torch::zeros({G * K}, f64).index_add(0, inverse * K + point, value).view({G, K});
  const torch::Tensor group_cell = torch::div(groups, span, "floor");
  const torch::Tensor group_count = torch::bincount(group_cell, {}, B);
  const torch::Tensor group_begin = torch::cat({torch::zeros({1}, i64), group_count.cumsum(0)});

  const torch::Tensor phi_t = s.phi.to(f64).contiguous();
  const auto phi = phi_t.accessor<double, 2>();
  const torch::Tensor Tc = T.contiguous(), Mc = M.contiguous();
  const auto Ta = Tc.accessor<double, 2>(), Ma = Mc.accessor<double, 2>();
  const auto n0 = count0.accessor<int64_t, 1>(), gb = group_begin.accessor<int64_t, 1>(), gc = group_count.accessor<int64_t, 1>();
  for (int64_t b = 0; b < B; ++b) {
    if (n0[b] < std::max<int64_t>(min_events, 1)) continue;
    std::vector<int64_t> points;
    for (int64_t k = 0; k < K; ++k)
      if (Ta[b][k] > 0 && Ma[b][k] > 0) points.push_back(k);
    if (points.empty()) continue;
    std::vector<int64_t> columns;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t k : points)
        if (phi[k][c] != 0.0) {
          columns.push_back(c);
          break;
        }
    const int64_t q = int64_t(columns.size()), V = int64_t(points.size());
    if (q == 0 || V < q) continue;
    const torch::Tensor Ub = U.narrow(0, gb[b], gc[b]);
    const torch::Tensor Sb_t = Ub.t().matmul(Ub).contiguous();  // [K, K]
    const auto Sb = Sb_t.accessor<double, 2>();
    Eigen::MatrixXd S(V, V), Phi(V, q);
    Eigen::VectorXd y(V);
    for (int64_t i = 0; i < V; ++i) {
      const int64_t k = points[size_t(i)];
      y(i) = std::log(Ta[b][k]) - std::log(Ma[b][k]);
      for (int64_t j = 0; j < V; ++j) S(i, j) = Sb[k][points[size_t(j)]];
      for (int64_t c = 0; c < q; ++c) Phi(i, c) = phi[k][columns[size_t(c)]];
    }
    // Points the cell's events do not move have no variance (and y = 0):
    // a floor keeps S invertible and weighs them as exact.
    S.diagonal().array() += 1e-10 * std::max(S.diagonal().maxCoeff(), 1e-300) + 1e-300;
    const Eigen::LDLT<Eigen::MatrixXd> ldlt(S);
    const Eigen::MatrixXd SinvPhi = ldlt.solve(Phi);
    const Eigen::MatrixXd A = Phi.transpose() * SinvPhi;
    // Directions the points leave open (eigenvalues of A below 1e-12 of the
    // largest) stay 0: the pseudo-inverse.
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(A);
    const Eigen::VectorXd lambda = eig.eigenvalues();
    Eigen::VectorXd inv_lambda = Eigen::VectorXd::Zero(q);
    for (int64_t c = 0; c < q; ++c)
      if (lambda(c) > 1e-12 * lambda.maxCoeff()) inv_lambda(c) = 1.0 / lambda(c);
    const Eigen::MatrixXd cov = eig.eigenvectors() * inv_lambda.asDiagonal() * eig.eigenvectors().transpose();
    const Eigen::VectorXd c_hat = cov * (SinvPhi.transpose() * y);
    const double chi2 = c_hat.dot(A * c_hat);
    const double shrink = chi2 > 0 ? std::clamp(1.0 - double(q - 2) / chi2, 0.0, 1.0) : 0.0;
    for (int64_t c = 0; c < q; ++c) {
      const int64_t col = columns[size_t(c)];
      out.raw[b][col] = c_hat(c);
      out.error[b][col] = std::sqrt(std::max(cov(c, c), 0.0));
      out.correction[b][col] = shrink * c_hat(c);
    }
    out.chi2[b] = chi2;
    out.shrink[b] = shrink;
    out.ndf[b] = q;
  }
  return out;
}

}  // namespace refinery::likelihood
