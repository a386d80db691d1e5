// Shape closure of DCR networks on paired samples (train/dcr_closure.h,
// `refinery closure`): the exact ratio of a closed-form toy passes, a shift
// that is 20% too small fails, and the errors are those of paired events.
#include "testing.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "data/analytic/dcr_toy.h"
#include "data/random.h"
#include "models/dcr_network.h"
#include "models/torchscript_export.h"
#include "src/io/event_writer.h"
#include "src/likelihood/mc_statistics.h"
#include "train/dcr_closure.h"

using namespace refinery;
using refinery::analytic::DcrToy;
using refinery::testing::TempDir;

namespace {

DcrToy toy_1d() {
  DcrToy t;
  t.M = torch::full({1, 1}, 0.2, torch::kFloat64);
  t.c = torch::full({1}, 0.05, torch::kFloat64);
  return t;
}

// The nominal side weighted by a model's log r = a nu + (m nu) x - (m nu)^2 / 2
// (the toy's exact form with slope m and rate a), the simulated side at nu.
std::pair<ClosureSide, ClosureSide> sides(const DcrToy& toy, const torch::Tensor& base, double nu, double m, double a) {
  EventSet n = toy.sample_at(base, torch::zeros({1}, torch::kFloat64));
  EventSet v = toy.sample_at(base, torch::full({1}, nu, torch::kFloat64));
  torch::Tensor x = n.features.select(1, 0).to(torch::kFloat64);
  torch::Tensor log_r = a * nu + m * nu * x - 0.5 * (m * nu) * (m * nu);
  torch::Tensor events = torch::arange(base.size(0), torch::kInt64);
  return {ClosureSide{n.features.to(torch::kFloat64), n.weights * torch::exp(log_r), events},
          ClosureSide{v.features.to(torch::kFloat64), v.weights, events}};
}

}  // namespace

TEST_CASE("DCR shape closure: the exact ratio passes, a shift 20% too small fails", "[dcr][closure-shape]") {
  DcrToy toy = toy_1d();
  torch::Generator gen = make_generator(31);
  torch::Tensor base = toy.base(200000, gen);
  const double nu = 1.5, M = 0.2, c = 0.05;
  auto [exact_l, exact_s] = sides(toy, base, nu, M, c);
  nlohmann::json exact = dcr_shape_closure(exact_l, exact_s, {"x"}, 10);
  const auto& f = exact["features"][0];
  INFO(exact.dump());
  REQUIRE(f["ndf"] == 10);
  REQUIRE(f["chi2_ndf"].get<double>() < 1.5);
  // Inclusive yields agree within the paired error.
  const double diff = exact["inclusive"]["learned"].get<double>() - exact["inclusive"]["simulated"].get<double>();
  REQUIRE(std::abs(diff) < 3.0 * exact["inclusive"]["error"].get<double>());
  REQUIRE(exact["inclusive"]["error"].get<double>() > 0.0);
  auto [wrong_l, wrong_s] = sides(toy, base, nu, 0.8 * M, c);
  nlohmann::json wrong = dcr_shape_closure(wrong_l, wrong_s, {"x"}, 10);
  INFO(wrong.dump());
  REQUIRE(wrong["features"][0]["chi2_ndf"].get<double>() > 10.0);
}

TEST_CASE("DCR shape closure: chi2 of the exact ratio follows its distribution over samples", "[dcr][closure-shape]") {
  // Paired errors: with the exact ratio, chi2 summed over 20 independent
  // samples of 20000 events (200 degrees of freedom) lies within 3 sigma of
  // its mean (sd sqrt(2 * 200) = 20); errors ignoring the pairing (the two
  // sides' own Poisson errors added) would make it far smaller.
  DcrToy toy = toy_1d();
  double chi2 = 0.0;
  int ndf = 0;
  for (uint64_t s = 0; s < 20; ++s) {
    torch::Generator gen = make_generator(100 + s);
    torch::Tensor base = toy.base(20000, gen);
    auto [l, v] = sides(toy, base, 1.0, 0.2, 0.05);
    nlohmann::json j = dcr_shape_closure(l, v, {"x"}, 10);
    chi2 += j["features"][0]["chi2"].get<double>();
    ndf += j["features"][0]["ndf"].get<int>();
  }
  INFO("chi2 " << chi2 << " for " << ndf << " bins");
  REQUIRE(ndf == 200);
  REQUIRE(std::abs(chi2 - 200.0) < 60.0);
}

