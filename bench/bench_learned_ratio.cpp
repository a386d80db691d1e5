// A 20 x 20 profile scan of the unbinned learned-ratio likelihood
// (src/stats/learned_ratio_model.h) over N events (issue 17's performance
// figure: 1e5 events in under 60 s on 2 cores). The per-event coefficients
// are the theory simulator's exact ones (data/analytic/theory_toy.h:
// log rho_j at nu = 0 and its first two nu-derivatives by central
// differences of the quadrature density), as a trained network would give
// them; the scan itself does not depend on where they came from.
// Usage: bench_learned_ratio [N=100000] [reference M=100000] [threads=2]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "bench/bench_timing.h"
#include "data/analytic/theory_toy.h"
#include "src/core/worker_threads.h"
#include "src/stats/fit.h"
#include "src/stats/learned_ratio_model.h"
#include "src/stats/profile.h"

using namespace refinery;
using refinery::analytic::TheoryToy;

namespace {

Eigen::MatrixXd coefficients(const std::vector<TheoryToy::Event>& events, const stats::Morphing& morphing) {
  const int n = morphing.size();
  Eigen::MatrixXd c(Eigen::Index(events.size()), 3 * n);
  const double h = 0.2;
  parallel_for(std::int64_t(events.size()), [&](std::int64_t e) {
    const Eigen::Vector2d& x = events[std::size_t(e)].x;
    const double ref = std::log(TheoryToy::pdf_x(x, Eigen::Vector2d::Zero(), 0.0) * TheoryToy::cross_section(Eigen::Vector2d::Zero()));
    for (int j = 0; j < n; ++j) {
      const Eigen::Vector2d t = morphing.basis().row(j).transpose();
      const double s = std::log(TheoryToy::cross_section(t));
      const double f0 = std::log(TheoryToy::pdf_x(x, t, 0.0)) + s - ref, fp = std::log(TheoryToy::pdf_x(x, t, h)) + s - ref,
                   fm = std::log(TheoryToy::pdf_x(x, t, -h)) + s - ref;
      c(e, 3 * j) = f0;
      c(e, 3 * j + 1) = (fp - fm) / (2 * h);
      c(e, 3 * j + 2) = 0.5 * (fp - 2 * f0 + fm) / (h * h);
    }
  });
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t N = argc > 1 ? std::atoll(argv[1]) : 100000, M = argc > 2 ? std::atoll(argv[2]) : 100000;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  set_worker_threads(threads);
  const auto components = stats::morphing_components({2, 2}, 2);
  Eigen::MatrixXd candidates(25, 2), thetas(121, 2);
  for (int i = 0; i < 25; ++i) candidates.row(i) << -1.0 + 0.5 * (i / 5), -1.0 + 0.5 * (i % 5);
  for (int i = 0; i < 121; ++i) thetas.row(i) << -1.0 + 0.2 * (i / 11), -1.0 + 0.2 * (i % 11);
  const stats::Morphing morphing = stats::optimise_morphing_basis(components, candidates, thetas);
  std::mt19937_64 rng(7);
  const Eigen::Vector2d truth(0.3, -0.2);
  const auto data = TheoryToy::sample(truth, 0.0, N, rng), reference = TheoryToy::sample(Eigen::Vector2d::Zero(), 0.0, M, rng);
  const double luminosity = double(N) / TheoryToy::cross_section(truth);
  const auto in = std::make_shared<const stats::LearnedRatioInputs>(stats::LearnedRatioInputs{
      morphing, 1, {"theta_1", "theta_2", "nu"}, Eigen::Vector2d(-2.5, -2.5), Eigen::Vector2d(2.5, 2.5),
      coefficients(reference, morphing), luminosity * TheoryToy::cross_section(Eigen::Vector2d::Zero())});
  const stats::LearnedRatioModel model(in, coefficients(data, morphing));
  Eigen::VectorXd x = model.init(), g;
  Eigen::MatrixXd H;
  const double eval = bench::best_seconds(5, [&] { model.nll(x, &g, &H); });
  stats::FitResult best;
  const double fit_s = bench::best_seconds(1, [&] { best = stats::fit(model, {}); });
  std::vector<double> a, b;
  for (int k = 0; k < 20; ++k) {
    a.push_back(best.x[0] + best.error[0] * (-3.0 + 6.0 * k / 19.0));
    b.push_back(best.x[1] + best.error[1] * (-3.0 + 6.0 * k / 19.0));
  }
  std::vector<stats::ScanPoint> points;
  const double scan_s = bench::best_seconds(1, [&] { points = stats::profile_scan_2d(model, best, 0, 1, a, b); });
  int converged = 0;
  for (const auto& p : points) converged += p.converged;
  const auto contour = stats::scan_contour(points, stats::chi2_level_2d(0.6827));
  std::printf("learned-ratio likelihood: %lld events, %lld reference events, %d threads\n", (long long)N, (long long)M, threads);
  std::printf("  NLL + gradient + Hessian: %.1f ms\n", 1e3 * eval);
  std::printf("  MLE: %.2f s (theta_1 %.4f +- %.4f, theta_2 %.4f +- %.4f, nu %.3f)\n", fit_s, best.x[0], best.error[0], best.x[1],
              best.error[1], best.x[2]);
  std::printf("  20 x 20 profile scan (nu profiled at every point): %.1f s, %d of 400 converged, %zu contour line(s) at 68.27%%\n",
              scan_s, converged, contour.size());
  return 0;
}
