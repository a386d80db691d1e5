// The likelihood of a learned, morphing-aware ratio in the fit engine (issue
// 17 item 5): the model's derivatives against finite differences and its
// Asimov data returning their parameters; then the whole chain on the
// theory simulator (data/analytic/theory_toy.h) with its energy-scale
// nuisance: RASCAL trained on (theta, nu), per-event coefficients cached,
// 2D profile scans through the engine, and the coverage of the 68.27%
// region t(theta_true) <= 2.2957 over pseudo-experiments with nu drawn from
// its prior and profiled.
#include "tests/testing.hpp"
#include "tests/input_error.hpp"

#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "data/analytic/theory_toy.h"
#include "src/core/eigen_tensor.h"
#include "src/stats/fit.h"
#include "src/stats/learned_ratio_model.h"
#include "src/stats/morphing.h"
#include "src/stats/profile.h"
#include "models/torchscript_export.h"
#include "train/estimator_export.h"
#include "train/ratio_estimator.h"

using refinery::analytic::TheoryToy;
using namespace refinery;
using namespace refinery::stats;

namespace {

// The quadratic structure in two parameters, its basis chosen in [-1, 1]^2.
Morphing theory_morphing() {
  const auto components = morphing_components({2, 2}, 2);
  Eigen::MatrixXd candidates(25, 2), thetas(121, 2);
  for (int i = 0; i < 25; ++i) candidates.row(i) << -1.0 + 0.5 * (i / 5), -1.0 + 0.5 * (i % 5);
  for (int i = 0; i < 121; ++i) thetas.row(i) << -1.0 + 0.2 * (i / 11), -1.0 + 0.2 * (i % 11);
  return optimise_morphing_basis(components, candidates, thetas);
}


torch::Tensor observables(const std::vector<TheoryToy::Event>& events) {
  torch::Tensor x = torch::empty({int64_t(events.size()), 2}, torch::kFloat64);
  auto a = x.accessor<double, 2>();
  for (std::size_t i = 0; i < events.size(); ++i) a[i][0] = events[i].x[0], a[i][1] = events[i].x[1];
  return x;
}

// Training events at (theta, nu) from the priors against (SM, 0)
// (TheoryToy::ratio_sample) as the estimator takes them.
RatioTrainingData training_data(int64_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const auto r = TheoryToy::ratio_sample(Eigen::Vector2d::Zero(), true, n, rng);
  return {to_tensor(r.x), to_tensor(r.parameters), to_tensor(r.joint_log_ratio).view({-1}), to_tensor(r.joint_score),
          to_tensor(r.label).view({-1}), torch::zeros({3}, torch::kFloat64)};
}

// The exact likelihood of the same events, for reference: -log L = L sigma(theta)
// - sum_e log(sigma(theta) p(x_e|theta, nu)) + nu^2 / 2, derivatives by
// central differences (three parameters, a few dozen events).
class ExactTheoryModel : public Model {
 public:
  ExactTheoryModel(const LearnedRatioModel& like, std::vector<TheoryToy::Event> events, double luminosity)
      : events_(std::move(events)), luminosity_(luminosity) {
    parameters_ = like.parameters();
  }
  double data_nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const override {
    auto value = [&](const Eigen::VectorXd& y) {
      const Eigen::Vector2d theta = y.head<2>();
      const double sigma = TheoryToy::cross_section(theta);
      double v = luminosity_ * sigma;
      for (const auto& e : events_) v -= std::log(sigma * TheoryToy::pdf_x(e.x, theta, y[2]));
      return v;
    };
    const double f = value(x), h = 1e-4;
    if (grad || hess) {
      if (grad) grad->setZero(3);
      if (hess) hess->setZero(3, 3);
      for (int p = 0; p < 3; ++p) {
        Eigen::VectorXd a = x, b = x;
        a[p] += h, b[p] -= h;
        const double fa = value(a), fb = value(b);
        if (grad) (*grad)[p] = (fa - fb) / (2 * h);
        if (hess) (*hess)(p, p) = (fa - 2 * f + fb) / (h * h);
        for (int q = 0; hess && q < p; ++q) {
          Eigen::VectorXd pp = x, pm = x, mp = x, mm = x;
          pp[p] += h, pp[q] += h, pm[p] += h, pm[q] -= h, mp[p] -= h, mp[q] += h, mm[p] -= h, mm[q] -= h;
          (*hess)(p, q) = (*hess)(q, p) = (value(pp) - value(pm) - value(mp) + value(mm)) / (4 * h * h);
        }
      }
    }
    return f;
  }
  std::vector<ProcessYields> expected_yields(const Eigen::VectorXd&) const override { return {}; }
  std::vector<ProcessYields> observed_yields() const override { return {}; }
  std::unique_ptr<Model> with_asimov_data(const Eigen::VectorXd&) const override { return nullptr; }
  std::unique_ptr<Model> with_toy_data(const Eigen::VectorXd&, std::mt19937_64&) const override { return nullptr; }
  std::string describe() const override { return "exact theory-simulator likelihood"; }

