// The binned yields' response brought to the simulator's on a paired sample
// (src/likelihood/paired_yield_calibration.h): the correction's paired errors
// are the spread of its estimates over independent cells, a response the
// model lacks is recovered, and a cell that agrees within its noise is
// shrunk towards the model's own response.
#include "tests/testing.hpp"

#include <cmath>
#include <random>
#include <vector>

#include "src/likelihood/paired_yield_calibration.h"

using namespace refinery::likelihood;

namespace {

struct Stats {
  double mean = 0, sd = 0;
};
Stats summary_of(const std::vector<double>& v) {
  Stats s;
  for (double x : v) s.mean += x;
  s.mean /= double(v.size());
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = std::sqrt(s.sd / double(v.size() - 1));
  return s;
}

// 200 unit cells on a ring [0, 200), 1000 events each at x ~ U. At a point
// nu the simulator shifts every event by 0.02 nu (events migrate to the
// next cell; the ring has no edge) and weights it by exp(nu g) with g ~
// U(-0.1, 0.1) per event, so that E[T(nu) / T(0)] = sinh(0.1 nu) / (0.1 nu)
// = exp(nu^2 / 600 + O(nu^4)) in every cell. Cells 100-199 are also weighted by
// exp(0.05 nu): a response the model (log r = nu^2 / 600 everywhere) lacks.
PairedYieldSample ring_sample(uint64_t seed, std::vector<double> points) {
  const int64_t cells = 200, per_cell = 1000, n = cells * per_cell, K = int64_t(points.size());
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> x(n), g(n);
  for (int64_t i = 0; i < n; ++i) x[size_t(i)] = double(i / per_cell) + u(rng), g[size_t(i)] = 0.2 * u(rng) - 0.1;
  PairedYieldSample s;
  s.n_cells = cells;
  s.nominal_event = torch::arange(n, torch::kInt64);
  s.nominal_weight = torch::ones({n}, torch::kFloat64);
  s.nominal_cell = torch::arange(n, torch::kInt64).div(per_cell, "floor");
  std::vector<double> log_r(size_t(n * K)), phi(size_t(K * 3));
  std::vector<int64_t> ev, cell, pt;
  std::vector<double> w;
  for (int64_t k = 0; k < K; ++k) {
    const double nu = points[size_t(k)];
    phi[size_t(k * 3)] = nu, phi[size_t(k * 3 + 1)] = nu * nu, phi[size_t(k * 3 + 2)] = nu * nu * nu;
    for (int64_t i = 0; i < n; ++i) {
      log_r[size_t(i * K + k)] = nu * nu / 600.0;
      const double xs = std::fmod(x[size_t(i)] + 0.02 * nu + double(cells), double(cells));
      ev.push_back(i);
      cell.push_back(int64_t(xs));
      pt.push_back(k);
      const bool responds = i / per_cell >= 100;
      w.push_back(std::exp(nu * g[size_t(i)] + (responds ? 0.05 * nu : 0.0)));
    }
  }
  s.nominal_log_r = torch::tensor(log_r, torch::kFloat64).view({n, K});
  s.varied_event = torch::tensor(ev, torch::kInt64);
  s.varied_cell = torch::tensor(cell, torch::kInt64);
  s.varied_point = torch::tensor(pt, torch::kInt64);
  s.varied_weight = torch::tensor(w, torch::kFloat64);
  s.phi = torch::tensor(phi, torch::kFloat64).view({K, 3});
  return s;
}

}  // namespace

