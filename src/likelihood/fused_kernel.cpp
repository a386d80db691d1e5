// The ansatz's derivatives, the generic build of the fused kernels, and the
// run-time choice between it and the AVX2+FMA and AVX-512 builds
// (src/core/cpu_features.h).
#define REFINERY_KERNEL_NS generic
#include "src/likelihood/fused_kernel_impl.h"

#include "src/core/cpu_features.h"
#include "src/likelihood/dcr_ansatz.h"

#include <algorithm>
#include <stdexcept>

namespace refinery::likelihood {

namespace avx2 {
void data_sums(const Ansatz&, const DataView&, const double*, const double*, int, DataSums*);
void cell_sums(const Ansatz&, const CellView&, const double*, int, CellSums*);
}  // namespace avx2
namespace avx512 {
void data_sums(const Ansatz&, const DataView&, const double*, const double*, int, DataSums*);
void cell_sums(const Ansatz&, const CellView&, const double*, int, CellSums*);
}  // namespace avx512

Ansatz::Ansatz(int K_, int order_, std::vector<int> power_)
    : K(K_), order(order_), C(int(ansatz_size(K_, order_, power_))), power(std::move(power_)) {
  if (all_linear(power)) power.clear();
  if (!power.empty() && int(power.size()) != K) throw std::logic_error("Ansatz: powers do not match the nuisances");
  if (appended_terms(power) > 0 && order != 2)
    throw std::logic_error("Ansatz: a cubic term or a knot needs the quadratic ansatz");
}

namespace {

// u_k = nu_k or nu_k^2, and du_k / dnu_k.
void coordinates(const Ansatz& A, const double* nu, double* u, double* du) {
  for (int k = 0; k < A.K; ++k) {
    const bool square = !A.power.empty() && A.power[k] == 2;
    u[k] = square ? nu[k] * nu[k] : nu[k];
    du[k] = square ? 2.0 * nu[k] : 1.0;
  }
}

// d phi_c / d u_k at u, every entry (k = l).
std::vector<Ansatz::Entry> first_in_u(const Ansatz& A, const double* u) {
  std::vector<Ansatz::Entry> e;
  for (int k = 0; k < A.K; ++k) e.push_back({k, k, k, 1.0});
  if (A.order == 2) {
    int c = A.K;
    for (int a = 0; a < A.K; ++a)
      for (int b = a; b < A.K; ++b, ++c) {
        if (a == b) {
          e.push_back({c, a, a, 2.0 * u[a]});
        } else {
          e.push_back({c, a, a, u[b]});
          e.push_back({c, b, b, u[a]});
        }
      }
    // The appended terms, nu_k^3 or (nu_k - t)_+^2 (u_k = nu_k for such a nuisance).
    for (int k = 0; k < A.K; ++k)
      if (!A.power.empty() && has_appended_term(A.power[k])) {
        double f, df, d2f;
        appended_term(A.power[k], u[k], &f, &df, &d2f);
        e.push_back({c++, k, k, df});
      }
  }
  return e;
}

}  // namespace

void Ansatz::phi(const double* nu, double* out) const {
  std::vector<double> u(K), du(K);
  coordinates(*this, nu, u.data(), du.data());
  int c = 0;
  for (int k = 0; k < K; ++k) out[c++] = u[k];
  if (order == 2) {
    for (int a = 0; a < K; ++a)
      for (int b = a; b < K; ++b) out[c++] = u[a] * u[b];
    for (int k = 0; k < K; ++k)
      if (!power.empty() && has_appended_term(power[k])) {
        double df, d2f;
        appended_term(power[k], u[k], &out[c++], &df, &d2f);
      }
  }
}

std::vector<Ansatz::Entry> Ansatz::first(const double* nu) const {
  std::vector<double> u(K), du(K);
  coordinates(*this, nu, u.data(), du.data());
  std::vector<Entry> e = first_in_u(*this, u.data());
  for (auto& x : e) x.value *= du[x.k];
  return e;
}

// d^2 phi_c / dnu_k dnu_l = (d^2 phi_c / du_k du_l) u_k' u_l' + [k = l] (d phi_c / du_k) u_k'',
// with u' = du/dnu (2 nu or 1) and u'' = 2 for a squared nuisance, 0 otherwise; entries on the same
// (c, k, l) summed.
std::vector<Ansatz::Entry> Ansatz::second(const double* nu) const {
  std::vector<double> u(K), du(K);
  coordinates(*this, nu, u.data(), du.data());
  std::vector<Entry> e;
  if (order == 2) {
    int c = K;
    for (int a = 0; a < K; ++a)
      for (int b = a; b < K; ++b, ++c) e.push_back({c, a, b, (a == b ? 2.0 : 1.0) * du[a] * du[b]});
    for (int k = 0; k < K; ++k)
      if (!power.empty() && has_appended_term(power[k])) {
        double f, df, d2f;
        appended_term(power[k], u[k], &f, &df, &d2f);
        e.push_back({c++, k, k, d2f});
      }
  }
  if (power.empty()) return e;
  for (const auto& f : first_in_u(*this, u.data())) {
    if (power[f.k] != 2) continue;
    const double v = 2.0 * f.value;
    auto same = std::find_if(e.begin(), e.end(), [&](const Entry& x) { return x.c == f.c && x.k == f.k && x.l == f.k; });
    if (same != e.end()) same->value += v;
    else e.push_back({f.c, f.k, f.k, v});
  }
  return e;
}

void data_sums(const Ansatz& ansatz, const DataView& data, const double* nu_cal, const double* log_norm,
               int derivatives, DataSums* out) {
  switch (refinery::kernel_isa()) {
    case KernelIsa::kAvx512: avx512::data_sums(ansatz, data, nu_cal, log_norm, derivatives, out); break;
    case KernelIsa::kAvx2: avx2::data_sums(ansatz, data, nu_cal, log_norm, derivatives, out); break;
    default: generic::data_sums(ansatz, data, nu_cal, log_norm, derivatives, out);
  }
}

void cell_sums(const Ansatz& ansatz, const CellView& cells, const double* nu_cal, int derivatives, CellSums* out) {
  switch (refinery::kernel_isa()) {
    case KernelIsa::kAvx512: avx512::cell_sums(ansatz, cells, nu_cal, derivatives, out); break;
    case KernelIsa::kAvx2: avx2::cell_sums(ansatz, cells, nu_cal, derivatives, out); break;
    default: generic::cell_sums(ansatz, cells, nu_cal, derivatives, out);
  }
}

const char* kernel_isa() { return kernel_isa_name(refinery::kernel_isa()); }

}  // namespace refinery::likelihood
