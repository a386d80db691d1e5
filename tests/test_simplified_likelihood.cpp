// Simplified likelihoods (src/stats/simplified_likelihood.h): the skewed
// background's coefficients against the moments they must reproduce
// (analytic identities of a + b theta + c theta^2 with theta ~ N(0, 1)),
// the NLL's derivatives against finite differences, the one-bin fit against
// its closed form, the Gaussian form against the pyhf workspace it equals
// (one histosys per Cholesky column), and bad files through the CLI.
#include "tests/testing.hpp"
#include "tests/input_error.hpp"

#include <cmath>
#include <fstream>
#include <random>

#include "src/histfactory/hf_model.h"
#include "src/histfactory/workspace.h"
#include "src/stats/fit.h"
#include "src/stats/hypotest.h"
#include "src/stats/simplified_likelihood.h"
#include "src/stats/workspace_model.h"

using namespace refinery;
using namespace refinery::stats;
using nlohmann::json;
using refinery::testing::input_error_of;

namespace {

// Three bins with correlated, right-skewed backgrounds (our own numbers).
json three_bins(bool skewed) {
  json d = {{"simplified_likelihood", 1},
            {"bins", {"SR_low", "SR_mid", "SR_high"}},
            {"observed", {42, 17, 3}},
            {"background", {40.0, 15.5, 2.2}},
            {"covariance", {{16.0, 4.0, 0.5}, {4.0, 6.25, 0.6}, {0.5, 0.6, 0.49}}},
            {"signal", {2.0, 4.0, 3.5}}};
  if (skewed) d["third_moments"] = {10.0, 3.0, 0.2};
  return d;
}

}  // namespace

TEST_CASE("Simplified likelihood: the skewed form reproduces the background's mean, covariance and third moments",
          "[simplified]") {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int trial = 0; trial < 20; ++trial) {
    const int n = 1 + trial % 5;
    Eigen::MatrixXd A(n, n);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) A(i, j) = u(rng) - 0.3;
    const Eigen::MatrixXd m2 = A * A.transpose() + 0.5 * Eigen::MatrixXd::Identity(n, n);
    Eigen::VectorXd m1(n), m3(n);
    for (int i = 0; i < n; ++i) {
      m1[i] = 10.0 + 50.0 * u(rng);
      // Up to 60% of the largest skew the form allows, either sign.
      m3[i] = (trial % 2 ? -1.0 : 1.0) * 0.6 * u(rng) * std::sqrt(8.0 * std::pow(m2(i, i), 3));
    }
    const SkewedBackground f = skewed_background(m1, m2, m3);
    for (int i = 0; i < n; ++i) {
      const double a = f.a[i], b = f.b[i], c = f.c[i];
      REQUIRE(a + c == Approx(m1[i]).epsilon(1e-12));                                       // E b_i
      REQUIRE(b * b + 2.0 * c * c == Approx(m2(i, i)).epsilon(1e-10));                      // Var b_i
      REQUIRE(6.0 * b * b * c + 8.0 * c * c * c == Approx(m3[i]).epsilon(1e-9).margin(1e-12));  // third central moment
      REQUIRE(c * m3[i] >= 0.0);  // skewed the same way
      for (int j = 0; j < n; ++j) {
        // Cov(b_i, b_j) = b_i b_j rho + 2 c_i c_j rho^2 for unit normals of correlation rho.
        const double r = f.rho(i, j);
        REQUIRE(b * f.b[j] * r + 2.0 * c * f.c[j] * r * r == Approx(m2(i, j)).epsilon(1e-9).margin(1e-12));
      }
    }
  }
  // Without third moments: the Gaussian, c = 0, rho the correlation matrix.
  Eigen::MatrixXd m2(2, 2);
  m2 << 4.0, 1.2, 1.2, 9.0;
  const SkewedBackground g = skewed_background(Eigen::Vector2d(5.0, 7.0), m2, Eigen::VectorXd());
  REQUIRE(g.c.isZero(0.0));
  REQUIRE(g.b[0] == Approx(2.0));
  REQUIRE(g.b[1] == Approx(3.0));
  REQUIRE(g.rho(0, 1) == Approx(0.2));
  // A skew no quadratic form reaches, and a correlation beyond 1.
  REQUIRE(input_error_of([&] { skewed_background(Eigen::Vector2d(5.0, 7.0), m2, Eigen::Vector2d(30.0, 0.0), "f.json"); })
              .find("f.json: third_moments[0]: |30| exceeds sqrt(8 variance^3) = 22.6274") == 0);
  Eigen::MatrixXd bad(2, 2);
  bad << 1.0, 1.5, 1.5, 1.0;
  REQUIRE(input_error_of([&] { skewed_background(Eigen::Vector2d(5.0, 7.0), bad, Eigen::VectorXd(), "f.json"); })
              .find("f.json: covariance: ") == 0);
}

