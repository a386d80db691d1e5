// Fused evaluation of the event sums of the unbinned likelihood over cached
// coefficients (design.md sections 2 and 8). Torch-free: raw arrays in a
// struct-of-arrays layout, one pass, vectorised over events (the loops over
// processes and coefficients are outside the loops over events), blocks of
// events in parallel, per-block partial sums combined in a fixed order with
// compensated (Kahan) summation, so the result does not depend on the number
// of threads.
//
// Notation. Calibration nuisances nu (K of them) enter through the DCR ansatz
// log r_p(x|nu) = phi(nu) . Delta_p(x) with C coefficients (section 3);
// h_p = d log r_p / d nu = J(nu)^T Delta_p (J = d phi / d nu, K values) and
// M_p = d^2 log r_p / d nu^2 (linear in Delta_p; constant in nu unless a
// nuisance enters the ansatz squared or with a cubic term).
//
// Data sums (events of one unbinned region, weights w_i, log fractions
// log f_ip, normalisation logs a_p = log N_p(mu, nu_norm); DataView::in_rate
// for processes whose rate is 0):
//   t_ip = exp(log f_ip + a_p + phi . Delta_ip),  R_i = sum_p t_ip,
//   u_ip = t_ip / R_i (responsibilities),  v_i = sum_p u_ip h_ip,
//   nll = -sum_i w_i log R_i,
//   U_p = sum w u_p, W_pk = sum w u_p h_pk,                       (gradient)
//   S = sum w sum_p u_p (h_p h_p^T + M_p), UU = sum w u u^T,
//   UV = sum w u v^T, VV = sum w v v^T                             (Hessian)
// from which the caller assembles the gradient and Hessian in every
// parameter (likelihood_model.cpp).
//
// Cell sums (simulated events grouped into cells, e.g. process x bin; log
// weights log w_j, coefficients of the event's own process):
//   Y = sum_j exp(log w_j + phi . Delta_j), G = sum y h, H = sum y (h h^T + M).
#pragma once
#include <cstdint>
#include <vector>

namespace refinery::likelihood {

// The log-polynomial ansatz in K nuisances (order 1 or 2) in the
// coordinates u_k = nu_k^power_k (power 1 or 2, or kCubic or a knot: src/likelihood/dcr_ansatz.h):
// phi, and the entries of its first and second derivatives in nu.
struct Ansatz {
  int K = 0, order = 2, C = 0;
  std::vector<int> power;  // [K], each 1, 2, kCubic or a knot (dcr_ansatz.h); empty: every power 1
  struct Entry {
    int c, k, l;  // coefficient c; derivative in nu_k (and nu_l)
    double value; // d phi_c / d nu_k (first) or d^2 phi_c / d nu_k d nu_l (second)
  };
  Ansatz() = default;
  Ansatz(int K, int order, std::vector<int> power = {});
  void phi(const double* nu, double* out) const;
  std::vector<Entry> first(const double* nu) const;   // J entries at nu
  std::vector<Entry> second(const double* nu) const;  // k <= l; constant in nu when every power is 1
};

struct DataView {
  int64_t n = 0;
  int P = 0;
  const double* weight = nullptr;        // [n]; nullptr: every weight 1
  const double* log_fraction = nullptr;  // [P][n]
  const float* coef = nullptr;           // [P][C][n]; unused when K = 0
  // [P]; nullptr: every process. A process with 0 here is left out of R_i
  // (its rate is 0: a norm factor at 0, log_norm its rate without it) while
  // its u_ip = t_ip / R_i still enter U, W, UU and UV (the derivatives in
  // that factor); v, S and VV sum over the others only.
  const unsigned char* in_rate = nullptr;
};

struct CellView {
  int64_t n = 0;
  int n_cells = 0;
  const double* log_weight = nullptr;  // [n], events sorted by cell
  const float* coef = nullptr;         // [C][n]
  const int64_t* cell_begin = nullptr; // [n_cells + 1]
};

// Derivative order wanted: 0 value, 1 gradient, 2 Hessian.
struct DataSums {
  double nll = 0.0;
  std::vector<double> U, W, S, UU, UV, VV;  // [P], [P*K], [K*K], [P*P], [P*K], [K*K]
};
struct CellSums {
  std::vector<double> Y, G, H;  // [cells], [cells*K], [cells*K*K]
};

void data_sums(const Ansatz& ansatz, const DataView& data, const double* nu_cal, const double* log_norm,
               int derivatives, DataSums* out);
void cell_sums(const Ansatz& ansatz, const CellView& cells, const double* nu_cal, int derivatives, CellSums* out);

// Which instruction set the kernels run with ("avx2+fma" or "generic").
const char* kernel_isa();

}  // namespace refinery::likelihood
