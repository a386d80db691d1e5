// A likelihood surrogate against the full likelihood it learned, side by
// side in one run (issue 18's performance clause): yield points per second
// of the surrogate's batched evaluation (refinery's own, in float as the
// ONNX graph), of its ray evaluation in double with derivatives (what a fit
// on it uses), and of the exact label (two profiled fits per point) on the
// workspace.
//   bench_surrogate SURROGATE.onnx BKG.json [POINTS] [THREADS]
#include <cstdio>
#include <cstdlib>
#include <random>

#include "bench/bench_timing.h"
#include "src/core/worker_threads.h"
#include "src/histfactory/workspace.h"
#include "src/stats/signal_yield_likelihood.h"
#include "src/stats/surrogate_kernel.h"
#include "src/stats/yield_surrogate.h"

using namespace refinery;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_surrogate SURROGATE.onnx BKG.json [POINTS] [THREADS]\n");
    return 2;
  }
  const long n = argc > 3 ? std::atol(argv[3]) : 200000;
  const int threads = argc > 4 ? std::atoi(argv[4]) : 2;
  set_worker_threads(threads);
  const auto sur = stats::YieldSurrogate::load(argv[1]);
  const int K = sur->dimension();
  std::mt19937_64 rng(1);
  Eigen::MatrixXd yields(n, K);
  for (int k = 0; k < K; ++k) {
    std::uniform_real_distribution<double> u(0.0, 0.25 * sur->spec().yields_max[k]);
    for (long i = 0; i < n; ++i) yields(i, k) = u(rng);
  }
  Eigen::MatrixXd nll, spread;
  const double batch = bench::best_seconds(3, [&] { sur->evaluate(yields, &nll, &spread); });
  const long m = std::min<long>(n, 20000);
  double sink = 0;
  const double ray = bench::best_seconds(3, [&] {
    for (long i = 0; i < m; ++i) {
      double f, df, d2f;
      sur->along(yields.row(i).transpose(), 1.0, false, -1, &f, &df, &d2f);
      sink += f;
    }
  });
  // The exact labels: observed and Asimov fits per point, warm-started from the previous.
  const histfactory::Workspace ws = histfactory::Workspace::load(argv[2]);
  std::vector<stats::TemplateBin> bins;
  for (const auto& name : sur->spec().bins) bins.push_back(stats::parse_signal_template(ws, {name}, "bins")[0]);
  const stats::SignalYieldLikelihood exact(ws, bins);
  const long e = std::min<long>(n, 400);
  const double labels = bench::best_seconds(1, [&] {
    Eigen::VectorXd wo, wa;
    for (long i = 0; i < e; ++i) {
      const Eigen::VectorXd s = yields.row(i).transpose();
      const auto o = exact.observed(s, wo.size() ? &wo : nullptr);
      const auto a = exact.asimov(s, wa.size() ? &wa : nullptr);
      wo = o.best;
      wa = a.best;
      sink += o.nll + a.nll;
    }
  });
  std::printf("surrogate %s: %d bins, %d members\n", argv[1], K, sur->members());
  std::printf("batched evaluation (float, %d threads, %s kernel): %ld points in %.3f s = %.0f points/s\n", threads,
              stats::surrogate_kernel::instruction_set(), n, batch, n / batch);
  std::printf("ray evaluation with derivatives (double, 1 thread): %.0f points/s\n", m / ray);
  std::printf("exact labels (two profiled fits, 1 thread): %.0f points/s (%.2f ms per point)\n", e / labels,
              1e3 * labels / e);
  std::printf("surrogate / exact: %.0fx (batched)\n", (n / batch) / (e / labels));
  return sink == 12345.678 ? 1 : 0;
}