TEST_CASE("Simplified likelihood: gradient and Hessian equal finite differences, and one bin fits in closed form",
          "[simplified]") {
  for (bool skewed : {false, true}) {
    const SimplifiedLikelihoodModel m(read_simplified_likelihood(three_bins(skewed), "three.json"));
    REQUIRE(m.size() == 4);
    REQUIRE(m.parameters()[1].name == "theta_SR_low");
    Eigen::VectorXd x(4);
    x << 0.7, 0.4, -0.8, 1.1;
    Eigen::VectorXd g;
    Eigen::MatrixXd H;
    m.nll(x, &g, &H);
    const double h = 1e-5;
    for (int k = 0; k < 4; ++k) {
      Eigen::VectorXd up = x, down = x;
      up[k] += h;
      down[k] -= h;
      REQUIRE(g[k] == Approx((m.nll(up) - m.nll(down)) / (2 * h)).epsilon(1e-6).margin(1e-8));
      Eigen::VectorXd gu, gd;
      m.nll(up, &gu);
      m.nll(down, &gd);
      for (int l = 0; l < 4; ++l) REQUIRE(H(k, l) == Approx((gu[l] - gd[l]) / (2 * h)).epsilon(1e-5).margin(1e-7));
    }
    // The Asimov data at mu = 1 fit back to mu = 1 and theta = 0.
    const auto asimov = m.asimov(m.init());
    const FitResult f = fit(*asimov);
    REQUIRE(f.ok());
    REQUIRE(f.x[0] == Approx(1.0).margin(1e-6));
    for (int k = 1; k < 4; ++k) REQUIRE(f.x[k] == Approx(0.0).margin(1e-5));
  }
  // One bin, Gaussian background: the fit sits at theta = 0 with mu s + m1 = n,
  // and its Hessian error is sqrt(n + sigma^2) / s exactly.
  const json one = {{"simplified_likelihood", 1}, {"observed", {30}}, {"background", {20.0}},
                    {"covariance", {{9.0}}},     {"signal", {4.0}}};
  const SimplifiedLikelihoodModel m1(read_simplified_likelihood(one, "one.json"));
  const FitResult f = fit(m1);
  REQUIRE(f.ok());
  REQUIRE(f.x[0] == Approx(2.5).epsilon(1e-8));
  REQUIRE(f.x[1] == Approx(0.0).margin(1e-7));
  REQUIRE(f.error[0] == Approx(std::sqrt(30.0 + 9.0) / 4.0).epsilon(1e-6));
}

