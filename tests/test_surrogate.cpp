// Likelihood surrogates (issue 18 items 1-3): the signal-yield likelihood
// against the hand-built workspace it stands for (a signal sample of those
// nominal yields scaled by mu, nothing else), the sampler's labels against
// independent fits and its independence of the thread count, the ONNX
// file's round trip, its derivatives along a ray against finite
// differences, the ONNX checker and an independent runtime (onnxruntime from
// npm) against refinery's own evaluation, and the commands end to end on a
// two-bin analysis, where the surrogate's limits must agree with the exact
// likelihood's.
#include "tests/testing.hpp"
#include "tests/input_error.hpp"

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "infer/combination_source.h"
#include "src/core/onnx_model.h"
#include "src/core/worker_threads.h"
#include "src/stats/surrogate_kernel.h"
#include "src/histfactory/hf_model.h"
#include "src/histfactory/workspace.h"
#include "src/stats/fit.h"
#include "src/stats/hypotest.h"
#include "src/stats/signal_yield_likelihood.h"
#include "src/stats/yield_sampling.h"
#include "src/stats/yield_surrogate.h"
#include "src/stats/workspace_model.h"

using namespace refinery;
using namespace refinery::stats;
using nlohmann::json;
using refinery::testing::input_error_of;

namespace {

// Two signal-region bins and a control region sharing a background
// normalisation; a normsys and MC-statistics errors (our own numbers).
json background_json() {
  json bkg_sr = {{"name", "bkg"},
                 {"data", {50.0, 20.0}},
                 {"modifiers",
                  {{{"name", "bkg_norm"}, {"type", "normfactor"}, {"data", nullptr}},
                   {{"name", "syst"}, {"type", "normsys"}, {"data", {{"hi", 1.1}, {"lo", 0.92}}}},
                   {{"name", "staterror_sr"}, {"type", "staterror"}, {"data", {3.0, 2.0}}}}}};
  json bkg_cr = {{"name", "bkg"},
                 {"data", {200.0}},
                 {"modifiers",
                  {{{"name", "bkg_norm"}, {"type", "normfactor"}, {"data", nullptr}},
                   {{"name", "syst"}, {"type", "normsys"}, {"data", {{"hi", 1.05}, {"lo", 0.95}}}}}}};
  return {{"channels", {{{"name", "cr"}, {"samples", {bkg_cr}}}, {{"name", "sr"}, {"samples", {bkg_sr}}}}},
          {"observations", {{{"name", "cr"}, {"data", {210.0}}}, {{"name", "sr"}, {"data", {55.0, 30.0}}}}},
          {"measurements", {{{"name", "meas"}, {"config", {{"poi", "mu"}, {"parameters", json::array()}}}}}},
          {"version", "1.0.0"}};
}

// The same with a signal sample of nominal yields s (scaled by mu alone).
json signal_json(double s0, double s1) {
  json ws = background_json();
  json sig = {{"name", "signal"},
              {"data", {s0, s1}},
              {"modifiers", {{{"name", "mu"}, {"type", "normfactor"}, {"data", nullptr}}}}};
  ws["channels"][1]["samples"].push_back(sig);
  return ws;
}

histfactory::Workspace ws_of(const json& j) { return histfactory::Workspace::from_json(j, "test.json"); }

double held_fit(const Model& m, double mu) {
  FitOptions o;
  o.covariance = false;
  o.hold = {{m.poi(), mu}};
  const FitResult r = fit(m, o);
  REQUIRE(r.ok());
  return r.nll;
}

// A surrogate of random weights over K bins (for the file and derivative tests).
YieldSurrogateSpec random_spec(int K, int members, std::vector<int> hidden, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  YieldSurrogateSpec s;
  for (int k = 0; k < K; ++k) s.bins.push_back("sr[" + std::to_string(k) + "]");
  s.poi = "mu";
  s.workspace = "test.json";
  s.workspace_hash = "0123456789abcdef";
  s.input_mean = Eigen::VectorXd::LinSpaced(K, 2.0, 5.0);
  s.input_scale = Eigen::VectorXd::LinSpaced(K, 1.5, 3.0);
  s.target_mean = {3.0, 4.0};
  s.target_scale = {2.5, 3.5};
  s.background_observed = 17.25;
  s.background_asimov = 16.5;
  s.yields_min = Eigen::VectorXd::Zero(K);
  s.yields_max = Eigen::VectorXd::Constant(K, 40.0);
  s.reach = 25;
  s.training = {{"note", "random weights"}};
  for (int m = 0; m < members; ++m) {
    std::vector<DenseLayer> layers;
    int in = K;
    std::vector<int> sizes = hidden;
    sizes.push_back(2);
    for (int out : sizes) {
      DenseLayer L;
      L.weight.resize(out, in);
      L.bias.resize(out);
      for (int i = 0; i < L.weight.size(); ++i) L.weight.data()[i] = g(rng) / std::sqrt(float(in));
      for (int i = 0; i < out; ++i) L.bias[i] = 0.1f * g(rng);
      layers.push_back(L);
      in = out;
    }
    s.members.push_back(layers);
  }
  return s;
}

// The same with origin terms from a random expansion at s = 0.
YieldSurrogateSpec random_spec_with_origin(int K, int members, std::vector<int> hidden, std::uint64_t seed) {
  YieldSurrogateSpec s = random_spec(K, members, hidden, seed);
  std::mt19937_64 rng(seed + 1);
  std::normal_distribution<double> g;
  Eigen::VectorXd gradient[2];
  Eigen::MatrixXd hessian[2];
  for (int c = 0; c < 2; ++c) {
    gradient[c] = Eigen::VectorXd::NullaryExpr(K, [&] { return 0.1 * g(rng); });
    const Eigen::MatrixXd r = Eigen::MatrixXd::NullaryExpr(K, K, [&] { return 0.1 * g(rng); });
    hessian[c] = r * r.transpose() + 0.02 * Eigen::MatrixXd::Identity(K, K);
  }
  set_origin_terms(&s, gradient, hessian);
  return s;
}

}  // namespace