TEST_CASE("Paired yield calibration: errors from the pairs, a missing response recovered, noise shrunk",
          "[paired_calibration]") {
  const PairedYieldSample s = ring_sample(17, {-2.0, -1.0, -0.5, 0.5, 1.0, 2.0});
  const PairedYieldCorrection c = paired_yield_correction(s, 100);
  REQUIRE(c.correction.sizes() == torch::IntArrayRef({200, 3}));
  auto raw = c.raw.accessor<double, 2>(), err = c.error.accessor<double, 2>(), cor = c.correction.accessor<double, 2>();
  auto shrink = c.shrink.accessor<double, 1>();
  std::vector<double> pull_lin, pull_sq, lin_b, shrink_a, shrink_b;
  double raw2 = 0, cor2 = 0;
  for (int64_t b = 0; b < 200; ++b) {
    REQUIRE(c.ndf[b].item<int64_t>() == 3);
    REQUIRE(err[b][0] > 0);
    if (b < 100) {
      // The model's expectation is the simulator's: truth 0 (to O(1e-5)).
      pull_lin.push_back(raw[b][0] / err[b][0]);
      pull_sq.push_back(raw[b][1] / err[b][1]);
      shrink_a.push_back(shrink[b]);
      raw2 += raw[b][0] * raw[b][0];
      cor2 += cor[b][0] * cor[b][0];
    } else {
      lin_b.push_back(raw[b][0]);
      shrink_b.push_back(shrink[b]);
    }
  }
  // The paired errors are the estimates' spread over 100 independent cells
  // (sd of a sample sd of 100: 0.07).
  const Stats pl = summary_of(pull_lin), ps = summary_of(pull_sq);
  INFO("linear pulls " << pl.mean << " +- " << pl.sd << ", quadratic " << ps.mean << " +- " << ps.sd);
  CHECK(std::abs(pl.mean) < 0.4);
  CHECK(std::abs(ps.mean) < 0.4);
  CHECK(pl.sd > 0.8);
  CHECK(pl.sd < 1.2);
  CHECK(ps.sd > 0.8);
  CHECK(ps.sd < 1.2);
  // The response the model lacks, 0.05 per unit of nu, within 4 errors of
  // the mean over 100 cells; those cells keep it (chi2 of order 700).
  const Stats lb = summary_of(lin_b);
  INFO("recovered " << lb.mean << " +- " << lb.sd / 10);
  CHECK(std::abs(lb.mean - 0.05) < 4 * lb.sd / 10);
  CHECK(summary_of(shrink_b).mean > 0.99);
  // Cells that agree within their noise are shrunk towards the model: for
  // chi2 ~ chi2_3 the positive-part factor averages about a half.
  INFO("shrink " << summary_of(shrink_a).mean << ", rms kept " << std::sqrt(cor2 / raw2));
  CHECK(summary_of(shrink_a).mean < 0.7);
  CHECK(std::sqrt(cor2 / raw2) < 0.8);
}

TEST_CASE("Paired yield calibration: exact where the simulator's response is a constant factor per cell, and small cells left alone",
          "[paired_calibration]") {
  // Each cell's events respond by exp(h_b nu), the model by exp(0.7 h_b nu):
  // log T / M = 0.3 h_b nu at every point, whatever the events.
  const int64_t cells = 4, per_cell = 300, n = cells * per_cell;
  const std::vector<double> points = {-1.0, 1.0, 2.0}, h = {0.1, -0.2, 0.05, 0.3};
  PairedYieldSample s;
  s.n_cells = cells;
  s.nominal_event = torch::arange(n, torch::kInt64) * 7 + 1000;  // any numbering
  s.nominal_cell = torch::arange(n, torch::kInt64).div(per_cell, "floor");
  s.nominal_weight = torch::rand({n}, torch::kFloat64) + 0.5;
  s.nominal_cell[n - 1] = -1;  // an event in no cell
  std::vector<double> log_r;
  std::vector<torch::Tensor> ev, cell, w, pt;
  for (int64_t i = 0; i < n; ++i)
    for (double nu : points) log_r.push_back(0.7 * h[size_t(i / per_cell)] * nu);
  for (size_t k = 0; k < points.size(); ++k) {
    torch::Tensor hb = torch::tensor(h, torch::kFloat64).index_select(0, s.nominal_cell.clamp_min(0));
    ev.push_back(s.nominal_event);
    cell.push_back(s.nominal_cell);
    w.push_back(s.nominal_weight * (hb * points[k]).exp());
    pt.push_back(torch::full({n}, int64_t(k), torch::kInt64));
  }
  s.nominal_log_r = torch::tensor(log_r, torch::kFloat64).view({n, int64_t(points.size())});
  s.varied_event = torch::cat(ev), s.varied_cell = torch::cat(cell), s.varied_weight = torch::cat(w), s.varied_point = torch::cat(pt);
  s.phi = torch::tensor(std::vector<double>{-1.0, 1.0, 1.0, 1.0, 2.0, 4.0}, torch::kFloat64).view({3, 2});
  const PairedYieldCorrection c = paired_yield_correction(s, 100);
  for (int64_t b = 0; b < cells; ++b) {
    CHECK(c.raw[b][0].item<double>() == Approx(0.3 * h[size_t(b)]).margin(1e-9));
    CHECK(c.raw[b][1].item<double>() == Approx(0.0).margin(1e-9));
    CHECK(c.ndf[b].item<int64_t>() == 2);
  }
  // Fewer nominal events than min_events: no correction, ndf 0.
  const PairedYieldCorrection none = paired_yield_correction(s, 400);
  CHECK(none.ndf.sum().item<int64_t>() == 0);
  CHECK(none.correction.abs().sum().item<double>() == 0.0);
  // Inconsistent shapes are refused.
  PairedYieldSample bad = s;
  bad.nominal_log_r = bad.nominal_log_r.narrow(1, 0, 2);
  CHECK_THROWS_AS(paired_yield_correction(bad), std::invalid_argument);
  bad = s;
  bad.varied_point = bad.varied_point + 5;
  CHECK_THROWS_AS(paired_yield_correction(bad), std::invalid_argument);
}