 private:
  std::vector<TheoryToy::Event> events_;
  double luminosity_;
};

// t(theta_true) = 2 (min over nu at theta_true - global min); NaN when a fit fails.
double t_at(const Model& model, const Eigen::Vector2d& theta_true) {
  FitOptions free_fit;
  free_fit.covariance = false;
  const FitResult best = fit(model, free_fit);
  FitOptions held = free_fit;
  held.hold = {{0, theta_true[0]}, {1, theta_true[1]}};
  const FitResult at_truth = fit(model, held);
  if (!best.ok() || !at_truth.ok()) return std::numeric_limits<double>::quiet_NaN();
  return 2.0 * (at_truth.nll - best.nll);
}

}  // namespace

TEST_CASE("Learned-ratio model: derivatives against finite differences and Asimov data that return their parameters",
          "[ratio][learned]") {
  auto in = std::make_shared<LearnedRatioInputs>(LearnedRatioInputs{theory_morphing(), 1, {"theta_1", "theta_2", "nu"},
                                                                    Eigen::Vector2d(-2, -2), Eigen::Vector2d(2, 2), {}, 0});
  const int n = in->morphing.size(), cols = n * 3;
  // Coefficients of a smooth made-up ratio: rho_j = sigma_j / sigma_ref times
  // an event-dependent tilt, so that S > 0 over the range.
  std::mt19937_64 rng(3);
  std::normal_distribution<double> g;
  auto coefficients = [&](int rows) {
    Eigen::MatrixXd c(rows, cols);
    for (int e = 0; e < rows; ++e) {
      const double tilt = 0.3 * g(rng);
      for (int j = 0; j < n; ++j) {
        const double sigma_j = TheoryToy::cross_section(in->morphing.basis().row(j).transpose());
        c(e, 3 * j) = std::log(sigma_j / TheoryToy::cross_section(Eigen::Vector2d::Zero())) + tilt * (j % 3 - 1) * 0.2;
        c(e, 3 * j + 1) = 0.1 * tilt + 0.02 * g(rng);
        c(e, 3 * j + 2) = -0.01 + 0.005 * g(rng);
      }
    }
    return c;
  };
  in->reference = coefficients(2000);
  in->reference_yield = 50.0;
  const LearnedRatioModel model(in, coefficients(300));
  REQUIRE(model.size() == 3);
  CHECK(model.parameters()[2].constraint == Constraint::kGaussian);
  Eigen::VectorXd x(3);
  x << 0.3, -0.4, 0.7;
  Eigen::VectorXd grad;
  Eigen::MatrixXd hess;
  const double f = model.nll(x, &grad, &hess);
  REQUIRE(std::isfinite(f));
  for (int p = 0; p < 3; ++p) {
    const double h = 1e-5;
    Eigen::VectorXd xp = x, xm = x, gp, gm;
    xp[p] += h;
    xm[p] -= h;
    CHECK(grad[p] == Approx((model.nll(xp) - model.nll(xm)) / (2 * h)).epsilon(1e-6).margin(1e-6));
    model.nll(xp, &gp);
    model.nll(xm, &gm);
    for (int q = 0; q < 3; ++q) CHECK(hess(p, q) == Approx((gp[q] - gm[q]) / (2 * h)).epsilon(1e-5).margin(1e-5));
  }
  // Asimov data at x: the fit returns x.
  const auto asimov = model.asimov(x);
  FitOptions o;
  const FitResult r = fit(*asimov, o);
  REQUIRE(r.ok());
  for (int p = 0; p < 3; ++p) CHECK(r.x[p] == Approx(x[p]).margin(1e-6));
  CHECK(asimov->observed_yields()[0].bins[0] == Approx(model.expected_yields(x)[0].bins[0]).epsilon(1e-12));
  // Bad shapes, and toys without the simulator.
  CHECK_THAT(testing::input_error_of([&] { LearnedRatioModel(in, Eigen::MatrixXd::Zero(3, cols - 1)); }),
             Catch::Contains("coefficients"));
  std::mt19937_64 toy_rng(1);
  CHECK_THAT(testing::input_error_of([&] { model.with_toy_data(x, toy_rng); }), Catch::Contains("need the simulator"));
}