TEST_CASE("Signal-yield likelihood equals the hand-built signal workspace", "[surrogate]") {
  const histfactory::Workspace bkg = ws_of(background_json());
  const auto bins = parse_signal_template(bkg, {"sr"}, "--signal-bins");
  REQUIRE(bins.size() == 2);
  CHECK(bins[1].name() == "sr[1]");
  const SignalYieldLikelihood L(bkg, bins);
  CHECK(L.poi_name() == "mu");
  CHECK(L.dimension() == 2);

  // Background only: the hand-built workspace with mu held at 0.
  const histfactory::HistFactoryModel hand0(ws_of(signal_json(7.0, 4.0)));
  const WorkspaceModel m0(hand0);
  CHECK(L.background_observed() == Approx(held_fit(m0, 0.0)).epsilon(1e-10));

  for (const auto& [s0, s1] : std::vector<std::pair<double, double>>{{7.0, 4.0}, {0.5, 25.0}, {30.0, 0.0}}) {
    const histfactory::HistFactoryModel hand(ws_of(signal_json(s0, s1)));
    const WorkspaceModel m(hand);
    const Eigen::Vector2d s(s0, s1);
    const auto obs = L.observed(s);
    REQUIRE(obs.ok);
    CHECK(obs.nll == Approx(held_fit(m, 1.0)).epsilon(1e-10));
    // Asimov: background-only fit to the observed data, its expectation, then mu = 1.
    FitOptions o;
    o.covariance = false;
    o.hold = {{m.poi(), 0.0}};
    const FitResult b = fit(m, o);
    const auto asimov = m.asimov(b.x);
    const auto a = L.asimov(s);
    REQUIRE(a.ok);
    CHECK(a.nll == Approx(held_fit(*asimov, 1.0)).epsilon(1e-10));
    // The exact model at s gives the hand-built workspace's CLs and limits.
    const auto exact = L.model_at(s);
    AsymptoticCalculator c1(*exact, exact->poi()), c2(m, m.poi());
    const auto h1 = c1.hypotest(1.0), h2 = c2.hypotest(1.0);
    CHECK(h1.cls == Approx(h2.cls).margin(1e-9));
    CHECK(h1.cls_exp[2] == Approx(h2.cls_exp[2]).margin(1e-9));
  }
  CHECK(L.background_asimov() < L.background_observed());  // Asimov data fit better than the observed

  // Templates from signal workspaces, and the signal's yields in them.
  const auto from_signal = signal_template(bkg, {ws_of(signal_json(0.0, 3.0))}, "", "patchset.json");
  REQUIRE(from_signal.size() == 1);
  CHECK(from_signal[0].name() == "sr[1]");
  double outside = -1;
  const Eigen::VectorXd y = signal_yields(ws_of(signal_json(2.5, 3.0)), from_signal, "", &outside);
  CHECK(y.size() == 1);
  CHECK(y[0] == 3.0);
  CHECK(outside == 2.5);

  // Bad input: one line naming the flag or field.
  CHECK_THAT(input_error_of([&] { parse_signal_template(bkg, {"nope"}, "--signal-bins"); }),
             Catch::Contains("--signal-bins") && Catch::Contains("no channel 'nope'"));
  CHECK_THAT(input_error_of([&] { parse_signal_template(bkg, {"sr[2]"}, "--signal-bins"); }),
             Catch::Contains("has 2 bins, not bin 2"));
  CHECK_THAT(input_error_of([&] { parse_signal_template(bkg, {"sr", "sr[1]"}, "--signal-bins"); }),
             Catch::Contains("named twice"));
  CHECK_THAT(input_error_of([&] { SignalYieldLikelihood(ws_of(signal_json(1, 1)), bins); }),
             Catch::Contains("already scaled by the POI mu"));
  CHECK_THAT(input_error_of([&] { signal_template(bkg, {bkg}, "", "patchset.json"); }),
             Catch::Contains("patchset.json") && Catch::Contains("no signal"));
}

