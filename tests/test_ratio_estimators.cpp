// Parameterised likelihood-ratio estimators (train/ratio_estimator.h) on the
// two-parameter theory simulator (data/analytic/theory_toy.h), issue 17's
// acceptance for the augmented estimators: with the same events, network
// and training budget, the mean squared error of log r^(x|theta, SM)
// against the exact log r over a grid of theta is at least 3 times smaller
// for RASCAL and ALICES (joint ratio and joint score) than for CARL, and
// their expected 68% contours are within 5% in area of the exact
// likelihood's.
#include "tests/testing.hpp"

#include <cmath>
#include <limits>
#include <random>

#include "data/analytic/theory_toy.h"
#include "src/core/eigen_tensor.h"
#include "src/core/error.h"
#include "models/torchscript_export.h"
#include "train/estimator_export.h"
#include "train/ratio_estimator.h"

using refinery::analytic::TheoryToy;

namespace {

// n events drawn at theta ~ U([-1, 1]^2) (one each) and n at the SM point,
// paired with the same theta.
refinery::RatioTrainingData training_data(int64_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const auto r = TheoryToy::ratio_sample(Eigen::Vector2d::Zero(), false, n, rng);
  using refinery::to_tensor;
  return {to_tensor(r.x), to_tensor(r.parameters), to_tensor(r.joint_log_ratio).view({-1}), to_tensor(r.joint_score),
          to_tensor(r.label).view({-1}), torch::zeros({2}, torch::kFloat64)};
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
  auto trained = [&](refinery::RatioLoss loss) {
    refinery::RatioOptions o;
    o.loss = loss;
    o.train.epochs = 20;
    o.train.steps_per_epoch = 200;
    o.train.learning_rate = 2e-3;
    o.train.lr_decay = 0.9;
    o.train.patience = 0;
    o.train.quiet = true;
    o.train.seed = 5;
    return refinery::train_ratio_estimator(data, o);
  };
  const refinery::RatioEstimator carl_net = trained(refinery::RatioLoss::kCarl),
                                 alices_net = trained(refinery::RatioLoss::kAlices),
                                 rascal_net = trained(refinery::RatioLoss::kRascal),
                                 cascal_net = trained(refinery::RatioLoss::kCascal),
                                 rolr_net = trained(refinery::RatioLoss::kRolr);
  auto mse = [&](const refinery::RatioEstimator& e) { return (e.log_ratio(xs, ths) - exact).pow(2).mean().item<double>(); };
  {  // TorchScript export: the archive's log r^ equals the estimator's
    refinery::testing::TempDir tmp("ratio_export");
    torch::jit::Module m = refinery::ratio_estimator_to_torchscript(rascal_net);
    refinery::save_torchscript(m, {{"kind", "ratio_estimator"}, {"loss", "rascal"}}, tmp.path("rascal.pt"));
    torch::jit::Module back = refinery::load_torchscript(tmp.path("rascal.pt"));
    const torch::Tensor x = xs.narrow(0, 0, 1000), th = ths.narrow(0, 0, 1000);
    const torch::Tensor a = back.get_method("log_ratio")({x, th}).toTensor(), b = rascal_net.log_ratio(x, th);
    // float32 networks: the JIT and eager kernels may round differently (a
    // few units in the last place of |log r^| ~ 1-10; 1.09e-6 seen on AVX-512).
    CHECK((a - b).abs().max().item<double>() < 32 * std::numeric_limits<float>::epsilon() * (1.0 + b.abs().max().item<double>()));
  }
  const double carl = mse(carl_net), alices = mse(alices_net), rascal = mse(rascal_net), cascal = mse(cascal_net),
               rolr = mse(rolr_net);
  INFO("mean squared error of log r: CARL " << carl << ", ALICES " << alices << ", RASCAL " << rascal << ", CASCAL "
                                             << cascal << ", ROLR " << rolr << "; variance of the exact log r "
                                             << exact.var().item<double>());
  CHECK(cascal < carl);  // the score term helps the classifier too
  CHECK(rolr < 0.5 * exact.var().item<double>());
  // RASCAL is 3.7-6.8x better than CARL at four data seeds (61, 71, 81,
  // 91) of this sampler, ALICES 2.4-5.2x; with `refinery simulate theory`'s
  // samples at the same four seeds and three network seeds each, ALICES
  // 3.4-5.3x and RASCAL 4.7-7.9x (docs/madminer.md): the 3x holds
  // in 15 of 16 trials for ALICES, in all for RASCAL. This seed: 5.2x.
  CHECK(alices < carl / 3.0);
  CHECK(rascal < carl / 3.0);
  CHECK(carl < exact.var().item<double>());  // CARL itself learned something

  // The expected 68% contour for L = 1 fb^-1 (Wilks, 2 degrees of freedom):
  //   q(theta) = 2 L (sigma(theta) - sigma_SM)
  //              - 2 L sigma_SM (log(sigma(theta) / sigma_SM) + <log r(x|theta, SM)>_SM) <= 2.30,
  // the mean over the same 500 SM events for the exact ratio and for each
  // estimator; its radius along 24 directions by bisection, the area from
  // those radii.
  const double L = 1.0, sm_sigma = TheoryToy::cross_section(Eigen::Vector2d(0, 0));
  const auto sm_events = TheoryToy::sample(Eigen::Vector2d(0, 0), 0.0, 500, rng);
  torch::Tensor sm_x = torch::empty({500, 2}, torch::kFloat64);
  std::vector<double> sm_log_pdf;
  for (int i = 0; i < 500; ++i) {
    sm_x[i][0] = sm_events[i].x[0], sm_x[i][1] = sm_events[i].x[1];
    sm_log_pdf.push_back(std::log(TheoryToy::pdf_x(sm_events[i].x, Eigen::Vector2d(0, 0), 0.0)));
  }
  auto q_of = [&](const Eigen::Vector2d& theta, const refinery::RatioEstimator* e) {
    double mean = 0.0;
    if (e) {
      mean = e->log_ratio(sm_x, torch::tensor({theta[0], theta[1]}, torch::kFloat64).view({1, 2}).expand({500, 2}))
                 .mean()
                 .item<double>();
    } else {
      for (int i = 0; i < 500; ++i) mean += (std::log(TheoryToy::pdf_x(sm_events[i].x, theta, 0.0)) - sm_log_pdf[i]) / 500.0;
    }
    const double sigma = TheoryToy::cross_section(theta);
    return 2.0 * L * (sigma - sm_sigma) - 2.0 * L * sm_sigma * (std::log(sigma / sm_sigma) + mean);
  };
  auto area = [&](const refinery::RatioEstimator* e) {
    const int directions = 24;
    double a = 0.0;
    for (int d = 0; d < directions; ++d) {
      const double phi = 2.0 * M_PI * d / directions;
      const Eigen::Vector2d u(std::cos(phi), std::sin(phi));
      double lo = 0.0, hi = 1.0;
      if (q_of(hi * u, e) < 2.30) return std::numeric_limits<double>::infinity();  // not closed inside the prior
      for (int it = 0; it < 20; ++it) {
        const double mid = 0.5 * (lo + hi);
        (q_of(mid * u, e) < 2.30 ? lo : hi) = mid;
      }
      a += 0.5 * std::pow(0.5 * (lo + hi), 2) * 2.0 * M_PI / directions;
    }
    return a;
  };
  const double exact_area = area(nullptr), carl_area = area(&carl_net), alices_area = area(&alices_net),
               rascal_area = area(&rascal_net), cascal_area = area(&cascal_net), rolr_area = area(&rolr_net);
  INFO("expected 68% contour areas: exact " << exact_area << ", CARL " << carl_area << ", ALICES " << alices_area
                                            << ", RASCAL " << rascal_area << ", CASCAL " << cascal_area << ", ROLR "
                                            << rolr_area);
  CHECK(std::isfinite(exact_area));
  CHECK(alices_area == Approx(exact_area).epsilon(0.05));
  CHECK(rascal_area == Approx(exact_area).epsilon(0.05));
}

TEST_CASE("The positive quadratic head: the morphed sum positive at every theta and its ensemble exported alike",
          "[ratio][morphing]") {
  // The quadratic structure with a basis inside [-1, 1]^2 (weights of both signs).
  Eigen::MatrixXd basis(6, 2);
  basis << 0, 0, 1, 0, -1, 0, 0, 1, 0, -1, 1, 1;
  auto form = std::make_shared<refinery::MorphingAwareForm>(refinery::MorphingAwareForm{
      refinery::stats::Morphing(refinery::stats::morphing_components({2, 2}, 2), basis), Eigen::VectorXd(), 0, true});
  REQUIRE(refinery::is_quadratic_structure(form->morphing));
  form->basis_cross_sections.resize(6);
  for (int j = 0; j < 6; ++j) form->basis_cross_sections[j] = TheoryToy::cross_section(basis.row(j).transpose());
  const refinery::RatioTrainingData data = training_data(5000, 81);
  refinery::RatioOptions o;
  o.morphing = form;
  o.train.epochs = 3;
  o.train.steps_per_epoch = 20;
  o.train.quiet = true;
  std::vector<refinery::RatioEstimator> members;
  for (std::uint64_t seed : {11, 12}) {
    o.train.seed = seed;
    members.push_back(refinery::train_ratio_estimator(data, o));
  }
  std::mt19937_64 rng(82);
  const auto events = TheoryToy::sample(Eigen::Vector2d(0.5, -0.5), 0.0, 300, rng);
  torch::Tensor x = torch::empty({300, 2}, torch::kFloat64);
  for (int i = 0; i < 300; ++i) x[i][0] = events[size_t(i)].x[0], x[i][1] = events[size_t(i)].x[1];
  // sum_j w_j rho_j = v^T Q v with Q = L L^T: positive far outside the
  // basis too, for each member and for the ensemble (which averages rho_j).
  const torch::Tensor ensemble = refinery::ensemble_coefficients(members, x);
  double smallest = std::numeric_limits<double>::infinity();
  for (int k = 0; k < 200; ++k) {
    const Eigen::Vector2d theta(-6.0 + 12.0 * ((k * 37) % 200) / 200.0, -6.0 + 12.0 * k / 200.0);
    const torch::Tensor w = refinery::to_tensor(form->morphing.weights(theta)).view({1, -1});
    for (const torch::Tensor& c : {members[0].coefficients(x), members[1].coefficients(x), ensemble}) {
      const torch::Tensor S = (w * c.select(2, 0).exp()).sum(1);
      smallest = std::min(smallest, S.min().item<double>());
    }
  }
  INFO("smallest morphed sum over 200 theta in [-6, 6]^2 and 300 events: " << smallest);
  CHECK(smallest > 0.0);
  // The archive computes the same head and the same ensemble average.
  refinery::testing::TempDir tmp("quadratic_head");
  torch::jit::Module m = refinery::ratio_estimator_to_torchscript(members);
  refinery::save_torchscript(m, {{"kind", "ratio_estimator"}}, tmp.path("q.pt"));
  torch::jit::Module back = refinery::load_torchscript(tmp.path("q.pt"));
  // float networks: log rho of a sum of squares of float entries agrees to ~1e-6 relative
  CHECK((back.get_method("coefficients")({x}).toTensor() - ensemble).abs().max().item<double>() < 1e-5);
  const torch::Tensor theta = torch::tensor({0.4, -0.3}, torch::kFloat64).view({1, 2}).expand({300, 2});
  CHECK((back.get_method("log_ratio")({x, theta}).toTensor() - refinery::ensemble_log_ratio(members, x, theta)).abs().max().item<double>() <
        1e-5);
  // Degenerate use: the head without the quadratic structure is refused.
  auto cubic = std::make_shared<refinery::MorphingAwareForm>(*form);
  Eigen::MatrixXd b3(4, 2);
  b3 << 0, 0, 1, 0, 2, 0, 3, 0;
  cubic->morphing = refinery::stats::Morphing({{0, 0}, {1, 0}, {2, 0}, {3, 0}}, b3);
  cubic->basis_cross_sections = Eigen::VectorXd::Ones(4);
  CHECK_FALSE(refinery::is_quadratic_structure(cubic->morphing));
  o.morphing = cubic;
  CHECK_THROWS_AS(refinery::train_ratio_estimator(data, o), refinery::InputError);
}
