// Benchmark of the fused likelihood kernels (docs/performance.md):
//   data sums of an unbinned region (4 processes, 3 calibration nuisances,
//   quadratic ansatz: 9 float32 coefficients per process and event, log
//   fractions in float64): events/s for NLL + gradient and NLL + gradient +
//   Hessian, and the bytes/s this streams against a memory-copy measurement;
//   cell sums of simulated events (expected yields): events/s.
// Usage: bench_likelihood [events=4000000] [threads=2] [repeats=20]
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "bench/bench_timing.h"
#include "src/core/threads.h"
#include "src/likelihood/fused_kernel.h"

using namespace refinery;
using namespace refinery::likelihood;

using bench::best_seconds;

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 4000000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 20;
  set_threads(threads);
  omp_set_num_threads(threads);
  const int P = 4, K = 3;
  Ansatz A(K, 2);
  const int C = A.C;
  std::vector<double> lf(P * n);
  std::vector<float> coef(int64_t(P) * C * n);
  uint64_t s = 12345;
  auto uni = [&]() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return double(s >> 11) / 9007199254740992.0;
  };
  for (auto& v : lf) v = std::log(0.05 + uni());
  for (auto& v : coef) v = float(0.1 * (uni() - 0.5));
  DataView d{n, P, nullptr, lf.data(), coef.data()};
  const double nu[3] = {0.3, -0.2, 0.8}, a[4] = {0.0, 0.01, -0.02, 0.1};
  DataSums out;
  data_sums(A, d, nu, a, 2, &out);  // warm-up
  const double bytes_per_event = P * 8.0 + P * C * 4.0;
  std::printf("fused kernel (%s), %lld events, %d processes, %d nuisances, %d coefficients, %d threads\n", kernel_isa(),
              (long long)n, P, K, C, threads);
  for (int deriv : {0, 1, 2}) {
    const double t = best_seconds(repeats, [&] { data_sums(A, d, nu, a, deriv, &out); });
    const char* what = deriv == 0 ? "NLL" : deriv == 1 ? "NLL + gradient" : "NLL + gradient + Hessian";
    std::printf("  data sums, %-26s %7.1f M events/s  %5.1f GB/s  (%.2f ms)\n", what, n / t / 1e6,
                n * bytes_per_event / t / 1e9, t * 1e3);
  }
  // Expected yields: one process per simulated event, 4 cells.
  std::vector<double> lw(n);
  for (auto& v : lw) v = std::log(0.5 + uni());
  std::vector<int64_t> begin = {0, n / 4, n / 2, 3 * n / 4, n};
  CellView cv{n, 4, lw.data(), coef.data(), begin.data()};
  CellSums cs;
  for (int deriv : {0, 1, 2}) {
    const double t = best_seconds(repeats, [&] { cell_sums(A, cv, nu, deriv, &cs); });
    std::printf("  cell sums, %-26s %7.1f M events/s  %5.1f GB/s  (%.2f ms)\n",
                deriv == 0 ? "yield" : deriv == 1 ? "yield + gradient" : "yield + gradient + Hessian", n / t / 1e6, n * (8.0 + C * 4.0) / t / 1e9,
                t * 1e3);
  }
  // Memory bandwidth reference: a parallel read of the same coefficient array.
  double sink = 0;
  const double t = best_seconds(repeats, [&] {
    double acc = 0;
#pragma omp parallel for reduction(+ : acc) schedule(static)
    for (int64_t i = 0; i < int64_t(coef.size()); ++i) acc += coef[i];
    sink += acc;
  });
  std::printf("  memory read (sum of the coefficient array): %.1f GB/s%s\n", coef.size() * 4.0 / t / 1e9, sink == 1 ? " " : "");
  return 0;
}