TEST_CASE("Signal-yield likelihood's expansion at s = 0: the remainder of its quadratic shrinks as the cube", "[surrogate]") {
  const histfactory::Workspace bkg = ws_of(background_json());
  const auto bins = parse_signal_template(bkg, {"cr", "sr"}, "--signal-bins");
  REQUIRE(bins.size() == 3);
  const SignalYieldLikelihood L(bkg, bins);
  const Eigen::Vector3d u(1.0, 0.6, 1.7);  // a direction with signal in every bin
  for (bool asimov : {false, true}) {
    INFO((asimov ? "Asimov" : "observed"));
    const auto e = L.expansion(asimov);
    REQUIRE(e.gradient.size() == 3);
    CHECK((e.hessian - e.hessian.transpose()).norm() < 1e-12);
    // The Asimov Hessian is the signal yields' Fisher information: positive
    // semi-definite, with an eigenvalue ~0 (a signal shaped like the
    // background in every bin is absorbed by its free normalisation).
    const Eigen::VectorXd ev = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(e.hessian).eigenvalues();
    INFO("eigenvalues " << ev.transpose());
    if (asimov) CHECK(ev.minCoeff() > -1e-9 * ev.maxCoeff());
    CHECK(std::abs(ev.minCoeff()) < 1e-3 * ev.maxCoeff());
    const double f0 = asimov ? L.background_asimov() : L.background_observed();
    if (asimov) CHECK(e.gradient.norm() < 1e-6);  // the Asimov data are the background-only expectation
    // The remainders of the first- and second-order expansions along u: the
    // first shrinks as h^2, the second as h^3 (8x per halving).
    double linear[3], quadratic[3];
    for (int i = 0; i < 3; ++i) {
      const double h = 1.6 / (1 << i);
      const Eigen::Vector3d s = h * u;
      const auto label = asimov ? L.asimov(s) : L.observed(s);
      REQUIRE(label.ok);
      linear[i] = label.nll - f0 - e.gradient.dot(s);
      quadratic[i] = linear[i] - 0.5 * s.dot(e.hessian * s);
    }
    for (int i = 0; i < 2; ++i) {
      CHECK(linear[i] / linear[i + 1] == Approx(4.0).epsilon(0.15));
      CHECK(std::abs(quadratic[i] / quadratic[i + 1]) == Approx(8.0).epsilon(0.25));
      CHECK(std::abs(quadratic[i]) < 0.05 * std::abs(linear[i]));
    }
  }
}

