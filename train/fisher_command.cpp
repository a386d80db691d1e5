// `refinery fisher theory [--theta T1,T2] [--luminosity L] [--events N]`:
// the Fisher information on the two theory parameters of the theory
// simulator (data/analytic/theory_toy.h) at one point, from every source
// issue 17 item 4 names, side by side (MadMiner's comparison of observables
// by information, arXiv:1805.00020 section 4):
//   - the total rate alone (one bin), 1D histograms of x_1 and of x_2, the
//     2D histogram of (x_1, x_2): exact expected counts per bin;
//   - the detector level (x_1, x_2) exactly (quadrature over z);
//   - SALLY's estimated score of (x_1, x_2) (train/sally.h), trained and
//     evaluated on separate simulated events;
//   - the learned likelihood ratio (CARL in the morphing-aware form,
//     train/ratio_estimator.h): the Hessian of its likelihood
//     (src/stats/learned_ratio_model.h) on Asimov data at the point;
//   - the parton level (z itself), the bound none of them can pass.
// Each row gives the Cramer-Rao errors sqrt((I^-1)_ii), their correlation
// and the area of the 68.27% Cramer-Rao ellipse (pi 2.2957 sqrt(det I^-1)),
// also written as JSON with --out. The energy-scale nuisance is known (0).
#include <cmath>
#include <cstdio>
#include <iostream>
#include <random>

#include <nlohmann/json.hpp>

#include "data/analytic/theory_toy.h"
#include "src/cli/options.h"
#include "src/core/atomic_file.h"
#include "src/core/eigen_tensor.h"
#include "src/core/error.h"
#include "src/core/threads.h"
#include "src/stats/learned_ratio_model.h"
#include "src/stats/morphing.h"
#include "src/stats/profile.h"
#include "train/ratio_estimator.h"
#include "train/sally.h"