TEST_CASE("Learned ratio on the theory simulator: 2D region with the energy scale profiled covers", "[ratio][learned][coverage]") {
  // CARL in the morphing-aware form over (theta_1, theta_2, nu). (The
  // score-augmented losses did not train in this form: docs/madminer.md.)
  auto form = std::make_shared<MorphingAwareForm>(MorphingAwareForm{theory_morphing(), Eigen::VectorXd(), 1});
  form->basis_cross_sections.resize(form->morphing.size());
  for (int j = 0; j < form->morphing.size(); ++j)
    form->basis_cross_sections[j] = TheoryToy::cross_section(form->morphing.basis().row(j).transpose());
  RatioOptions o;
  o.loss = RatioLoss::kCarl;
  o.morphing = form;
  o.hidden = {64, 64};
  o.train.epochs = 60;
  o.train.steps_per_epoch = 200;
  o.train.learning_rate = 2e-3;
  o.train.lr_decay = 0.95;
  o.train.patience = 0;
  o.train.seed = 5;
  o.train.quiet = true;
  const RatioEstimator estimator = train_ratio_estimator(training_data(100000, 71), o);
  REQUIRE(estimator.morphing);

  // The exact log ratio at nu = 0 and 1 against the estimate, on events at the SM.
  std::mt19937_64 rng(72);
  const auto check_events = TheoryToy::sample(Eigen::Vector2d(0, 0), 0.0, 300, rng);
  const torch::Tensor cx = observables(check_events);
  double mse = 0.0;
  int count = 0;
  for (const Eigen::Vector3d& p : {Eigen::Vector3d(0.5, -0.5, 0.0), Eigen::Vector3d(-0.4, 0.6, 1.0), Eigen::Vector3d(0.2, 0.3, -1.0)}) {
    const torch::Tensor params = torch::tensor({p[0], p[1], p[2]}, torch::kFloat64).view({1, 3}).expand({cx.size(0), 3});
    const torch::Tensor est = estimator.log_ratio(cx, params);
    for (std::size_t i = 0; i < check_events.size(); ++i) {
      const double exact = std::log(TheoryToy::pdf_x(check_events[i].x, p.head<2>(), p[2]) /
                                    TheoryToy::pdf_x(check_events[i].x, Eigen::Vector2d::Zero(), 0.0));
      mse += std::pow(est[int64_t(i)].item<double>() - exact, 2);
      ++count;
    }
  }
  mse /= count;
  INFO("MSE of log r^ over three (theta, nu) points: " << mse);
  // 0.0095 at this seed on the machines of the first stops, 0.0263 on an
  // AMD EPYC with AVX-512 (the same seed: the training's floating-point
  // order differs between CPUs, so the trained network does too).
  CHECK(mse < 0.04);

  {  // TorchScript export of the morphing-aware form: coefficients and log r^
    testing::TempDir tmp("morphing_export");
    torch::jit::Module m = ratio_estimator_to_torchscript(estimator);
    save_torchscript(m, {{"kind", "ratio_estimator"}, {"form", "morphing-aware"}}, tmp.path("carl.pt"));
    torch::jit::Module back = load_torchscript(tmp.path("carl.pt"));
    const torch::Tensor params = torch::tensor({0.4, -0.3, 0.8}, torch::kFloat64).view({1, 3}).expand({cx.size(0), 3});
    // float networks: the two evaluations round alike to ~1e-7 per coefficient
    CHECK((back.get_method("log_ratio")({cx, params}).toTensor() - estimator.log_ratio(cx, params)).abs().max().item<double>() < 1e-5);
    CHECK((back.get_method("coefficients")({cx}).toTensor() - estimator.coefficients(cx)).abs().max().item<double>() < 1e-6);
    // Python: torch.jit.load and the same 20 events, passed as text.
    {
      std::ofstream xs(tmp.path("x.txt"));
      xs.precision(17);
      for (int i = 0; i < 20; ++i) xs << cx[i][0].item<double>() << " " << cx[i][1].item<double>() << "\n";
    }
    std::ofstream(tmp.path("check.py")) << "import sys, torch\n"
        "m = torch.jit.load(sys.argv[1])\n"
        "x = torch.tensor([[float(v) for v in l.split()] for l in open(sys.argv[2])], dtype=torch.float64)\n"
        "p = torch.tensor([[0.4, -0.3, 0.8]], dtype=torch.float64).expand(x.size(0), 3)\n"
        "print(' '.join('%.12g' % v for v in m.log_ratio(x, p).tolist()))\n";
    const auto py = testing::run_command(std::string(testing::debian_python()) + " " + tmp.path("check.py") + " " +
                                         tmp.path("carl.pt") + " " + tmp.path("x.txt"));
    INFO(py.output);
    REQUIRE(py.exit_code == 0);
    std::stringstream ss(py.output);
    const torch::Tensor want = estimator.log_ratio(cx.narrow(0, 0, 20), params.narrow(0, 0, 20));
    for (int i = 0; i < 20; ++i) {
      double v = std::nan("");
      ss >> v;
      CHECK(v == Approx(want[i].item<double>()).margin(1e-5));
    }
  }

  // The model: a reference sample at (0, 0) for the expected yield.
  // 6 fb^-1: ~125 events at the SM. (At 1 fb^-1, ~21 events, the exact
  // likelihood's own region over-covers, 0.74: Wilks' asymptotics.)
  const double luminosity = 6.0;
  const auto in = std::make_shared<const LearnedRatioInputs>(LearnedRatioInputs{
      form->morphing, 1, {"theta_1", "theta_2", "nu"}, Eigen::Vector2d(-2.5, -2.5), Eigen::Vector2d(2.5, 2.5),
      to_eigen_matrix(estimator.coefficients(observables(TheoryToy::sample(Eigen::Vector2d(0, 0), 0.0, 20000, rng)))),
      luminosity * TheoryToy::cross_section(Eigen::Vector2d::Zero())});

  // Pseudo-experiments at theta_true with nu_true from its prior (its
  // constraint centred at 0), every one fitted twice, free and with theta
  // held at the truth (nu profiled), with the learned likelihood and with
  // the exact one.
  const Eigen::Vector2d theta_true(0.3, -0.2);
  const double level = chi2_level_2d(0.6827);
  std::normal_distribution<double> prior;
  const int toys = 300;
  int covered = 0, covered_exact = 0, failed = 0, agree = 0;
  double mean_t = 0.0;
  for (int i = 0; i < toys; ++i) {
    std::mt19937_64 toy_rng(1000 + i);
    const double nu_true = std::clamp(prior(toy_rng), -3.0, 3.0);
    std::poisson_distribution<int> count_of(luminosity * TheoryToy::cross_section(theta_true));
    const auto events = TheoryToy::sample(theta_true, nu_true, count_of(toy_rng), toy_rng);
    const LearnedRatioModel model(in, to_eigen_matrix(estimator.coefficients(observables(events))));
    const ExactTheoryModel exact(model, events, luminosity);
    const double t = t_at(model, theta_true), t_exact = t_at(exact, theta_true);
    if (!std::isfinite(t) || !std::isfinite(t_exact)) {
      ++failed;
      continue;
    }
    mean_t += t / toys;
    covered += t <= level;
    covered_exact += t_exact <= level;
    agree += (t <= level) == (t_exact <= level);
  }
  const double n_ok = toys - failed, coverage = covered / n_ok, error = std::sqrt(0.6827 * 0.3173 / n_ok);
  INFO("coverage " << coverage << " +- " << error << " (exact likelihood on the same toys " << covered_exact / n_ok
                   << "; the same verdict on " << agree << " of " << n_ok << "), mean t " << mean_t << " (2 expected), failed fits " << failed);
  CHECK(failed == 0);
  CHECK(std::abs(coverage - 0.6827) < 3.0 * error);
  CHECK(std::abs(covered_exact / n_ok - 0.6827) < 3.0 * error);
  CHECK(agree >= 0.85 * n_ok);  // the learned region decides like the exact one
  CHECK(mean_t == Approx(2.0).margin(0.4));

  // A 2D profile scan through the engine: the expected region (Asimov at
  // theta_true, nu = 0) closes inside the grid around theta_true.
  const LearnedRatioModel nominal(in, in->reference.topRows(10));
  Eigen::VectorXd truth(3);
  truth << theta_true[0], theta_true[1], 0.0;
  const auto asimov = nominal.asimov(truth);
  FitOptions af;
  const FitResult best = fit(*asimov, af);
  REQUIRE(best.ok());
  CHECK(best.x[0] == Approx(theta_true[0]).margin(1e-4));
  std::vector<double> a, b;
  for (int k = 0; k < 13; ++k) a.push_back(theta_true[0] - 0.9 + 0.15 * k), b.push_back(theta_true[1] - 0.9 + 0.15 * k);
  const auto points = profile_scan_2d(*asimov, best, 0, 1, a, b);
  const auto contours = scan_contour(points, level);
  REQUIRE(contours.size() == 1);
  CHECK(contours[0].front() == contours[0].back());  // closed
}


