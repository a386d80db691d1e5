// The ansatz's derivatives, the generic build of the fused kernels, and the
// run-time choice between it and the AVX2+FMA and AVX-512 builds
// (src/core/cpu_features.h).
#define REFINERY_KERNEL_NS generic
#include "src/likelihood/fused_kernel_impl.h"

#include "src/core/cpu_features.h"

namespace refinery::likelihood {

namespace avx2 {
void data_sums(const Ansatz&, const DataView&, const double*, const double*, int, DataSums*);
void cell_sums(const Ansatz&, const CellView&, const double*, int, CellSums*);
}  // namespace avx2
namespace avx512 {
void data_sums(const Ansatz&, const DataView&, const double*, const double*, int, DataSums*);
void cell_sums(const Ansatz&, const CellView&, const double*, int, CellSums*);
}  // namespace avx512

Ansatz::Ansatz(int K_, int order_) : K(K_), order(order_), C(order_ == 1 ? K_ : K_ + K_ * (K_ + 1) / 2) {}

void Ansatz::phi(const double* nu, double* out) const {
  int c = 0;
  for (int k = 0; k < K; ++k) out[c++] = nu[k];
  if (order == 2)
    for (int a = 0; a < K; ++a)
      for (int b = a; b < K; ++b) out[c++] = nu[a] * nu[b];
}

std::vector<Ansatz::Entry> Ansatz::first(const double* nu) const {
  std::vector<Entry> e;
  for (int k = 0; k < K; ++k) e.push_back({k, k, k, 1.0});
  if (order == 2) {
    int c = K;
    for (int a = 0; a < K; ++a)
      for (int b = a; b < K; ++b, ++c) {
        if (a == b) {
          e.push_back({c, a, a, 2.0 * nu[a]});
        } else {
          e.push_back({c, a, a, nu[b]});
          e.push_back({c, b, b, nu[a]});
        }
      }
  }
  return e;
}

std::vector<Ansatz::Entry> Ansatz::second() const {
  std::vector<Entry> e;
  if (order == 2) {
    int c = K;
    for (int a = 0; a < K; ++a)
      for (int b = a; b < K; ++b, ++c) e.push_back({c, a, b, a == b ? 2.0 : 1.0});
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