namespace refinery::cli {

namespace {

using analytic::TheoryToy;

// Events at theta: observables [n, 2] and joint scores at theta [n, 2].
void score_events(const Eigen::Vector2d& theta, std::int64_t n, std::mt19937_64& rng, torch::Tensor* x, torch::Tensor* t) {
  const auto r = TheoryToy::score_sample(theta, n, rng);
  *x = to_tensor(r.x);
  *t = to_tensor(r.score);
}

// CARL in the morphing-aware form around `theta` (the reference), trained
// on n events at theta' ~ U(theta +- 1) against n at theta; the Fisher
// information is its likelihood's Hessian on Asimov data at theta.
Eigen::Matrix2d learned_ratio_information(const Eigen::Vector2d& theta, double luminosity, std::int64_t n,
                                          std::uint64_t seed, bool quiet) {
  // The point itself is the first basis point: there w = (1, 0, ..., 0) and
  // the estimate sum_j w_j rho_j = rho_0 is positive for every event.
  Eigen::MatrixXd basis(6, 2);
  basis << 0, 0, 1, 0, -1, 0, 0, 1, 0, -1, 1, 1;
  basis.rowwise() += theta.transpose();
  auto form = std::make_shared<MorphingAwareForm>(
      MorphingAwareForm{stats::Morphing(stats::morphing_components({2, 2}, 2), basis), Eigen::VectorXd(), 0});
  form->basis_cross_sections.resize(form->morphing.size());
  for (int j = 0; j < form->morphing.size(); ++j)
    form->basis_cross_sections[j] = TheoryToy::cross_section(form->morphing.basis().row(j).transpose());
  std::mt19937_64 rng(seed);
  const auto r = TheoryToy::ratio_sample(theta, false, n, rng);
  const RatioTrainingData d{to_tensor(r.x),           to_tensor(r.parameters),
                            to_tensor(r.joint_log_ratio).view({-1}), to_tensor(r.joint_score),
                            to_tensor(r.label).view({-1}), torch::tensor({theta[0], theta[1]}, torch::kFloat64),
                            torch::Tensor()};  // theta_denominator: fixed at theta_ref
  RatioOptions o;
  o.loss = RatioLoss::kCarl;
  o.morphing = form;
  o.train.epochs = 60;
  o.train.steps_per_epoch = 200;
  o.train.learning_rate = 2e-3;
  o.train.lr_decay = 0.95;
  o.train.patience = 0;
  o.train.seed = seed + 1;
  o.train.quiet = quiet;
  o.train.label = "fisher: learned ratio";
  const RatioEstimator estimator = train_ratio_estimator(d, o);
  torch::Tensor xr, tr;
  score_events(theta, n, rng, &xr, &tr);
  const auto in = std::make_shared<const stats::LearnedRatioInputs>(stats::LearnedRatioInputs{
      form->morphing, 0, {"theta_1", "theta_2"}, Eigen::Vector2d(theta[0] - 3, theta[1] - 3),
      Eigen::Vector2d(theta[0] + 3, theta[1] + 3), to_eigen_matrix(estimator.coefficients(xr)),
      luminosity * TheoryToy::cross_section(theta)});
  const stats::LearnedRatioModel model(in, in->reference.topRows(1));
  const Eigen::VectorXd S = model.ratios(in->reference, theta);
  const Eigen::Index negative = (S.array() <= 0.0).count();
  if (negative > 0)  // sum_j w_j rho_j of a learned rho need not be positive
    throw std::runtime_error("the learned ratio is not positive at the point on " + std::to_string(negative) + " of " +
                             std::to_string(S.size()) + " events");
  const auto asimov = model.asimov(theta);
  Eigen::VectorXd g;
  Eigen::MatrixXd H;
  if (!std::isfinite(asimov->nll(theta, &g, &H)) || H.rows() != 2)
    throw std::runtime_error("the learned ratio's likelihood is not finite at the point");
  return H;
}

}  // namespace

int run_fisher(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Fisher information on the theory simulator's two parameters from every source, side by side: "
                           "refinery fisher theory [--theta T1,T2] [--luminosity L]");
  options.add_options()("simulator", "theory (the two-parameter simulator of docs/madminer.md)", cxxopts::value<std::string>())(
      "theta", "The point, theta_1,theta_2", cxxopts::value<std::string>()->default_value("0,0"))(
      "luminosity", "Integrated luminosity in fb^-1", cxxopts::value<double>()->default_value("1"))(
      "events", "Simulated events for each network's training and for the estimates",
      cxxopts::value<long>()->default_value("100000"));
  add_common_options(options, false, true);
  options.parse_positional({"simulator"});
  options.positional_help("theory");
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  if (!r->count("simulator") || (*r)["simulator"].as<std::string>() != "theory")
    throw InputError("", "SIMULATOR", "refinery fisher knows the theory simulator: refinery fisher theory");
  const std::vector<double> t = parse_numbers((*r)["theta"].as<std::string>(), "--theta");
  if (t.size() != 2) throw InputError("", "--theta", "expected two values, theta_1,theta_2");
  const Eigen::Vector2d theta(t[0], t[1]);
  if (!(std::abs(theta[0]) <= 5 && std::abs(theta[1]) <= 5)) throw InputError("", "--theta", "must lie in [-5, 5]^2");
  const double L = (*r)["luminosity"].as<double>();
  if (!(L > 0 && L <= 1e6)) throw InputError("", "--luminosity", "must lie in (0, 1e6]");
  const long n = (*r)["events"].as<long>();
  if (n < 1000 || n > 100000000) throw InputError("", "--events", "must lie in [1000, 1e8]");
  set_threads(common.threads);
  const std::uint64_t seed = common.seed.value_or(1);

