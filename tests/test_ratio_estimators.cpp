// Parameterised likelihood-ratio estimators (train/ratio_estimator.h) on the
// two-parameter theory simulator (data/analytic/theory_toy.h), issue 17's
// acceptance for the augmented estimators: with the same events, network
// and training budget, the mean squared error of log r^(x|theta, SM)
// against the exact log r over a grid of theta is at least 3 times smaller
// for RASCAL and ALICES (joint ratio and joint score) than for CARL.
#include "tests/testing.hpp"

#include <cmath>
#include <random>

#include "data/analytic/theory_toy.h"
#include "train/ratio_estimator.h"

using refinery::analytic::TheoryToy;

namespace {

// n events drawn at theta ~ U([-1, 1]^2) (one each) and n at the SM point,
// paired with the same theta.
refinery::RatioTrainingData training_data(int64_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  const Eigen::Vector2d sm(0.0, 0.0);
  const auto reference = TheoryToy::sample(sm, 0.0, n, rng);
  refinery::RatioTrainingData d;
  d.x = torch::empty({2 * n, 2}, torch::kFloat64);
  d.theta = torch::empty({2 * n, 2}, torch::kFloat64);
  d.joint_log_ratio = torch::empty({2 * n}, torch::kFloat64);
  d.joint_score = torch::empty({2 * n, 2}, torch::kFloat64);
  d.label = torch::empty({2 * n}, torch::kFloat64);
  auto x = d.x.accessor<double, 2>(), th = d.theta.accessor<double, 2>(), t = d.joint_score.accessor<double, 2>();
  auto lr = d.joint_log_ratio.accessor<double, 1>(), y = d.label.accessor<double, 1>();
  for (int64_t i = 0; i < n; ++i) {
    const Eigen::Vector2d theta(u(rng), u(rng));
    const auto e = TheoryToy::sample(theta, 0.0, 1, rng).front();
    for (int64_t row : {2 * i, 2 * i + 1}) {
      const auto& ev = row == 2 * i ? e : reference[std::size_t(i)];
      x[row][0] = ev.x[0], x[row][1] = ev.x[1];
      th[row][0] = theta[0], th[row][1] = theta[1];
      lr[row] = TheoryToy::joint_log_ratio(ev.z, theta, sm);
      const Eigen::Vector2d s = TheoryToy::joint_score(ev.z, theta);
      t[row][0] = s[0], t[row][1] = s[1];
      y[row] = row == 2 * i ? 0.0 : 1.0;
    }
  }
  return d;
}

}  // namespace

TEST_CASE("Augmented ratio estimators: RASCAL and ALICES at least 3x more accurate than CARL", "[ratio][morphing]") {
  const refinery::RatioTrainingData data = training_data(50000, 61);
  // The test: 400 events at the SM point, a 5 x 5 grid of theta.
  std::mt19937_64 rng(62);
  const auto test_events = TheoryToy::sample(Eigen::Vector2d(0, 0), 0.0, 400, rng);
  std::vector<Eigen::Vector2d> grid;
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j) grid.push_back(Eigen::Vector2d(-0.8 + 0.4 * i, -0.8 + 0.4 * j));
  const int64_t M = int64_t(grid.size() * test_events.size());
  torch::Tensor xs = torch::empty({M, 2}, torch::kFloat64), ths = torch::empty({M, 2}, torch::kFloat64),
                exact = torch::empty({M}, torch::kFloat64);
  int64_t k = 0;
  for (const auto& theta : grid)
    for (const auto& e : test_events) {
      xs[k][0] = e.x[0], xs[k][1] = e.x[1], ths[k][0] = theta[0], ths[k][1] = theta[1];
      exact[k] = std::log(TheoryToy::pdf_x(e.x, theta, 0.0)) - std::log(TheoryToy::pdf_x(e.x, Eigen::Vector2d(0, 0), 0.0));
      ++k;
    }
  auto mse = [&](refinery::RatioLoss loss) {
    refinery::RatioOptions o;
    o.loss = loss;
    o.train.epochs = 20;
    o.train.steps_per_epoch = 200;
    o.train.learning_rate = 2e-3;
    o.train.lr_decay = 0.9;
    o.train.patience = 0;
    o.train.quiet = true;
    o.train.seed = 5;
    const refinery::RatioEstimator e = refinery::train_ratio_estimator(data, o);
    return (e.log_ratio(xs, ths) - exact).pow(2).mean().item<double>();
  };
  const double carl = mse(refinery::RatioLoss::kCarl), alices = mse(refinery::RatioLoss::kAlices),
               rascal = mse(refinery::RatioLoss::kRascal);
  INFO("mean squared error of log r: CARL " << carl << ", ALICES " << alices << ", RASCAL " << rascal
                                             << "; variance of the exact log r " << exact.var().item<double>());
  CHECK(alices < carl / 3.0);
  CHECK(rascal < carl / 3.0);
  CHECK(carl < exact.var().item<double>());  // CARL itself learned something
}