TEST_CASE("Simplified likelihood: the Gaussian form is the pyhf workspace with one histosys per Cholesky column",
          "[simplified]") {
  const json doc = three_bins(false);
  const SimplifiedLikelihoodModel sl(read_simplified_likelihood(doc, "three.json"));
  // The same likelihood written as HistFactory: b(eta) = m1 + sum_j eta_j sigma L_{:,j},
  // linear in eta with symmetric variations (code4p and code0 agree there).
  const Eigen::MatrixXd L = Eigen::LLT<Eigen::MatrixXd>(sl.background().rho).matrixL();
  json background = {{"name", "background"}, {"data", doc["background"]}, {"modifiers", json::array()}};
  for (int j = 0; j < 3; ++j) {
    json hi = json::array(), lo = json::array();
    for (int i = 0; i < 3; ++i) {
      const double shift = sl.background().b[i] * L(i, j);
      hi.push_back(doc["background"][i].get<double>() + shift);
      lo.push_back(doc["background"][i].get<double>() - shift);
    }
    background["modifiers"].push_back({{"name", "theta_" + doc["bins"][j].get<std::string>()},
                                       {"type", "histosys"},
                                       {"data", {{"hi_data", hi}, {"lo_data", lo}}}});
  }
  const json signal = {{"name", "signal"},
                       {"data", doc["signal"]},
                       {"modifiers", {{{"name", "mu"}, {"type", "normfactor"}, {"data", nullptr}}}}};
  const json ws = {{"channels", {{{"name", "SR"}, {"samples", {signal, background}}}}},
                   {"observations", {{{"name", "SR"}, {"data", doc["observed"]}}}},
                   {"measurements", {{{"name", "m"}, {"config", {{"poi", "mu"}, {"parameters", json::array()}}}}}},
                   {"version", "1.0.0"}};
  const WorkspaceModel hf(histfactory::HistFactoryModel(histfactory::Workspace::from_json(ws, "equivalent.json")));
  REQUIRE(hf.size() == sl.size());
  std::mt19937_64 rng(3);
  std::normal_distribution<double> z(0.0, 1.0);
  for (int trial = 0; trial < 5; ++trial) {
    Eigen::VectorXd x(4), y(4);
    x[0] = 0.5 + 0.3 * trial;
    for (int k = 1; k < 4; ++k) x[k] = 0.7 * z(rng);
    for (int k = 0; k < 4; ++k) y[hf.index(sl.parameters()[k].name)] = x[k];
    REQUIRE(sl.nll(x) == Approx(hf.nll(y)).epsilon(1e-12));
  }
  AsymptoticCalculator a(sl, 0), b(hf, hf.poi());
  const HypotestResult ra = a.hypotest(1.0), rb = b.hypotest(1.0);
  REQUIRE(ra.cls == Approx(rb.cls).margin(1e-8));
  for (int k = 0; k < 5; ++k) REQUIRE(ra.cls_exp[k] == Approx(rb.cls_exp[k]).margin(1e-8));
  REQUIRE(a.upper_limits().observed == Approx(b.upper_limits().observed).epsilon(1e-6));
}

TEST_CASE("Simplified likelihood files through the CLI: the model commands run, bad files get one line and exit 2",
          "[simplified][cli]") {
  refinery::testing::TempDir tmp("simplified");
  auto write = [&](const std::string& name, const json& d) {
    std::ofstream(tmp.path(name)) << d.dump(1);
    return tmp.path(name);
  };
  const std::string good = write("good.json", three_bins(true));
  auto r = refinery::testing::run_refinery("hypotest " + good + " --mu 1 --json");
  REQUIRE(r.exit_code == 0);
  const json h = json::parse(r.output);
  REQUIRE(h.at("cls_obs").get<double>() > 0.0);
  REQUIRE(h.at("cls_obs").get<double>() < 1.0);
  REQUIRE(refinery::testing::run_refinery("limit " + good + " --quiet").exit_code == 0);
  r = refinery::testing::run_refinery("inspect " + good);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.output.find(good + ": simplified likelihood, 3 bins, skewed background, POI mu in [0, 10]") == 0);
  REQUIRE(r.output.find("largest correlation between bins: 0.4\n") != std::string::npos);
  REQUIRE(refinery::testing::run_refinery("fit " + good + " --asimov --quiet").exit_code == 0);
  // Pseudo-experiments through the same interface: the skewed model's 68.27%
  // profiled intervals cover within 3 binomial errors (2 x 400 toys).
  r = refinery::testing::run_refinery("toys " + good + " --n 400 --mu-values 1,3 --quiet --out " + tmp.path("toys.csv"));
  REQUIRE(r.exit_code == 0);
  const json toys = json::parse(refinery::testing::read_file(tmp.path("toys.csv.json")));
  REQUIRE(toys.at("overall").at("toys") == 800);
  REQUIRE(toys.at("overall").at("failed") == 0);
  const double coverage = toys.at("overall").at("coverage").get<double>();
  REQUIRE(std::abs(coverage - 0.6827) < 3.0 * std::sqrt(0.6827 * 0.3173 / 800));
  REQUIRE(toys.at("analysis").get<std::string>().rfind("simplified_likelihood ", 0) == 0);
  auto expect = [&](const std::string& name, json d, const std::string& message) {
    const auto e = refinery::testing::run_refinery("fit " + write(name, d));
    INFO(e.output);
    REQUIRE(e.exit_code == 2);
    REQUIRE(e.output == "refinery fit: error: " + tmp.path(name) + ": " + message + "\n");
  };
  json d = three_bins(true);
  d.erase("covariance");
  expect("no_cov.json", d, "covariance: missing");
  d = three_bins(true);
  d["covariance"][0][1] = 3.0;
  expect("asym.json", d, "covariance[1][0]: the matrix is not symmetric");
  d = three_bins(true);
  d["third_moments"][0] = 200.0;
  expect("skew.json", d, "third_moments[0]: |200| exceeds sqrt(8 variance^3) = 181.019: no quadratic form a + b theta + c theta^2 has this skew");
  d = three_bins(true);
  d["observed"] = {1, 2};
  expect("count.json", d, "observed: has 2 entries for 3 bins");
  d = three_bins(true);
  d["signal"][2] = -1.0;
  expect("negative.json", d, "signal[2]: must be >= 0, got -1");
  d = three_bins(true);
  d["covariances"] = d["covariance"];
  expect("typo.json", d, "covariances: unknown key");
  d = three_bins(true);
  d["simplified_likelihood"] = 2;
  expect("version.json", d, "simplified_likelihood: unknown format version (this refinery reads 1)");
  // Workspace options do not apply.
  const auto e = refinery::testing::run_refinery("fit " + good + " --patch x.json");
  REQUIRE(e.exit_code == 2);
  REQUIRE(e.output.find("--patch: applies to a pyhf workspace, not to the simplified likelihood") != std::string::npos);
}