  struct Row {
    std::string name;
    Eigen::Matrix2d info;
  };
  std::vector<Row> rows;
  std::vector<double> edges1, edges2;
  for (int i = 0; i <= 20; ++i) edges1.push_back(-1.2 + 0.12 * i);
  for (int i = 0; i <= 16; ++i) edges2.push_back(-0.3 + 0.1 * i);
  std::vector<double> coarse1, coarse2;
  for (int i = 0; i <= 10; ++i) coarse1.push_back(-1.2 + 0.24 * i);
  for (int i = 0; i <= 8; ++i) coarse2.push_back(-0.3 + 0.2 * i);
  rows.push_back({"rate only", TheoryToy::fisher_histogram(theta, 0.0, L, {}, {})});
  rows.push_back({"histogram of x_1 (22 bins)", TheoryToy::fisher_histogram(theta, 0.0, L, edges1, {})});
  rows.push_back({"histogram of x_2 (18 bins)", TheoryToy::fisher_histogram(theta, 0.0, L, {}, edges2)});
  rows.push_back({"histogram of (x_1, x_2) (12 x 10 bins)", TheoryToy::fisher_histogram(theta, 0.0, L, coarse1, coarse2)});
  // SALLY: trained on n events, its score's second moment on n fresh ones.
  {
    std::mt19937_64 rng(seed * 7919 + 3);
    torch::Tensor x, s, xe, se;
    score_events(theta, n, rng, &x, &s);
    SallyOptions o;
    o.train.epochs = 25;
    o.train.steps_per_epoch = 200;
    o.train.learning_rate = 2e-3;
    o.train.lr_decay = 0.9;
    o.train.seed = seed;
    o.train.quiet = common.quiet;
    o.train.label = "fisher: SALLY";
    const Sally sally = train_sally(x, s, o);
    score_events(theta, n, rng, &xe, &se);
    Eigen::Vector2d ds;
    const double sigma = TheoryToy::cross_section(theta, &ds);
    rows.push_back({"SALLY: learned score of (x_1, x_2)",
                    to_eigen_matrix(fisher_from_score(sally.score(xe), sigma, torch::tensor({ds[0], ds[1]}, torch::kFloat64), L))});
  }
  try {
    rows.push_back({"learned ratio of (x_1, x_2) (CARL, morphing-aware)",
                    learned_ratio_information(theta, L, n, seed * 104729 + 5, common.quiet)});
  } catch (const std::runtime_error& e) {
    if (dynamic_cast<const InputError*>(&e)) throw;
    std::cerr << "refinery fisher: note: no row for the learned ratio: " << e.what() << "\n";
  }
  rows.push_back({"(x_1, x_2), exact", TheoryToy::fisher_detector(theta, 0.0, L)});
  rows.push_back({"parton level (z)", TheoryToy::fisher_parton(L)});

  const double det_exact = TheoryToy::fisher_detector(theta, 0.0, L).determinant();
  nlohmann::json out = {{"theta", {theta[0], theta[1]}}, {"luminosity_fb", L}, {"events", n}, {"rows", nlohmann::json::array()}};
  std::printf("Fisher information on (theta_1, theta_2) at (%g, %g), L = %g fb^-1, energy scale known\n", theta[0], theta[1], L);
  std::printf("%-52s %10s %10s %10s %9s %9s %7s %10s %9s\n", "observables", "I_11", "I_12", "I_22", "err_1", "err_2", "corr",
              "CR area", "det/exact");
  for (const Row& row : rows) {
    const Eigen::Matrix2d& I = row.info;
    const double det = I.determinant();
    nlohmann::json j = {{"name", row.name}, {"information", {{I(0, 0), I(0, 1)}, {I(1, 0), I(1, 1)}}}, {"det_relative_to_exact", det / det_exact}};
    if (det > 1e-12 * I.cwiseAbs().maxCoeff() * I.cwiseAbs().maxCoeff()) {
      const Eigen::Matrix2d C = I.inverse();
      const double e1 = std::sqrt(C(0, 0)), e2 = std::sqrt(C(1, 1)), rho = C(0, 1) / (e1 * e2);
      const double area = M_PI * stats::chi2_level_2d(0.6827) * std::sqrt(C.determinant());
      j["errors"] = {e1, e2};
      j["correlation"] = rho;
      j["cramer_rao_area_68"] = area;
      std::printf("%-52s %10.4g %10.4g %10.4g %9.4f %9.4f %7.3f %10.4f %9.3f\n", row.name.c_str(), I(0, 0), I(0, 1), I(1, 1), e1, e2,
                  rho, area, det / det_exact);
    } else {
      std::printf("%-52s %10.4g %10.4g %10.4g %9s %9s %7s %10s %9.3f\n", row.name.c_str(), I(0, 0), I(0, 1), I(1, 1), "-", "-", "-",
                  "unbounded", det / det_exact);
    }
    out["rows"].push_back(j);
  }
  if (!common.out.empty()) write_text_atomically(common.out, out.dump(2) + "\n");
  return 0;
}

}  // namespace refinery::cli