TEST_CASE("Yield sampling resumes from its journal: a cut journal gives the uninterrupted run's points", "[surrogate]") {
  testing::TempDir tmp("yield_journal");
  const histfactory::Workspace bkg = ws_of(background_json());
  const SignalYieldLikelihood L(bkg, parse_signal_template(bkg, {"sr", "cr"}, "--signal-bins"));
  YieldSamplingOptions o;
  o.points = 300;
  o.points_per_ray = 8;
  o.chains = 3;
  o.reach = 16;
  o.seed = 11;
  o.journal = tmp.path("full.journal");
  o.journal_identity = "test";
  set_worker_threads(2);
  const YieldPoints full = sample_yields(L, o);
  CHECK(full.resumed_units == 0);
  // The journal as a kill would leave it: its first half of units, then a
  // line cut in the middle.
  std::vector<std::string> lines;
  {
    std::istringstream in(testing::read_file(o.journal));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  const std::size_t units = lines.size() - 1, kept = units / 2;
  REQUIRE(units >= 10);
  {
    std::ofstream cut(tmp.path("cut.journal"));
    for (std::size_t i = 0; i <= kept; ++i) cut << lines[i] << "\n";
    cut << lines[kept + 1].substr(0, lines[kept + 1].size() / 2);
  }
  o.journal = tmp.path("cut.journal");
  const YieldPoints resumed = sample_yields(L, o);
  CHECK(resumed.resumed_units == std::int64_t(kept));
  CHECK(resumed.resumed_points > 0);
  REQUIRE(resumed.size() == full.size());
  CHECK(resumed.yields == full.yields);
  CHECK(resumed.nll_observed == full.nll_observed);
  CHECK(resumed.nll_asimov == full.nll_asimov);
  CHECK(resumed.source == full.source);
  CHECK(resumed.scale == full.scale);
  CHECK(resumed.acceptance == full.acceptance);
  // A journal of another run (another seed) is refused, naming it.
  o.seed = 12;
  CHECK_THAT(input_error_of([&] { sample_yields(L, o); }), Catch::Contains("cut.journal") && Catch::Contains("another run"));
  // A run still writing the journal (its lock held, here by this test as a
  // second process would hold it) keeps a second run out; released, the
  // run resumes as before.
  o.seed = 11;
  const int held = ::open(o.journal.c_str(), O_RDWR);
  REQUIRE(held >= 0);
  REQUIRE(::flock(held, LOCK_EX | LOCK_NB) == 0);
  CHECK_THAT(input_error_of([&] { sample_yields(L, o); }), Catch::Contains("another run is writing this journal"));
  ::close(held);
  CHECK(sample_yields(L, o).yields == full.yields);
}

TEST_CASE("Yield sampling labels each point exactly, whatever the threads", "[surrogate]") {
  const histfactory::Workspace bkg = ws_of(background_json());
  const SignalYieldLikelihood L(bkg, parse_signal_template(bkg, {"sr"}, "--signal-bins"));
  YieldSamplingOptions o;
  o.points = 240;
  o.points_per_ray = 8;
  o.chains = 3;
  o.reach = 16;
  o.seed = 5;
  set_worker_threads(1);
  const YieldPoints one = sample_yields(L, o);
  set_worker_threads(2);
  const YieldPoints two = sample_yields(L, o);
  REQUIRE(one.size() == two.size());
  CHECK(one.yields == two.yields);
  CHECK(one.nll_observed == two.nll_observed);
  CHECK(one.failed == 0);
  CHECK(std::abs(one.size() - o.points) < o.points / 4);
  CHECK((one.yields.array() >= 0).all());
  int rays = 0, chains = 0;
  for (auto s : one.source) (s == 0 ? rays : chains)++;
  CHECK(rays > 50);
  CHECK(chains > 50);
  CHECK(one.acceptance > 0.05);
  CHECK(one.acceptance < 0.9);
  // Each bin's scale: alone, it raises twice the Asimov NLL by the reach (to the bisection's 1/32).
  for (int k = 0; k < 2; ++k) {
    Eigen::Vector2d s = Eigen::Vector2d::Zero();
    s[k] = one.scale[k];
    const double rise = 2 * (L.asimov(s).nll - L.background_asimov());
    CHECK(rise >= o.reach);
    s[k] *= 1.0 - 1.0 / 16;
    CHECK(2 * (L.asimov(s).nll - L.background_asimov()) < o.reach);
  }
  // Labels equal cold-started fits; the points fill the reach and not much beyond.
  double highest = 0;
  for (Eigen::Index i = 0; i < one.size(); i += 7) {
    const Eigen::VectorXd s = one.yields.row(i).transpose();
    CHECK(one.nll_observed[i] == Approx(L.observed(s).nll).epsilon(1e-8));
    CHECK(one.nll_asimov[i] == Approx(L.asimov(s).nll).epsilon(1e-8));
  }
  for (Eigen::Index i = 0; i < one.size(); ++i) highest = std::max(highest, 2 * (one.nll_asimov[i] - L.background_asimov()));
  CHECK(highest > o.reach);
  CHECK(highest < 6 * o.reach);
}

TEST_CASE("Surrogate ONNX file round trip and derivatives along a ray", "[surrogate][onnx]") {
  const YieldSurrogateSpec spec = random_spec_with_origin(3, 2, {16, 12}, 3);
  const std::string bytes = onnx::serialize(surrogate_to_onnx(spec));
  const onnx::Model back = onnx::parse(bytes, "s.onnx");
  CHECK(back.ir_version == 8);
  CHECK(back.opset == 13);
  REQUIRE(back.property("refinery_format"));
  const YieldSurrogateSpec r = surrogate_from_onnx(back, "s.onnx");
  CHECK(r.bins == spec.bins);
  REQUIRE(r.members.size() == 2);
  for (int m = 0; m < 2; ++m)
    for (int l = 0; l < 3; ++l) {
      CHECK(r.members[m][l].weight == spec.members[m][l].weight);
      CHECK(r.members[m][l].bias == spec.members[m][l].bias);
    }
  CHECK(r.background_observed == spec.background_observed);
  CHECK(r.input_scale == spec.input_scale);
  CHECK(r.yields_max == spec.yields_max);
  CHECK(r.training == spec.training);
  REQUIRE(r.has_origin());
  CHECK(r.origin_metric == spec.origin_metric);
  for (int m = 0; m < 2; ++m) {
    CHECK(r.origin[m].value == spec.origin[m].value);
    CHECK(r.origin[m].gradient == spec.origin[m].gradient);
    CHECK(r.origin[m].half_hessian[1] == spec.origin[m].half_hessian[1]);
  }
  CHECK(r.expansion_hessian[0] == spec.expansion_hessian[0]);
  CHECK(r.expansion_gradient[1] == spec.expansion_gradient[1]);
  // The serialisation is deterministic.
  CHECK(onnx::serialize(surrogate_to_onnx(r)) == bytes);

  const auto sur = std::make_shared<const YieldSurrogate>(r, "s.onnx");
  const Eigen::Vector3d s(4.0, 1.0, 7.5);
  for (bool asimov : {false, true})
    for (int member : {-1, 0, 1})
      for (double t : {0.0, 0.4, 1.3}) {
        double f, df, d2f, fp, dfp, d2, fm, dfm;
        sur->along(s, t, asimov, member, &f, &df, &d2f);
        const double h = 2e-5;
        sur->along(s, t + h, asimov, member, &fp, &dfp, &d2);
        sur->along(s, t - h, asimov, member, &fm, &dfm, &d2);
        CHECK(df == Approx((fp - fm) / (2 * h)).epsilon(1e-6).margin(1e-7));
        CHECK(d2f == Approx((dfp - dfm) / (2 * h)).epsilon(1e-6).margin(1e-7));
      }
  // Each member, and their mean, is the expansion's value, gradient and
  // Hessian at s = 0 (directional derivatives along three directions).
  for (const Eigen::Vector3d& d : {Eigen::Vector3d(1, 0, 0), Eigen::Vector3d(0.3, 1.2, 0.7), Eigen::Vector3d(0, 2, 0.1)})
    for (bool asimov : {false, true})
      for (int member : {-1, 0, 1}) {
        const int c = asimov ? 1 : 0;
        double f, df, d2f;
        sur->along(d, 0.0, asimov, member, &f, &df, &d2f);
        CHECK(f == Approx(asimov ? spec.background_asimov : spec.background_observed).epsilon(1e-7));
        CHECK(df == Approx(spec.expansion_gradient[c].dot(d)).epsilon(1e-5).margin(1e-6));
        CHECK(d2f == Approx(d.dot(spec.expansion_hessian[c] * d)).epsilon(1e-5).margin(1e-6));
      }
  // Without the origin terms the networks' own expansion is another.
  {
    YieldSurrogateSpec plain = spec;
    plain.origin.clear();
    const YieldSurrogate networks(plain);
    double f, df, d2f;
    networks.along(Eigen::Vector3d(0.3, 1.2, 0.7), 0.0, false, -1, &f, &df, &d2f);
    CHECK(std::abs(df - spec.expansion_gradient[0].dot(Eigen::Vector3d(0.3, 1.2, 0.7))) > 1e-3);
  }
  // The batch evaluation (float, as the ONNX graph) against the double path.
  Eigen::MatrixXd yields(4, 3);
  yields << 0, 0, 0, 4, 1, 7.5, 10, 20, 30, 0.1, 3, 0;
  Eigen::MatrixXd nll, spread;
  sur->evaluate(yields, &nll, &spread);
  for (int i = 0; i < 4; ++i) {
    double f, df, d2f, f0, f1;
    sur->along(yields.row(i).transpose(), 1.0, false, -1, &f, &df, &d2f);
    CHECK(nll(i, 0) == Approx(f).epsilon(1e-5));
    sur->along(yields.row(i).transpose(), 1.0, true, 0, &f0, &df, &d2f);
    sur->along(yields.row(i).transpose(), 1.0, true, 1, &f1, &df, &d2f);
    CHECK(nll(i, 1) == Approx(0.5 * (f0 + f1)).epsilon(1e-5));
    CHECK(spread(i, 1) == Approx(0.5 * std::abs(f0 - f1)).epsilon(1e-3).margin(1e-4));
  }
  // The model: one POI in [0, validity], f along the ray, derivatives for Newton.
  const SurrogateModel model(sur, s);
  REQUIRE(model.size() == 1);
  CHECK(model.parameters()[0].name == "mu");
  CHECK(model.upper()[0] == Approx(40.0 / 7.5));
  Eigen::VectorXd x(1), g;
  Eigen::MatrixXd H;
  x[0] = 0.7;
  double f, df, d2f;
  sur->along(s, 0.7, false, -1, &f, &df, &d2f);
  CHECK(model.nll(x, &g, &H) == Approx(f));
  CHECK(g[0] == Approx(df));
  CHECK(H(0, 0) == Approx(d2f));
  CHECK_THAT(input_error_of([&] { model.with_asimov_data(x); }), Catch::Contains("background-only Asimov data alone"));
  std::mt19937_64 rng(1);
  CHECK_THAT(input_error_of([&] { model.with_toy_data(x, rng); }), Catch::Contains("need the full likelihood"));
  x[0] = 0;
  CHECK(model.with_asimov_data(x)->nll(x) == Approx(spec.background_asimov + [&] {
          double a, b, c;
          sur->along(s, 0.0, true, -1, &a, &b, &c);
          return a - spec.background_asimov;
        }()));

  // Malformed files: one line naming the file and what is wrong.
  CHECK_THAT(input_error_of([&] { onnx::parse(bytes.substr(0, bytes.size() / 2), "cut.onnx"); }),
             Catch::Contains("cut.onnx") && Catch::Contains("not an ONNX model"));
  CHECK_THAT(input_error_of([&] { onnx::parse("\x0a\xff\xff\xff\xff\x0f", "big.onnx"); }),
             Catch::Contains("big.onnx"));
  onnx::Model other = back;
  other.metadata.clear();
  CHECK_THAT(input_error_of([&] { surrogate_from_onnx(other, "x.onnx"); }), Catch::Contains("not a refinery likelihood surrogate"));
  onnx::Model broken = back;
  for (auto& t : broken.graph.initializers)
    if (t.name == "m1.l1.weight") t.dims = {12, 15}, t.data.resize(180);
  CHECK_THAT(input_error_of([&] { surrogate_from_onnx(broken, "x.onnx"); }), Catch::Contains("m1.l1.weight"));
  onnx::Model no_origin = back;  // an origin term cut short
  for (auto& t : no_origin.graph.initializers)
    if (t.name == "m1.origin.half_hessian") t.dims = {3, 3}, t.data.resize(9);
  CHECK_THAT(input_error_of([&] { surrogate_from_onnx(no_origin, "x.onnx"); }), Catch::Contains("m1.origin.half_hessian"));
  onnx::Model doubled = back;  // a weight of another element type
  for (auto& t : doubled.graph.initializers)
    if (t.name == "m0.l0.weight") t.type = onnx::kDouble, t.doubles.assign(t.data.begin(), t.data.end()), t.data.clear();
  const onnx::Model doubled_back = onnx::parse(onnx::serialize(doubled), "d.onnx");
  CHECK(doubled_back.graph.initializer("m0.l0.weight")->doubles.size() == back.graph.initializer("m0.l0.weight")->data.size());
  CHECK_THAT(input_error_of([&] { surrogate_from_onnx(doubled_back, "d.onnx"); }), Catch::Contains("m0.l0.weight"));
  CHECK_THAT(input_error_of([&] { YieldSurrogate::load(testing::source_path("README.md")); }), Catch::Contains("README.md"));
}

TEST_CASE("Surrogate kernel: every instruction-set build this CPU has gives the generic build's numbers", "[surrogate]") {
  const YieldSurrogateSpec spec = random_spec(5, 1, {64, 64, 64}, 17);
  std::vector<surrogate_kernel::Layer> layers;
  for (const auto& L : spec.members[0])
    layers.push_back({L.weight.data(), L.bias.data(), int(L.weight.rows()), int(L.weight.cols())});
  const int n = 300;  // not a multiple of any vector width
  std::mt19937_64 rng(5);
  std::normal_distribution<float> g;
  std::vector<float> x(std::size_t(5) * n), generic(2 * n), other(2 * n);
  for (auto& v : x) v = g(rng);
  REQUIRE(surrogate_kernel::forward_with("generic", layers.data(), int(layers.size()), x.data(), n, generic.data()));
  // The generic build against a plain double evaluation of the same layers.
  for (int i = 0; i < n; i += 37) {
    Eigen::VectorXd h = Eigen::Map<const Eigen::VectorXf>(x.data() + 5 * i, 5).cast<double>();
    for (std::size_t l = 0; l < spec.members[0].size(); ++l) {
      Eigen::VectorXd z = spec.members[0][l].weight.cast<double>() * h + spec.members[0][l].bias.cast<double>();
      h = l + 1 < spec.members[0].size() ? Eigen::VectorXd(z.array() / (1.0 + (-z.array()).exp())) : z;
    }
    for (int c = 0; c < 2; ++c) CHECK(generic[2 * i + c] == Approx(h[c]).epsilon(1e-5).margin(1e-5));
  }
  int compared = 0;
  for (const char* build : {"avx2", "avx512"}) {
    if (!surrogate_kernel::forward_with(build, layers.data(), int(layers.size()), x.data(), n, other.data())) continue;
    ++compared;
    double worst = 0;
    for (int i = 0; i < 2 * n; ++i) worst = std::max(worst, double(std::abs(other[i] - generic[i])) / std::max(1.0f, std::abs(generic[i])));
    INFO(build << ": largest relative difference to the generic build " << worst);
    CHECK(worst < 1e-5);
  }
  INFO("the run-time choice: " << surrogate_kernel::instruction_set());
  CHECK(std::string(surrogate_kernel::instruction_set()) != "");
  if (compared == 0) WARN("this CPU has neither AVX2 nor AVX-512: only the generic build was tested");
}

TEST_CASE("Surrogate ONNX passes the ONNX checker and runs in onnxruntime as refinery evaluates it", "[surrogate][onnx]") {
  testing::TempDir tmp("surrogate_onnx");
  const YieldSurrogateSpec spec = random_spec_with_origin(5, 3, {32, 32, 32}, 9);
  const std::string file = tmp.path("s.onnx");
  onnx::write_file(file, surrogate_to_onnx(spec));
  const auto check = testing::run_command(std::string(testing::debian_python()) + " " +
                                          testing::source_path("tests/python/check_onnx.py") + " " + file);
  INFO(check.output);
  REQUIRE(check.exit_code == 0);
  const json checked = json::parse(check.output);
  CHECK(checked["ir_version"] == 8);
  CHECK(checked["inputs"] == json::array({"yields"}));
  CHECK(checked["outputs"] == json::array({"nll", "nll_members"}));
  CHECK(checked["metadata"]["refinery_format"] == "likelihood-surrogate-1");
  CHECK(json::parse(checked["metadata"]["inputs"].get<std::string>()) == json(spec.bins));
  CHECK(std::stod(checked["metadata"]["nll_background_observed"].get<std::string>()) == spec.background_observed);
  CHECK(json::parse(checked["metadata"]["expansion_at_zero"].get<std::string>())["gradient_asimov"].size() == 5);

  // 64 points, in onnxruntime and in refinery.
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> u(0.0, 30.0);
  Eigen::MatrixXd yields(64, 5);
  for (int i = 0; i < yields.size(); ++i) yields.data()[i] = float(u(rng));  // exactly representable in float
  yields.topRows(32) *= 0.0625;  // half of them where the origin terms weigh
  json in = {{"yields", {{"dims", {64, 5}}, {"data", json::array()}}}};
  for (int i = 0; i < 64; ++i)
    for (int k = 0; k < 5; ++k) in["yields"]["data"].push_back(yields(i, k));
  {
    std::ofstream o(tmp.path("in.json"));
    o << in.dump();
  }
  const auto ran = testing::run_command("node " + testing::source_path("tests/onnx/run_onnx.js") + " " + file + " " +
                                        tmp.path("in.json") + " " + tmp.path("out.json"));
  INFO(ran.output);
  REQUIRE(ran.exit_code == 0);
  const json out = json::parse(testing::read_file(tmp.path("out.json")));
  REQUIRE(out["nll"]["dims"] == json::array({64, 2}));
  REQUIRE(out["nll_members"]["dims"] == json::array({64, 6}));
  const YieldSurrogate sur(spec, file);
  Eigen::MatrixXd nll, spread;
  sur.evaluate(yields, &nll, &spread);
  double worst = 0;
  for (int i = 0; i < 64; ++i)
    for (int c = 0; c < 2; ++c) {
      const double theirs = out["nll"]["data"][2 * i + c].get<double>();
      worst = std::max(worst, std::abs(theirs - nll(i, c)) / std::max(1.0, std::abs(nll(i, c))));
      // each member's column against the double path of that member
      for (int m = 0; m < 3; ++m) {
        double f, df, d2f;
        sur.along(yields.row(i).transpose(), 1.0, c == 1, m, &f, &df, &d2f);
        CHECK(out["nll_members"]["data"][6 * i + 2 * m + c].get<double>() == Approx(f).epsilon(1e-5));
      }
    }
  CHECK(worst < 1e-5);
}

TEST_CASE("Surrogate commands end to end: limits agree with the exact likelihood", "[surrogate][cli]") {
  testing::TempDir tmp("surrogate_cli");
  {
    std::ofstream(tmp.path("bkg.json")) << background_json().dump();
    json patch = json::array({{{"op", "add"},
                               {"path", "/channels/1/samples/1"},
                               {"value", signal_json(6.0, 9.0)["channels"][1]["samples"][1]}}});
    std::ofstream(tmp.path("signal.json")) << patch.dump();
    json weak = patch;
    weak[0]["value"]["data"] = {2.0, 3.5};
    std::ofstream(tmp.path("weak.json")) << weak.dump();
    json faint = patch;  // a signal the analysis cannot see: CLs near 1
    faint[0]["value"]["data"] = {0.3, 0.15};
    std::ofstream(tmp.path("faint.json")) << faint.dump();
  }
  const std::string bkg = tmp.path("bkg.json"), points = tmp.path("points.h5"), model = tmp.path("s.onnx");
  auto sampled = testing::run_refinery("surrogate sample " + bkg + " --patch " + tmp.path("signal.json") +
                                       " --points 3000 --seed 3 --threads 2 --quiet --out " + points);
  INFO(sampled.output);
  REQUIRE(sampled.exit_code == 0);
  // A second, independent run (another seed) joins the first in training.
  auto more = testing::run_refinery("surrogate sample " + bkg + " --patch " + tmp.path("signal.json") +
                                    " --points 600 --seed 4 --threads 2 --quiet --out " + tmp.path("more.h5"));
  REQUIRE(more.exit_code == 0);
  auto other = testing::run_refinery("surrogate sample " + bkg + " --signal-bins sr[0] --points 100 --quiet --out " +
                                     tmp.path("other.h5"));
  REQUIRE(other.exit_code == 0);
  auto mixed = testing::run_refinery("surrogate train " + points + " " + tmp.path("other.h5") + " --out " + tmp.path("m.onnx"));
  CHECK(mixed.exit_code == 2);
  CHECK_THAT(mixed.output, Catch::Contains("other.h5: bins: differs from"));
  auto trained = testing::run_refinery("surrogate train " + points + " " + tmp.path("more.h5") + " --members 2 --hidden 64,64,64 --epochs 25 --steps 150 "
                                       "--seed 2 --threads 2 --quiet --out " + model);
  INFO(trained.output);
  REQUIRE(trained.exit_code == 0);
  REQUIRE(testing::file_exists(model + ".json"));
  CHECK(json::parse(testing::read_file(model + ".json"))["points"].get<int>() > 3000 + 500);  // both files
  CHECK_FALSE(testing::file_exists(model + ".ckpt.m0"));  // the checkpoints have served
  // Exact to second order at s = 0: the surrogate's gradient and Hessian
  // there are the workspace's.
  {
    const auto sur = YieldSurrogate::load(model);
    REQUIRE(sur->spec().has_origin());
    const histfactory::Workspace ws = ws_of(background_json());
    const SignalYieldLikelihood L(ws, parse_signal_template(ws, {"sr"}, "--signal-bins"));
    for (bool asimov : {false, true}) {
      const auto x = L.expansion(asimov);
      for (const Eigen::Vector2d& d : {Eigen::Vector2d(1, 0), Eigen::Vector2d(0.4, 1.0)}) {
        double f, df, d2f;
        sur->along(d, 0.0, asimov, -1, &f, &df, &d2f);
        CHECK(f == Approx(asimov ? L.background_asimov() : L.background_observed()).epsilon(1e-6));
        CHECK(df == Approx(x.gradient.dot(d)).epsilon(1e-4).margin(1e-6));
        CHECK(d2f == Approx(d.dot(x.hessian * d)).epsilon(1e-4).margin(1e-6));
      }
    }
  }
  // Points without the expansion (a file of an older refinery): a surrogate
  // without origin terms, said so; joined with points that have it: refused.
  {
    const std::string old = tmp.path("old.h5");
    const auto copied = testing::run_command("cp " + points + " " + old + " && " + testing::debian_python() +
                                             " -c \"import h5py; f = h5py.File('" + old + "', 'a'); "
                                             "[f.__delitem__(k + c) for k in ('gradient_', 'hessian_') for c in ('observed', 'asimov')]\"");
    INFO(copied.output);
    REQUIRE(copied.exit_code == 0);
    auto plain = testing::run_refinery("surrogate train " + old + " --members 1 --hidden 16 --epochs 2 --steps 20 --out " + tmp.path("plain.onnx"));
    INFO(plain.output);
    REQUIRE(plain.exit_code == 0);
    CHECK_THAT(plain.output, Catch::Contains("no expansion at s = 0"));
    CHECK_FALSE(YieldSurrogate::load(tmp.path("plain.onnx"))->spec().has_origin());
    auto mixed_versions = testing::run_refinery("surrogate train " + points + " " + old + " --out " + tmp.path("mv.onnx"));
    CHECK(mixed_versions.exit_code == 2);
    CHECK_THAT(mixed_versions.output, Catch::Contains("old.h5: gradient_observed: absent, but present in"));
  }
  auto eval = testing::run_refinery("surrogate eval " + model + " --workspace " + bkg + " --patch " + tmp.path("signal.json") +
                                    " --patch " + tmp.path("weak.json") + " --patch " + tmp.path("faint.json") +
                                    " --exact --out " + tmp.path("eval.json"));
  INFO(eval.output);
  REQUIRE(eval.exit_code == 0);
  const json e = json::parse(testing::read_file(tmp.path("eval.json")));
  REQUIRE(e["rows"].size() == 3);
  {  // the faint signal: CLs near 1, where CLs goes as the square root of q~
    const json& row = e["rows"][2];
    INFO(row.dump());
    CHECK(row["reference"]["cls"].get<double>() > 0.9);
    CHECK(row["surrogate"]["cls"].get<double>() == Approx(row["reference"]["cls"].get<double>()).margin(0.002));
    for (int q = 0; q < 5; ++q)
      CHECK(row["surrogate"]["cls_expected"][q].get<double>() ==
            Approx(row["reference"]["cls_expected"][q].get<double>()).margin(0.002));
  }
  for (const auto& row : {e["rows"][0], e["rows"][1]}) {
    const json &s = row["surrogate"], &x = row["reference"];
    CHECK(s["limit"].get<double>() == Approx(x["limit"].get<double>()).epsilon(0.01));
    for (int q = 0; q < 5; ++q)
      CHECK(s["limit_expected"][q].get<double>() == Approx(x["limit_expected"][q].get<double>()).epsilon(0.01));
    CHECK(s["cls"].get<double>() == Approx(x["cls"].get<double>()).margin(0.01));
    CHECK(row["member_limit_spread"].get<double>() >= 0);
  }
  CHECK(e["summary"]["limits_within_5_percent"].get<double>() == 1.0);
  // A signal given by its yields, in the front end (no LibTorch).
  auto yields = testing::run_refinery("surrogate eval " + model + " --yields 6,9");
  INFO(yields.output);
  CHECK(yields.exit_code == 0);
  CHECK_THAT(yields.output, Catch::Contains("yields"));

  // A surrogate in a combination: the combined NLL is the surrogate's f(mu s)
  // plus the other analysis's NLL, and its limit beats each alone.
  {
    const json comb = {{"combination", 1},
                       {"analyses", {{{"name", "learned"}, {"surrogate", model}, {"yields", {6.0, 9.0}}},
                                     {{"name", "full"}, {"workspace", bkg}, {"patches", {tmp.path("signal.json")}}}}}};
    std::ofstream(tmp.path("comb.json")) << comb.dump();
    const auto combined = cli::load_combination(comb, tmp.path("comb.json"));
    const auto sur = YieldSurrogate::load(model);
    const histfactory::HistFactoryModel hf(histfactory::Workspace::load(bkg, {tmp.path("signal.json")}));
    const WorkspaceModel full(hf);
    Eigen::VectorXd x = combined->init(), xf = full.init();
    const int mu = combined->poi();
    x[mu] = 0.8;
    xf[full.poi()] = 0.8;
    for (int i = 0; i < full.size(); ++i)
      if (i != full.poi()) {
        const int j = combined->index("full/" + full.names()[i]);
        REQUIRE(j >= 0);
        x[j] = xf[i] = full.init()[i] + 0.05 * (i % 3);
      }
    double f, df, d2f;
    sur->along(Eigen::Vector2d(6.0, 9.0), 0.8, false, -1, &f, &df, &d2f);
    CHECK(combined->nll(x) == Approx(f + full.nll(xf)).epsilon(1e-12));
    auto limit = testing::run_refinery("limit " + tmp.path("comb.json") + " --json");
    INFO(limit.output);
    REQUIRE(limit.exit_code == 0);
    const double l_comb = json::parse(limit.output.substr(limit.output.find('{')))["upper_limit_obs"].get<double>();
    CHECK(l_comb < 0.9 * e["rows"][0]["surrogate"]["limit"].get<double>());
    json no_yields = comb;
    no_yields["analyses"][0].erase("yields");
    CHECK_THAT(input_error_of([&] { cli::load_combination(no_yields, "c.json"); }),
               Catch::Contains("analyses[0].yields") && Catch::Contains("2 yields"));
  }

  // A signal beyond the training points: a warning naming the range, no CLs at mu = 1.
  auto beyond = testing::run_refinery("surrogate eval " + model + " --yields 5000,5000");
  INFO(beyond.output);
  CHECK(beyond.exit_code == 0);
  CHECK_THAT(beyond.output, Catch::Contains("warning: yields: the signal at mu = 1 lies beyond the surrogate's range of "
                                            "validity") && Catch::Contains("training yields up to"));

  // Bad input: one line, exit 2.
  auto bad_bins = testing::run_refinery("surrogate sample " + bkg + " --signal-bins sr,nope --out " + tmp.path("x.h5"));
  CHECK(bad_bins.exit_code == 2);
  CHECK_THAT(bad_bins.output, Catch::Contains("--signal-bins: no channel 'nope'"));
  CHECK_FALSE(testing::file_exists(tmp.path("x.h5")));
  auto bad_count = testing::run_refinery("surrogate eval " + model + " --yields 1,2,3");
  CHECK(bad_count.exit_code == 2);
  CHECK_THAT(bad_count.output, Catch::Contains("--yields: 3 values for the surrogate's 2 bins"));
  auto negative = testing::run_refinery("surrogate eval " + model + " --yields 1,-2");
  CHECK(negative.exit_code == 2);
  {
    const std::string bytes = testing::read_file(model);
    std::ofstream(tmp.path("cut.onnx"), std::ios::binary) << bytes.substr(0, bytes.size() / 3);
  }
  auto cut = testing::run_refinery("surrogate eval " + tmp.path("cut.onnx") + " --yields 1,2");
  CHECK(cut.exit_code == 2);
  CHECK_THAT(cut.output, Catch::Contains("cut.onnx") && Catch::Contains("not an ONNX model"));
  auto not_points = testing::run_refinery("surrogate train " + model + " --out " + tmp.path("y.onnx"));
  CHECK(not_points.exit_code == 2);
  CHECK_FALSE(testing::file_exists(tmp.path("y.onnx")));
}