TEST_CASE("closure CLI: a report per nu-point and feature, unpaired files refused", "[dcr][closure-shape][cli]") {
  TempDir tmp("dcr_closure_cli");
  DcrToy toy = toy_1d();
  torch::Generator gen = make_generator(5);
  torch::Tensor base = toy.base(20000, gen);
  EventMeta meta = toy.meta();
  EventSet nominal = toy.sample_at(base, torch::zeros({1}, torch::kFloat64));
  nominal.nuisances = torch::Tensor();
  EventMeta nominal_meta = meta;
  nominal_meta.nuisance_names.clear();
  nominal.event = torch::arange(base.size(0), torch::kInt64);
  write_events(tmp.path("nominal.h5"), nominal, nominal_meta);
  std::vector<EventSet> parts;
  for (double nu : {1.0, -1.0}) {
    EventSet v = toy.sample_at(base, torch::full({1}, nu, torch::kFloat64));
    v.event = torch::arange(base.size(0), torch::kInt64);
    parts.push_back(v);
  }
  write_events(tmp.path("variations.h5"), EventSet::concat(parts), meta);
  // A network that knows nothing (r = 1 up to its random output): fails.
  torch::manual_seed(4);
  DCRNetwork net(DCRNetworkOptions(1, 1).hidden({8}));
  torch::jit::Module ts = dcr_to_torchscript(net);
  save_torchscript(ts,
                   {{"kind", "dcr"}, {"process", meta.process_names[0]}, {"nuisances", meta.nuisance_names},
                    {"order", 2}, {"n_features", 1}},
                   tmp.path("dcr.pt"));
  auto run = refinery::testing::run_refinery("closure --model " + tmp.path("dcr.pt") + " --nominal " +
                                             tmp.path("nominal.h5") + " --variations " + tmp.path("variations.h5") +
                                             " --bins 8 --cells " + meta.feature_names[0] + " --cell-count 4 --out " +
                                             tmp.path("closure.json"));
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  nlohmann::json report = nlohmann::json::parse(refinery::testing::read_file(tmp.path("closure.json")));
  REQUIRE(report["points"].size() == 2);
  // The points +-1 give the nuisance's score response, overall and within 4 cells.
  REQUIRE(report["response"].size() == 1);
  CHECK(report["response"][0]["nuisance"] == meta.nuisance_names[0]);
  CHECK(report["response"][0]["delta"] == 1.0);
  CHECK(std::isfinite(report["response"][0]["response"].get<double>()));
  CHECK(report["response"][0]["error"].get<double>() > 0);
  CHECK(report["response"][0]["within_cells"]["cells"] == 4);
  CHECK(run.output.find("score response") != std::string::npos);
  auto bad_cells = refinery::testing::run_refinery("closure --model " + tmp.path("dcr.pt") + " --nominal " +
                                                   tmp.path("nominal.h5") + " --variations " + tmp.path("variations.h5") +
                                                   " --cells nope");
  CHECK(bad_cells.exit_code == 2);
  CHECK(bad_cells.output.find("--cells: 'nope' is not a histogrammed column") != std::string::npos);
  REQUIRE(report["points"][0]["features"][0]["ndf"] == 8);
  REQUIRE(report["pass"] == false);
  REQUIRE(report["failing"].size() == 2);
  REQUIRE(run.output.find("FAIL") != std::string::npos);
  // Its figure: one panel per nu-point and feature, with the chi2/ndf.
  auto fig = refinery::testing::run_refinery("plot closure " + tmp.path("closure.json") + " --out " + tmp.path("c.png"));
  INFO(fig.output);
  REQUIRE(fig.exit_code == 0);
  const auto side = nlohmann::json::parse(refinery::testing::read_file(tmp.path("c.png.series.json")));
  REQUIRE(side["series"].size() == 2);
  CHECK(side["series"][0]["chi2_ndf"] == report["points"][0]["features"][0]["chi2_ndf"]);
  CHECK(side["series"][0]["n"].get<int>() <= 8 + 1);
  // The nominal without event numbers: one line naming the file and dataset.
  nominal.event = torch::Tensor();
  write_events(tmp.path("plain.h5"), nominal, nominal_meta);
  auto bad = refinery::testing::run_refinery("closure --model " + tmp.path("dcr.pt") + " --nominal " +
                                             tmp.path("plain.h5") + " --variations " + tmp.path("variations.h5"));
  INFO(bad.output);
  REQUIRE(bad.exit_code == 2);
  REQUIRE(bad.output.find(tmp.path("plain.h5") + ": event: no event numbers") != std::string::npos);
}