TEST_CASE("refinery simplify: the control region's fit and a normsys propagated to the signal region's moments exactly",
          "[simplified][cli]") {
  refinery::testing::TempDir tmp("simplify");
  // CR: background 100 k, observed 110: k = 1.1 +- sqrt(110) / 100. SR:
  // background 10 k 1.2^theta (normsys, code1), signal 5; the default
  // signal region is SR (the only channel with signal). At the centre
  // (k = 1.1, theta = 0) the SR background is 11; linear propagation over
  // one sigma each way: g_k = 10 sigma_k, g_theta = 11 (1.2 - 1/1.2) / 2.
  const json ws = {
      {"channels",
       {{{"name", "CR"},
         {"samples", {{{"name", "bkg"}, {"data", {100.0}}, {"modifiers", {{{"name", "k"}, {"type", "normfactor"}, {"data", nullptr}}}}}}}},
        {{"name", "SR"},
         {"samples",
          {{{"name", "signal"}, {"data", {5.0}}, {"modifiers", {{{"name", "mu"}, {"type", "normfactor"}, {"data", nullptr}}}}},
           {{"name", "bkg"},
            {"data", {10.0}},
            {"modifiers",
             {{{"name", "k"}, {"type", "normfactor"}, {"data", nullptr}},
              {{"name", "syst"}, {"type", "normsys"}, {"data", {{"hi", 1.2}, {"lo", 1.0 / 1.2}}}}}}}}}}}},
      {"observations", {{{"name", "CR"}, {"data", {110.0}}}, {{"name", "SR"}, {"data", {12.0}}}}},
      {"measurements", {{{"name", "m"}, {"config", {{"poi", "mu"}, {"parameters", json::array()}}}}}},
      {"version", "1.0.0"}};
  std::ofstream(tmp.path("ws.json")) << ws.dump();
  auto r = refinery::testing::run_refinery("simplify " + tmp.path("ws.json") + " --interp code1 --third-moments quadratic --out " +
                                           tmp.path("sl.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.output.find("signal regions: SR (1 bins); control regions: 1 channels, fitted background-only") == 0);
  const json sl = json::parse(refinery::testing::read_file(tmp.path("sl.json")));
  const double gk2 = 100.0 * 1.21 / 110.0, gt = 11.0 * (1.2 - 1.0 / 1.2) / 2.0;
  REQUIRE(sl["background"][0].get<double>() == Approx(11.0).epsilon(1e-6));
  REQUIRE(sl["covariance"][0][0].get<double>() == Approx(gk2 + gt * gt).epsilon(1e-5));
  // Third cumulant of the quadratic expansion, 3 g.A.g + tr(A^3): A_tt =
  // 11 (1.2 + 1/1.2 - 2) (the normsys curves), A_kt = 10 sigma_k (1.2 - 1/1.2) / 2
  // (k and the normsys multiply), A_kk = 0 (k enters linearly).
  const double gk = std::sqrt(gk2), a = 11.0 * (1.2 + 1.0 / 1.2 - 2.0), c = gk * (1.2 - 1.0 / 1.2) / 2.0;
  const double third = 3.0 * (gt * gt * a + 2.0 * gk * gt * c) + a * a * a + 3.0 * a * c * c;
  REQUIRE(sl["third_moments"][0].get<double>() == Approx(third).epsilon(1e-5));
  REQUIRE(sl["signal"][0].get<double>() == Approx(5.0));
  REQUIRE(sl["observed"][0].get<double>() == 12.0);
  REQUIRE(sl["provenance"]["control_region_fit"]["status"] == "converged");
  // The file is a model like any other.
  REQUIRE(refinery::testing::run_refinery("limit " + tmp.path("sl.json") + " --quiet").exit_code == 0);
  // --third-moments profile: the largest and smallest background on the unit
  // circle of the whitened (k, theta), y = 10 (1.1 + sigma_k e_k) 1.2^e_t
  // (found here by a dense scan of the angle), read as a + b t + c t^2 at
  // t = -1, 0, 1.
  r = refinery::testing::run_refinery("simplify " + tmp.path("ws.json") + " --interp code1 --third-moments profile --out " +
                                      tmp.path("sp.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  {
    const json sp = json::parse(refinery::testing::read_file(tmp.path("sp.json")));
    const double sk = std::sqrt(1.21 / 110.0);
    double up = 0.0, down = 1e300;
    for (int i = 0; i < 200000; ++i) {
      const double phi = 2.0 * M_PI * i / 200000.0;
      const double y = 10.0 * (1.1 + sk * std::cos(phi)) * std::pow(1.2, std::sin(phi));
      up = std::max(up, y), down = std::min(down, y);
    }
    const double a = 11.0, b = 0.5 * (up - down), cc = 0.5 * (up + down) - a;
    REQUIRE(sp["background"][0].get<double>() == Approx(a + cc).epsilon(1e-7));
    REQUIRE(sp["covariance"][0][0].get<double>() == Approx(b * b + 2.0 * cc * cc).epsilon(1e-6));
    REQUIRE(sp["third_moments"][0].get<double>() == Approx(6.0 * b * b * cc + 8.0 * cc * cc * cc).epsilon(1e-5));
    REQUIRE(sp["provenance"]["third_moments"] == "profile");
    // More than the response along the steepest direction u = g / |g| alone:
    // the profile bends away from it (its points lie further out).
    const double norm = std::hypot(gk, gt);
    auto along = [&](double t) { return 10.0 * (1.1 + sk * t * gk / norm) * std::pow(1.2, t * gt / norm); };
    REQUIRE(up > along(1.0) + 1e-6);
    REQUIRE(down <= along(-1.0));
  }
  // A signal region that does not exist, a kind of third moments that does not.
  r = refinery::testing::run_refinery("simplify " + tmp.path("ws.json") + " --signal-regions SR,VR --out " + tmp.path("x.json"));
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.output == "refinery simplify: error: --signal-regions: no channel 'VR' (channels: CR, SR)\n");
  r = refinery::testing::run_refinery("simplify " + tmp.path("ws.json") + " --third-moments toys --out " + tmp.path("x.json"));
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.output == "refinery simplify: error: --third-moments: expected none, profile or quadratic, got 'toys'\n");
  r = refinery::testing::run_refinery("simplify " + tmp.path("ws.json") + " --interp code2 --out " + tmp.path("x.json"));
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.output == "refinery simplify: error: --interp: unknown interpolation 'code2' (known: default, code4, code1)\n");
  REQUIRE(!refinery::testing::file_exists(tmp.path("x.json")));
}