TEST_CASE("refinery fisher theory: the observables ordered by information, every estimate below the parton bound", "[ratio][cli]") {
  testing::TempDir tmp("fisher");
  const auto r = testing::run_refinery("fisher theory --theta 0.2,-0.1 --luminosity 2 --events 30000 --quiet --out " + tmp.path("f.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json f = nlohmann::json::parse(testing::read_file(tmp.path("f.json")));
  std::map<std::string, Eigen::Matrix2d> info;
  for (const auto& row : f["rows"]) {
    Eigen::Matrix2d I;
    I << row["information"][0][0].get<double>(), row["information"][0][1].get<double>(), row["information"][1][0].get<double>(),
        row["information"][1][1].get<double>();
    info[row["name"].get<std::string>()] = I;
  }
  REQUIRE(info.size() == 8);
  const Eigen::Matrix2d exact = TheoryToy::fisher_detector(Eigen::Vector2d(0.2, -0.1), 0.0, 2.0);
  CHECK((info["(x_1, x_2), exact"] - exact).norm() < 1e-12 * exact.norm());
  // Exact sources: the parton level bounds the detector level, which bounds
  // every histogram (positive semi-definite differences).
  auto dominates = [](const Eigen::Matrix2d& a, const Eigen::Matrix2d& b) {
    return Eigen::SelfAdjointEigenSolver<Eigen::Matrix2d>(a - b).eigenvalues().minCoeff() > -1e-9 * a.norm();
  };
  CHECK(dominates(info["parton level (z)"], exact));
  for (const char* h : {"rate only", "histogram of x_1 (22 bins)", "histogram of x_2 (18 bins)", "histogram of (x_1, x_2) (12 x 10 bins)"}) {
    INFO(h);
    CHECK(dominates(exact, info.at(h)));
  }
  CHECK(dominates(info.at("histogram of (x_1, x_2) (12 x 10 bins)"), info.at("histogram of x_2 (18 bins)")));
  // The learned estimates near the exact value (30,000 events: within 15%
  // element by element, normalised by sqrt(I_ii I_jj); within 10% on the
  // machines of the first stops, 12.6% for one element on an AMD EPYC with
  // AVX-512, whose floating-point order trains another network).
  for (const char* learned : {"SALLY: learned score of (x_1, x_2)", "learned ratio of (x_1, x_2) (CARL, morphing-aware)"}) {
    INFO(learned);
    const Eigen::Matrix2d& I = info.at(learned);
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) CHECK(std::abs(I(i, j) - exact(i, j)) / std::sqrt(exact(i, i) * exact(j, j)) < 0.15);
  }
  // Bad input: one line, exit 2.
  const auto other = testing::run_refinery("fisher htautau");
  CHECK(other.exit_code == 2);
  CHECK_THAT(other.output, Catch::Contains("refinery fisher knows the theory simulator"));
  const auto one = testing::run_refinery("fisher theory --theta 1");
  CHECK(one.exit_code == 2);
  CHECK_THAT(one.output, Catch::Contains("--theta: expected two values"));
}