TEST_CASE("DCR score response: 1 for the true score, M/m for a score of slope m, overall and within cells",
          "[dcr][closure-shape]") {
  // The toy's true score at nu = 0 is c + M x; a model with slope m has the
  // score c + m x, whose response Cov(a, a_true) / Var(a) is M / m, also
  // after subtracting its mean in cells of x (a - mean = m (x - mean)).
  // Each response within 3 of its errors, which are small enough to tell
  // the three slopes apart.
  DcrToy toy = toy_1d();
  torch::Generator gen = make_generator(41);
  torch::Tensor base = toy.base(400000, gen);
  const double M = 0.2, c = 0.05;
  torch::Tensor events = torch::arange(base.size(0), torch::kInt64);
  EventSet n = toy.sample_at(base, torch::zeros({1}, torch::kFloat64));
  const std::vector<double> edges =
      likelihood::equal_share_edges(n.features.select(1, 0).to(torch::kFloat64).contiguous(), n.weights, 5);
  for (double m : {M, 0.8 * M, 1.25 * M}) {
    auto sample = [&](double nu) {
      EventSet s = toy.sample_at(base, torch::full({1}, nu, torch::kFloat64));
      torch::Tensor x = s.features.select(1, 0).to(torch::kFloat64).contiguous();
      return ScoreSample{c + m * x, s.weights.to(torch::kFloat64), events, likelihood::cell_index(x, edges)};
    };
    // A shift of 0.25 in nu moves x by 0.05 of its spread: the symmetric
    // difference's bias where the cells' edges cut the shift (O(delta^2),
    // 3.4% at nu = +-1 here) is 0.2%.
    nlohmann::json r =
        dcr_score_response(sample(0.0), sample(0.25), sample(-0.25), 0.25, static_cast<int64_t>(edges.size()) + 1);
    INFO("m " << m << ": " << r.dump());
    const double expect = M / m;
    CHECK(std::abs(r["response"].get<double>() - expect) < 3 * r["error"].get<double>());
    CHECK(r["error"].get<double>() < 0.02);
    CHECK(std::abs(r["within_cells"]["response"].get<double>() - expect) < 3 * r["within_cells"]["error"].get<double>());
    CHECK(r["within_cells"]["error"].get<double>() < 0.1);
    CHECK(r["within_cells"]["cells"] == 5);
  }
  // One cell: the overall response alone.
  auto one = [&](double nu) {
    EventSet s = toy.sample_at(base, torch::full({1}, nu, torch::kFloat64));
    torch::Tensor x = s.features.select(1, 0).to(torch::kFloat64).contiguous();
    return ScoreSample{c + M * x, s.weights.to(torch::kFloat64), events, torch::zeros({x.size(0)}, torch::kLong)};
  };
  nlohmann::json r = dcr_score_response(one(0.0), one(0.5), one(-0.5), 0.5, 1);
  CHECK_FALSE(r.contains("within_cells"));
  CHECK(std::abs(r["response"].get<double>() - 1.0) < 3 * r["error"].get<double>());
}
