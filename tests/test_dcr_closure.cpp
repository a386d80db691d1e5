// Shape closure of DCR networks on paired samples (train/dcr_closure.h,
// `refinery closure`): the exact ratio of a closed-form toy passes, a shift
// that is 20% too small fails, and the errors are those of paired events.
#include "testing.hpp"

#include <nlohmann/json.hpp>

#include "data/analytic/dcr_toy.h"
#include "data/random.h"
#include "models/dcr_network.h"
#include "models/torchscript_export.h"
#include "src/io/event_writer.h"
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
  for (double nu : {1.0, -1.5}) {
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
                                             " --bins 8 --out " + tmp.path("closure.json"));
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  nlohmann::json report = nlohmann::json::parse(refinery::testing::read_file(tmp.path("closure.json")));
  REQUIRE(report["points"].size() == 2);
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
