// Implementation of the fused kernels (fused_kernel.h), compiled three times:
// for the generic x86-64 baseline, with AVX2+FMA and with AVX-512, each in its
// own namespace (REFINERY_KERNEL_NS) so that no inline function is shared
// between the instruction sets. Included only by fused_kernel*.cpp.
#ifndef REFINERY_KERNEL_NS
#error "define REFINERY_KERNEL_NS before including fused_kernel_impl.h"
#endif
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "src/likelihood/fused_kernel.h"

namespace refinery::likelihood::REFINERY_KERNEL_NS {

// Second-derivative entries of the ansatz on one pair of nuisances (k, l)
// that data_sums holds (K + 1 for K nuisances, one of them squared).
constexpr int kMaxSecond = 16;

// exp and log written so that the compiler vectorises them (branch-free,
// bit manipulation on 64-bit lanes). Relative error ~2 ulp over the range
// used here; tested against std::exp / std::log.
static inline double bits_to_double(uint64_t b) {
  double d;
  std::memcpy(&d, &b, 8);
  return d;
}
static inline uint64_t double_to_bits(double d) {
  uint64_t b;
  std::memcpy(&b, &d, 8);
  return b;
}

static inline double fast_exp(double x) {
  // x = n ln2 + r, |r| <= ln2 / 2; exp(r) by its Taylor series to r^13
  // (truncation < 1e-17 relative); 2^n assembled in the exponent bits.
  x = std::min(std::max(x, -700.0), 700.0);
  const double shifter = 6755399441055744.0;  // 1.5 * 2^52: rounds to integer
  const double t = x * 1.4426950408889634 + shifter;
  const double n = t - shifter;
  const double r = (x - n * 0.6931471805598903) - n * 5.497923018708371e-14;
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const uint64_t ni = double_to_bits(t) - double_to_bits(shifter);  // n as two's complement
  const uint64_t scale_bits = (ni + 1023u) << 52;
  return p * bits_to_double(scale_bits);
}

static inline double fast_log(double x) {
  // x = 2^e m, m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s), s = (m-1)/(m+1),
  // |s| < 0.172: series to s^23. Valid for positive normal x.
  const uint64_t b = double_to_bits(x);
  const uint64_t exp_bits = b >> 52;
  double m = bits_to_double((b & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);
  double e = bits_to_double(exp_bits | 0x4330000000000000ull) - 4503599627370496.0 - 1023.0;
  const bool big = m > 1.4142135623730951;
  m = big ? 0.5 * m : m;
  e = big ? e + 1.0 : e;
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  double p = 1.0 / 23.0;
  p = p * s2 + 1.0 / 21.0;
  p = p * s2 + 1.0 / 19.0;
  p = p * s2 + 1.0 / 17.0;
  p = p * s2 + 1.0 / 15.0;
  p = p * s2 + 1.0 / 13.0;
  p = p * s2 + 1.0 / 11.0;
  p = p * s2 + 1.0 / 9.0;
  p = p * s2 + 1.0 / 7.0;
  p = p * s2 + 1.0 / 5.0;
  p = p * s2 + 1.0 / 3.0;
  p = p * s2 + 1.0;
  return e * 0.6931471805599453 + 2.0 * s * p;
}

constexpr int64_t kBlock = 512;

// Kahan summation of per-block partial sums in block order.
static void combine(const std::vector<double>& partial, int64_t n_blocks, int width, double* out) {
  for (int a = 0; a < width; ++a) {
    double s = 0.0, c = 0.0;
    for (int64_t b = 0; b < n_blocks; ++b) {
      const double y = partial[b * width + a] - c;
      const double t = s + y;
      c = (t - s) - y;
      s = t;
    }
    out[a] = s;
  }
}

void data_sums(const Ansatz& A, const DataView& d, const double* nu_cal, const double* log_norm, int deriv,
               DataSums* out) {
  const int P = d.P, K = A.K, C = A.C;
  const int64_t n = d.n;
  std::vector<double> phi(C);
  if (C > 0) A.phi(nu_cal, phi.data());
  const auto J = A.first(nu_cal);
  const auto D2 = A.second(nu_cal);
  if (deriv >= 2) {
    std::vector<int> per_pair(K * K, 0);
    for (const auto& e : D2)
      if (++per_pair[e.k * K + e.l] > kMaxSecond)
        throw std::logic_error("data_sums: more second-derivative entries per pair of nuisances than the kernel holds");
  }
  // Layout of one block's partial sums.
  const int oU = 1, oW = oU + P, oS = oW + P * K, oUU = oS + K * K, oUV = oUU + P * P, oVV = oUV + P * K,
            width = deriv >= 2 ? oVV + K * K : (deriv >= 1 ? oS : 1);
  const int64_t n_blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(std::max<int64_t>(n_blocks, 1) * width, 0.0);
  std::vector<unsigned char> in_rate(P, 1);
  if (d.in_rate) in_rate.assign(d.in_rate, d.in_rate + P);

#pragma omp parallel
  {
    std::vector<double> z(P * kBlock), zmax(kBlock), ssum(kBlock), h(P * K * kBlock), v(K * kBlock),
        w(kBlock), M(K * K * kBlock);
#pragma omp for schedule(static)
    for (int64_t blk = 0; blk < n_blocks; ++blk) {
      const int64_t i0 = blk * kBlock;
      const int64_t m = std::min<int64_t>(kBlock, n - i0);
      double* acc = partial.data() + blk * width;
      for (int64_t i = 0; i < m; ++i) w[i] = d.weight ? d.weight[i0 + i] : 1.0;
      // z_ip = log f_ip + a_p + phi . Delta_ip
      for (int p = 0; p < P; ++p) {
        double* zp = z.data() + p * kBlock;
        const double* lf = d.log_fraction + p * n + i0;
        const double a = log_norm[p];
#pragma omp simd
        for (int64_t i = 0; i < m; ++i) zp[i] = lf[i] + a;
        for (int c = 0; c < C; ++c) {
          const float* co = d.coef + (int64_t(p) * C + c) * n + i0;
          const double f = phi[c];
#pragma omp simd
          for (int64_t i = 0; i < m; ++i) zp[i] += f * double(co[i]);
        }
      }
      std::fill(zmax.begin(), zmax.begin() + m, -std::numeric_limits<double>::infinity());
      for (int p = 0; p < P; ++p) {
        if (!in_rate[p]) continue;
        const double* zp = z.data() + p * kBlock;
#pragma omp simd
        for (int64_t i = 0; i < m; ++i) zmax[i] = std::max(zmax[i], zp[i]);
      }
      std::fill(ssum.begin(), ssum.begin() + m, 0.0);
      for (int p = 0; p < P; ++p) {
        double* zp = z.data() + p * kBlock;
        if (!in_rate[p]) {
#pragma omp simd
          for (int64_t i = 0; i < m; ++i) zp[i] = fast_exp(zp[i] - zmax[i]);
          continue;
        }
#pragma omp simd
        for (int64_t i = 0; i < m; ++i) {
          zp[i] = fast_exp(zp[i] - zmax[i]);  // z now holds t_ip / max_p t_ip
          ssum[i] += zp[i];
        }
      }
      double nll = 0.0;
#pragma omp simd reduction(+ : nll)
      for (int64_t i = 0; i < m; ++i) nll -= w[i] * (zmax[i] + fast_log(ssum[i]));
      acc[0] = nll;
      if (deriv < 1) continue;
      // u_ip (stored in z), U_p.
      for (int p = 0; p < P; ++p) {
        double* zp = z.data() + p * kBlock;
        double U = 0.0;
#pragma omp simd reduction(+ : U)
        for (int64_t i = 0; i < m; ++i) {
          zp[i] /= ssum[i];
          U += w[i] * zp[i];
        }
        acc[oU + p] = U;
      }
      if (K == 0) continue;
      if (deriv < 2) {
        // Gradient only: W_pk = sum_c J_ck A_pc with A_pc = sum_i w_i u_ip
        // Delta_ipc, dot products straight from the coefficient arrays.
        for (int p = 0; p < P; ++p) {
          const double* up = z.data() + p * kBlock;
#pragma omp simd
          for (int64_t i = 0; i < m; ++i) M[i] = w[i] * up[i];
          for (int k = 0; k < K; ++k) acc[oW + p * K + k] = 0.0;
          for (int c = 0; c < C; ++c) {
            const float* co = d.coef + (int64_t(p) * C + c) * n + i0;
            double Apc = 0.0;
#pragma omp simd reduction(+ : Apc)
            for (int64_t i = 0; i < m; ++i) Apc += M[i] * double(co[i]);
            for (const auto& e : J)
              if (e.c == c) acc[oW + p * K + e.k] += e.value * Apc;
          }
        }
        continue;
      }
      // h_pk = sum_c J_ck Delta_pc; W_pk = sum w u_p h_pk; v_k = sum_p u_p h_pk.
      std::fill(v.begin(), v.begin() + K * kBlock, 0.0);
      for (int p = 0; p < P; ++p) {
        const double* up = z.data() + p * kBlock;
        for (int k = 0; k < K; ++k) std::fill(h.begin() + (p * K + k) * kBlock, h.begin() + (p * K + k) * kBlock + m, 0.0);
        for (const auto& e : J) {
          double* hk = h.data() + (p * K + e.k) * kBlock;
          const float* co = d.coef + (int64_t(p) * C + e.c) * n + i0;
          const double f = e.value;
#pragma omp simd
          for (int64_t i = 0; i < m; ++i) hk[i] += f * double(co[i]);
        }
        for (int k = 0; k < K; ++k) {
          const double* hk = h.data() + (p * K + k) * kBlock;
          double* vk = v.data() + k * kBlock;
          double Wpk = 0.0;
          if (in_rate[p]) {
#pragma omp simd reduction(+ : Wpk)
            for (int64_t i = 0; i < m; ++i) {
              const double uh = up[i] * hk[i];
              vk[i] += uh;
              Wpk += w[i] * uh;
            }
          } else {
#pragma omp simd reduction(+ : Wpk)
            for (int64_t i = 0; i < m; ++i) Wpk += w[i] * up[i] * hk[i];
          }
          acc[oW + p * K + k] = Wpk;
        }
      }
      if (deriv < 2) continue;
      // S = sum w sum_p u_p (h_p h_p^T + M_p)
      for (int a = 0; a < K; ++a)
        for (int b = a; b < K; ++b) {
          double s = 0.0;
          for (int p = 0; p < P; ++p) {
            if (!in_rate[p]) continue;
            const double* up = z.data() + p * kBlock;
            const double* ha = h.data() + (p * K + a) * kBlock;
            const double* hb = h.data() + (p * K + b) * kBlock;
            double mpart_coef[kMaxSecond];
            int nm = 0;
            int mc[kMaxSecond];
            for (const auto& e : D2)
              if (e.k == a && e.l == b && nm < kMaxSecond) {
                mc[nm] = e.c;
                mpart_coef[nm++] = e.value;
              }
            double* tmp = M.data();
#pragma omp simd
            for (int64_t i = 0; i < m; ++i) tmp[i] = ha[i] * hb[i];
            for (int q = 0; q < nm; ++q) {
              const float* co = d.coef + (int64_t(p) * C + mc[q]) * n + i0;
              const double f = mpart_coef[q];
#pragma omp simd
              for (int64_t i = 0; i < m; ++i) tmp[i] += f * double(co[i]);
            }
#pragma omp simd reduction(+ : s)
            for (int64_t i = 0; i < m; ++i) s += w[i] * up[i] * tmp[i];
          }
          acc[oS + a * K + b] = s;
          acc[oS + b * K + a] = s;
        }
      for (int p = 0; p < P; ++p) {
        const double* up = z.data() + p * kBlock;
        for (int q = p; q < P; ++q) {
          const double* uq = z.data() + q * kBlock;
          double s = 0.0;
#pragma omp simd reduction(+ : s)
          for (int64_t i = 0; i < m; ++i) s += w[i] * up[i] * uq[i];
          acc[oUU + p * P + q] = s;
          acc[oUU + q * P + p] = s;
        }
        for (int k = 0; k < K; ++k) {
          const double* vk = v.data() + k * kBlock;
          double s = 0.0;
#pragma omp simd reduction(+ : s)
          for (int64_t i = 0; i < m; ++i) s += w[i] * up[i] * vk[i];
          acc[oUV + p * K + k] = s;
        }
      }
      for (int a = 0; a < K; ++a)
        for (int b = a; b < K; ++b) {
          const double* va = v.data() + a * kBlock;
          const double* vb = v.data() + b * kBlock;
          double s = 0.0;
#pragma omp simd reduction(+ : s)
          for (int64_t i = 0; i < m; ++i) s += w[i] * va[i] * vb[i];
          acc[oVV + a * K + b] = s;
          acc[oVV + b * K + a] = s;
        }
    }
  }
  std::vector<double> total(width, 0.0);
  combine(partial, n_blocks, width, total.data());
  out->nll = total[0];
  auto take = [&](std::vector<double>& v, int offset, int size) {
    v.assign(size, 0.0);
    if (offset + size <= width)
      for (int a = 0; a < size; ++a) v[a] = total[offset + a];
  };
  take(out->U, oU, P);
  take(out->W, oW, P * K);
  take(out->S, oS, K * K);
  take(out->UU, oUU, P * P);
  take(out->UV, oUV, P * K);
  take(out->VV, oVV, K * K);
}

void cell_sums(const Ansatz& A, const CellView& cv, const double* nu_cal, int deriv, CellSums* out) {
  const int K = A.K, C = A.C;
  const int64_t n = cv.n;
  std::vector<double> phi(C);
  if (C > 0) A.phi(nu_cal, phi.data());
  const auto J = A.first(nu_cal);
  const auto D2 = A.second(nu_cal);
  if (K == 0) deriv = 0;
  const int oG = 1, oH = oG + K, width = deriv >= 2 ? oH + K * K : (deriv >= 1 ? oH : 1);
  // Blocks never straddle two cells: each cell's events are cut into blocks.
  std::vector<int64_t> block_start, block_cell;
  for (int c = 0; c < cv.n_cells; ++c)
    for (int64_t i = cv.cell_begin[c]; i < cv.cell_begin[c + 1]; i += kBlock) {
      block_start.push_back(i);
      block_cell.push_back(c);
    }
  const int64_t n_blocks = block_start.size();
  std::vector<double> partial(std::max<int64_t>(n_blocks, 1) * width, 0.0);
#pragma omp parallel
  {
    std::vector<double> y(kBlock), h(K * kBlock);
#pragma omp for schedule(static)
    for (int64_t blk = 0; blk < n_blocks; ++blk) {
      const int64_t i0 = block_start[blk];
      const int64_t m = std::min<int64_t>(kBlock, cv.cell_begin[block_cell[blk] + 1] - i0);
      double* acc = partial.data() + blk * width;
      const double* lw = cv.log_weight + i0;
#pragma omp simd
      for (int64_t i = 0; i < m; ++i) y[i] = lw[i];
      for (int c = 0; c < C; ++c) {
        const float* co = cv.coef + int64_t(c) * n + i0;
        const double f = phi[c];
#pragma omp simd
        for (int64_t i = 0; i < m; ++i) y[i] += f * double(co[i]);
      }
      double Y = 0.0;
#pragma omp simd reduction(+ : Y)
      for (int64_t i = 0; i < m; ++i) {
        y[i] = fast_exp(y[i]);
        Y += y[i];
      }
      acc[0] = Y;
      if (deriv < 1) continue;
      std::fill(h.begin(), h.begin() + K * kBlock, 0.0);
      for (const auto& e : J) {
        double* hk = h.data() + e.k * kBlock;
        const float* co = cv.coef + int64_t(e.c) * n + i0;
        const double f = e.value;
#pragma omp simd
        for (int64_t i = 0; i < m; ++i) hk[i] += f * double(co[i]);
      }
      for (int k = 0; k < K; ++k) {
        const double* hk = h.data() + k * kBlock;
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < m; ++i) s += y[i] * hk[i];
        acc[oG + k] = s;
      }
      if (deriv < 2) continue;
      for (int a = 0; a < K; ++a)
        for (int b = a; b < K; ++b) {
          const double* ha = h.data() + a * kBlock;
          const double* hb = h.data() + b * kBlock;
          double s = 0.0;
#pragma omp simd reduction(+ : s)
          for (int64_t i = 0; i < m; ++i) s += y[i] * ha[i] * hb[i];
          for (const auto& e : D2)
            if (e.k == a && e.l == b) {
              const float* co = cv.coef + int64_t(e.c) * n + i0;
              double t = 0.0;
#pragma omp simd reduction(+ : t)
              for (int64_t i = 0; i < m; ++i) t += y[i] * double(co[i]);
              s += e.value * t;
            }
          acc[oH + a * K + b] = s;
          acc[oH + b * K + a] = s;
        }
    }
  }
  // Per cell: Kahan over its blocks in order.
  out->Y.assign(cv.n_cells, 0.0);
  out->G.assign(int64_t(cv.n_cells) * K, 0.0);
  out->H.assign(int64_t(cv.n_cells) * K * K, 0.0);
  std::vector<double> sum(width), comp(width);
  int64_t blk = 0;
  for (int c = 0; c < cv.n_cells; ++c) {
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(comp.begin(), comp.end(), 0.0);
    for (; blk < n_blocks && block_cell[blk] == c; ++blk)
      for (int a = 0; a < width; ++a) {
        const double yv = partial[blk * width + a] - comp[a];
        const double t = sum[a] + yv;
        comp[a] = (t - sum[a]) - yv;
        sum[a] = t;
      }
    out->Y[c] = sum[0];
    if (deriv >= 1)
      for (int k = 0; k < K; ++k) out->G[c * K + k] = sum[oG + k];
    if (deriv >= 2)
      for (int a = 0; a < K * K; ++a) out->H[c * K * K + a] = sum[oH + a];
  }
}

double exp_for_test(double x) { return fast_exp(x); }
double log_for_test(double x) { return fast_log(x); }

}  // namespace refinery::likelihood::REFINERY_KERNEL_NS
