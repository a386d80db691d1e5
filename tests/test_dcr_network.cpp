// Parametric DCR networks: the ansatz, closure on the closed-form toys, the
// coefficient cache and inclusive ratio, resume, and bad input.
#include "testing.hpp"
#include "dcr_testing.hpp"

#include <cmath>
#include <fstream>
#include <iomanip>

#include "data/analytic/dcr_toy.h"
#include "data/htautau/htautau_simulation.h"
#include "data/random.h"
#include "models/dcr_ensemble.h"
#include "models/dcr_network.h"
#include "src/likelihood/dcr_ansatz.h"
#include "models/torchscript_export.h"
#include "src/core/error.h"
#include "train/dcr_point_weights.h"
#include "train/dcr_training.h"
#include "train/dcr_validation.h"

using namespace refinery;
using namespace refinery::analytic;

namespace {

// Weighted RMS of (learned - exact) log r over nominal test events at the
// given nu values.
double closure_rms(DCRNetwork& net, const DcrToy& toy, const std::vector<torch::Tensor>& nus, uint64_t seed) {
  torch::Generator gen = make_generator(seed);
  EventSet test = toy.sample_at(toy.base(20000, gen), torch::zeros({toy.dim()}, torch::kFloat64));
  torch::Tensor coef = dcr_coefficients_cache(net, test.features);
  double sum = 0.0;
  for (const auto& nu : nus) {
    torch::Tensor learned = torch::mv(coef, dcr_phi(nu, net->options.order()));
    torch::Tensor exact = toy.log_ratio(test.features, nu);
    sum += (learned - exact).pow(2).mean().item<double>();
  }
  return std::sqrt(sum / nus.size());
}

}  // namespace

TEST_CASE("DCR ansatz: phi ordering, log r(x|0) = 0, linear terms are the score", "[dcr]") {
  torch::Tensor phi = dcr_phi(torch::tensor({2.0, 3.0, 5.0}), 2);
  REQUIRE(phi.size(0) == 9);
  std::vector<float> expected = {2, 3, 5, 4, 6, 10, 9, 15, 25};
  for (int i = 0; i < 9; ++i) REQUIRE(phi[i].item<float>() == expected[i]);
  REQUIRE(dcr_coefficients(3, 1) == 3);
  REQUIRE_THROWS_AS(dcr_coefficients(3, 3), InputError);
  torch::manual_seed(3);
  DCRNetwork net(DCRNetworkOptions(4, 3).hidden({16}));
  torch::Tensor x = torch::randn({10, 4});
  REQUIRE(torch::all(net->log_r(x, torch::zeros({3})) == 0).item<bool>());
  // d log r / d nu_k at 0 equals the k-th coefficient (finite differences).
  torch::Tensor delta = net->forward(x);
  for (int k = 0; k < 3; ++k) {
    torch::Tensor e = torch::zeros({3});
    e[k] = 1e-3f;
    torch::Tensor fd = (net->log_r(x, e) - net->log_r(x, -e)) / 2e-3;
    REQUIRE(torch::allclose(fd, delta.select(1, k), 1e-3, 1e-4));
  }
}

TEST_CASE("DCR closure on the one-nuisance toy", "[dcr][closure]") {
  DcrToy toy = DcrToy::one_nuisance();
  DCRTrainingData data = dcr_toy_training_data(toy, 500000, 0.5, 2.0, 11);
  torch::manual_seed(1);
  DCRNetwork net(DCRNetworkOptions(1, 1).hidden({64, 64}));
  DCRTrainOptions opt = refinery::testing::dcr_test_options(20, 200, 4096, 0.85);
  // Shifts of half the width per unit nu: pairing gains nothing here, and the
  // unpaired estimate uses every nominal event at every point (paired, the
  // same budget reaches 0.0116).
  opt.paired = false;
  TrainReport report = train_dcr(net, data, opt);
  std::vector<torch::Tensor> nus;
  for (double v = -2.0; v <= 2.0 + 1e-9; v += 0.25) nus.push_back(torch::tensor({v}, torch::kFloat64));
  double rms = closure_rms(net, toy, nus, 99);
  INFO("RMS error of log r " << rms << " after " << report.epochs.size() << " epochs");
  REQUIRE(rms < 0.01);
}

TEST_CASE("DCR on paired samples learns a percent-level shift better than unpaired training", "[dcr][paired]") {
  // A shift of 3% of the width per unit nu, like the energy scales of
  // H->tautau: log r = c nu + 0.03 nu x - (0.03 nu)^2 / 2, a few percent.
  DcrToy toy;
  toy.M = torch::full({1, 1}, 0.03, torch::kFloat64);
  toy.c = torch::full({1}, 0.01, torch::kFloat64);
  DCRTrainingData data = dcr_toy_training_data(toy, 200000, 0.5, 2.0, 13);
  REQUIRE(data.paired());
  std::vector<torch::Tensor> nus;
  for (double v = -2.0; v <= 2.0 + 1e-9; v += 0.25) nus.push_back(torch::tensor({v}, torch::kFloat64));
  // The size of the effect: RMS of the exact log r over the same nu and events.
  torch::Generator gen = make_generator(99);
  torch::Tensor test = toy.sample_at(toy.base(20000, gen), torch::zeros({1}, torch::kFloat64)).features;
  double effect = 0.0;
  for (const auto& nu : nus) effect += toy.log_ratio(test, nu).pow(2).mean().item<double>() / nus.size();
  effect = std::sqrt(effect);
  auto trained = [&](bool paired, double* samples) {
    torch::manual_seed(3);
    DCRNetwork net(DCRNetworkOptions(1, 1).hidden({32, 32}));
    DCRTrainOptions opt = refinery::testing::dcr_test_options(6, 100, 2048, 0.8);
    opt.paired = paired;
    TrainReport report = train_dcr(net, data, opt);
    *samples = static_cast<double>(report.samples);
    REQUIRE(report.paired_fraction == (paired ? 1.0 : -1.0));
    return closure_rms(net, toy, nus, 99);
  };
  double samples_paired = 0, samples_unpaired = 0;
  const double paired = trained(true, &samples_paired), unpaired = trained(false, &samples_unpaired);
  INFO("RMS of the exact log r " << effect << ", error paired " << paired << ", unpaired " << unpaired);
  REQUIRE(samples_paired == Approx(samples_unpaired).epsilon(0.2));  // the same budget
  REQUIRE(effect > 0.03);
  // Measured: paired 0.0016, unpaired 0.0067 (0.04 and 0.17 of the effect).
  REQUIRE(paired < 0.1 * effect);     // the shape, to 10% of its size
  REQUIRE(paired < 0.5 * unpaired);   // drawn independently, the noise of the events stays
}

// Two trainings from the same starting weights on the same events, differing
// only in their mini-batches: what separates their learned log r is the
// mini-batches' noise in the final weights, which a running average of the
// weights (TrainOptions::average_steps) reduces. On the percent-level shift
// above, where the noise is a sizeable part of the error.
TEST_CASE("DCR training: a running average of the weights reduces the mini-batches' noise", "[dcr][average]") {
  DcrToy toy;
  toy.M = torch::full({1, 1}, 0.03, torch::kFloat64);
  toy.c = torch::full({1}, 0.01, torch::kFloat64);
  DCRTrainingData data = dcr_toy_training_data(toy, 200000, 0.5, 2.0, 13);
  torch::Generator gen = make_generator(99);
  torch::Tensor test = toy.sample_at(toy.base(20000, gen), torch::zeros({1}, torch::kFloat64)).features;
  std::vector<torch::Tensor> nus;
  for (double v = -2.0; v <= 2.0 + 1e-9; v += 0.25) nus.push_back(torch::tensor({v}, torch::kFloat64));
  auto trained = [&](uint64_t batch_seed, int64_t average_steps, double* closure) {
    torch::manual_seed(3);
    DCRNetwork net(DCRNetworkOptions(1, 1).hidden({32, 32}));
    DCRTrainOptions opt = refinery::testing::dcr_test_options(6, 100, 2048, 0.8);
    opt.train.seed = batch_seed;
    opt.train.average_steps = average_steps;
    train_dcr(net, data, opt);
    *closure = closure_rms(net, toy, nus, 99);
    return dcr_coefficients_cache(net, test);
  };
  // RMS over the test events and nu-points of the difference of two log r.
  auto rms_difference = [&](const torch::Tensor& a, const torch::Tensor& b) {
    double sum = 0.0;
    for (const auto& nu : nus) sum += torch::mv(a - b, dcr_phi(nu, 2)).pow(2).mean().item<double>() / nus.size();
    return std::sqrt(sum);
  };
  double closure[4];
  const double plain = rms_difference(trained(1, 0, &closure[0]), trained(2, 0, &closure[1]));
  const double averaged = rms_difference(trained(1, 100, &closure[2]), trained(2, 100, &closure[3]));
  INFO("run-to-run rms of log r: last weights " << plain << ", averaged " << averaged << "; closure "
       << closure[0] << " " << closure[1] << " -> " << closure[2] << " " << closure[3]);
  REQUIRE(averaged < 0.5 * plain);
  // And the average is no farther from the simulator's log r.
  REQUIRE(closure[2] + closure[3] < closure[0] + closure[1]);
}

TEST_CASE("DCR closure on the three-nuisance toy", "[dcr][closure]") {
  DcrToy toy = DcrToy::three_nuisances();
  // Grid |nu|_1 <= 2 at step 1: 24 points for 9 coefficients.
  DCRTrainingData data = dcr_toy_training_data(toy, 200000, 1.0, 2.0, 12);
  REQUIRE(data.nu_points.size(0) == 24);
  torch::manual_seed(2);
  DCRNetwork net(DCRNetworkOptions(3, 3).hidden({64, 64}));
  DCRTrainOptions opt = refinery::testing::dcr_test_options(20, 200, 4096, 0.85);
  opt.paired = false;  // large shifts, as above
  TrainReport report = train_dcr(net, data, opt);
  // nu drawn uniformly in the ball |nu| <= 2.
  torch::Generator gen = make_generator(5);
  std::vector<torch::Tensor> nus;
  while (nus.size() < 20) {
    torch::Tensor nu = (torch::rand({3}, gen, torch::kFloat64) * 4.0 - 2.0);
    if (nu.norm().item<double>() <= 2.0) nus.push_back(nu);
  }
  double rms = closure_rms(net, toy, nus, 98);
  INFO("RMS error of log r " << rms << " after " << report.epochs.size() << " epochs");
  // The CI budget (200k events per sample, 4000 steps: ~1 min) reaches
  // ~0.016; the full budget of docs/dcr.md reaches the 0.01 headline. An
  // untrained network is off by O(1); a linear-only fit by ~0.1.
  REQUIRE(rms < 0.025);
}

TEST_CASE("DCR export: TorchScript in C++ and Python gives the module's numbers", "[dcr][export]") {
  refinery::testing::TempDir tmp("dcr_export");
  torch::manual_seed(4);
  torch::Tensor x = torch::randn({64, 5});
  x.index_put_({torch::indexing::Slice(0, 10), 2}, -25.0f);  // undefined values
  DCRNetwork net(DCRNetworkOptions(5, 3).hidden({32, 16}).n_indicators(count_indicator_columns(x)));
  net->preprocess->fit(x, torch::ones({64}, torch::kFloat64));
  net->eval();
  torch::jit::Module ts = dcr_to_torchscript(net);
  save_torchscript(ts, {{"kind", "dcr"}, {"order", 2}}, tmp.path("dcr.pt"));
  nlohmann::json meta;
  torch::jit::Module back = load_torchscript(tmp.path("dcr.pt"), &meta);
  REQUIRE(meta["kind"] == "dcr");
  torch::Tensor nu = torch::tensor({0.5f, -1.0f, 2.0f});
  torch::NoGradGuard guard;
  torch::Tensor expected = net->forward(x);
  REQUIRE(torch::allclose(back.forward({x}).toTensor(), expected, 1e-6, 1e-6));
  REQUIRE(torch::allclose(back.get_method("log_r")({x, nu}).toTensor(), net->log_r(x, nu), 1e-5, 1e-5));
  // Python: torch.jit.load and the same inputs.
  // Python: torch.jit.load on the same inputs, passed as text.
  std::ofstream xs(tmp.path("x.txt"));
  auto a = x.accessor<float, 2>();
  for (int i = 0; i < 64; ++i) {
    for (int j = 0; j < 5; ++j) xs << (j ? " " : "") << std::setprecision(9) << a[i][j];
    xs << "\n";
  }
  xs.close();
  std::ofstream(tmp.path("check.py")) << "import sys, torch\n"
      "m = torch.jit.load(sys.argv[1])\n"
      "x = torch.tensor([[float(v) for v in l.split()] for l in open(sys.argv[2])], dtype=torch.float32)\n"
      "y = m.log_r(x, torch.tensor([0.5, -1.0, 2.0]))\n"
      "print(' '.join('%.9g' % v for v in y.tolist()))\n";
  auto r = refinery::testing::run_command(std::string(refinery::testing::debian_python()) + " " + tmp.path("check.py") +
                                          " " + tmp.path("dcr.pt") + " " + tmp.path("x.txt"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  std::stringstream ss(r.output);
  torch::Tensor want = net->log_r(x, nu);
  for (int i = 0; i < 64; ++i) {
    double v;
    ss >> v;
    REQUIRE(v == Approx(want[i].item<float>()).margin(1e-6).epsilon(1e-6));
  }
}

TEST_CASE("DCR training: resume after an interruption ends with the same weights", "[dcr][resume]") {
  refinery::testing::TempDir tmp("dcr_resume");
  DcrToy toy = DcrToy::one_nuisance();
  DCRTrainingData data = dcr_toy_training_data(toy, 20000, 1.0, 2.0, 7);
  auto run = [&](const std::string& ckpt, int interrupt, bool resume, int64_t average_steps) {
    torch::manual_seed(9);
    DCRNetwork net(DCRNetworkOptions(1, 1).hidden({16}));
    DCRTrainOptions opt;
    opt.train.epochs = 4;
    opt.train.steps_per_epoch = 20;
    opt.train.quiet = true;
    opt.train.checkpoint = ckpt;
    opt.train.interrupt_after = interrupt;
    opt.train.resume = resume;
    opt.train.average_steps = average_steps;
    opt.batch_size = 512;
    TrainReport rep = train_dcr(net, data, opt);
    return std::make_pair(net, rep);
  };
  // Without and with a running average of the weights (its state is in the
  // checkpoint too).
  for (int64_t average_steps : {0, 30}) {
    INFO("average_steps " << average_steps);
    const std::string tag = std::to_string(average_steps);
    auto [full, full_report] = run(tmp.path("a" + tag + ".ckpt"), 0, false, average_steps);
    auto [part, part_report] = run(tmp.path("b" + tag + ".ckpt"), 2, false, average_steps);
    REQUIRE(part_report.interrupted);
    REQUIRE(part_report.epochs.size() == 2);
    auto [resumed, resumed_report] = run(tmp.path("b" + tag + ".ckpt"), 0, true, average_steps);
    REQUIRE(resumed_report.epochs.size() == 4);
    auto pa = full->parameters(), pb = resumed->parameters();
    REQUIRE(pa.size() == pb.size());
    for (size_t i = 0; i < pa.size(); ++i) REQUIRE(torch::equal(pa[i], pb[i]));
    REQUIRE(resumed_report.samples == full_report.samples);
    REQUIRE(resumed_report.best_val_loss == full_report.best_val_loss);
  }
  // The average kept is not the last weights.
  auto [plain, plain_report] = run(tmp.path("c.ckpt"), 0, false, 0);
  auto [averaged, averaged_report] = run(tmp.path("d.ckpt"), 0, false, 30);
  REQUIRE_FALSE(torch::equal(plain->parameters()[0], averaged->parameters()[0]));
  // A checkpoint without the average cannot resume a training with one.
  REQUIRE_THROWS_WITH(run(tmp.path("a0.ckpt"), 0, true, 30),
                      tmp.path("a0.ckpt") + ": --resume: the checkpoint was written without a running average of the weights");
  // Nor the reverse: the average would be dropped without a word.
  REQUIRE_THROWS_WITH(run(tmp.path("a30.ckpt"), 0, true, 0),
                      tmp.path("a30.ckpt") + ": --resume: the checkpoint was written with a running average of the weights");
  // A checkpoint of another architecture is bad input, found before training.
  DCRNetwork wider(DCRNetworkOptions(1, 1).hidden({32}));
  DCRTrainOptions opt;
  opt.train.epochs = 4;
  opt.train.steps_per_epoch = 20;
  opt.train.quiet = true;
  opt.train.checkpoint = tmp.path("a0.ckpt");
  opt.train.resume = true;
  opt.batch_size = 512;
  REQUIRE_THROWS_WITH(train_dcr(wider, data, opt),
                      tmp.path("a0.ckpt") + ": --resume: the checkpoint was written for a network of another architecture");
}

TEST_CASE("DCR training: bad input is explained", "[dcr][bad-input]") {
  DcrToy toy = DcrToy::three_nuisances();
  // Only the three points +1 along each axis: 3 of the 9 coefficients.
  DCRTrainingData data = dcr_toy_training_data(toy, 1000, 1.0, 1.0, 3);
  data.nu_points = data.nu_points.narrow(0, 0, 6);
  torch::Tensor keep = data.point < 6;
  data.xv = data.xv.index({keep});
  data.wv = data.wv.index({keep});
  data.point = data.point.index({keep});
  try {
    data.validate(2, "toy");
    FAIL("rank deficiency not detected");
  } catch (const InputError& e) {
    REQUIRE(std::string(e.what()) ==
            "toy: nu-points: 6 nu-points determine only 6 of the 9 coefficients of the quadratic ansatz: add "
            "points (at least 9, including pairs of non-zero nuisances for the cross terms)");
  }
  data.validate(1, "toy");  // the linear ansatz is determined
  DCRTrainingData names = dcr_toy_training_data(toy, 1000, 1.0, 2.0, 3);
  names.nuisance_names.pop_back();
  REQUIRE_THROWS_WITH(names.validate(2, "toy"), "toy: nuisances: 3 nuisance columns but 2 names");
  auto cli = refinery::testing::run_refinery("train dcr --quiet --nominal /no/file.h5 --variations /no/v.h5 --process ztautau --out /tmp/x.pt");
  REQUIRE(cli.exit_code == 2);
  REQUIRE(cli.output == "refinery train: error: /no/file.h5: no such file\n");
  // The nominal and variation samples of one training come from one
  // simulation: another config or another seed (event numbers would pair
  // unrelated events) is refused, naming both files.
  refinery::testing::TempDir tmp("dcr_mixed_samples");
  using refinery::testing::run_refinery;
  auto sim = [&](const std::string& args) {
    REQUIRE(run_refinery("simulate htautau --events 4000 --quiet " + args).exit_code == 0);
  };
  {
    std::ofstream(tmp.path("other.json")) << R"({"name": "other", "simulation": {"generator": "htautau", "events": 4000,
      "mc_events": 0, "variations": [{"tes": 1}], "variation_grid": {"nuisances": []}}})";
  }
  sim("--seed 1 --out " + tmp.path("n.h5"));
  sim("--seed 2 --nu tes=1 --out " + tmp.path("v_seed.h5"));
  REQUIRE(run_refinery("simulate --quiet --config " + tmp.path("other.json") + " --out " + tmp.path("other")).exit_code == 0);
  auto train = [&](const std::string& variations) {
    return run_refinery("train dcr --quiet --epochs 1 --steps 2 --nominal " + tmp.path("n.h5") + " --variations " +
                        tmp.path(variations) + " --process ztautau --out " + tmp.path("x.pt"));
  };
  // (The seed is part of the config's hash: another seed is another config.)
  for (const std::string v : {"v_seed.h5", "other/variations.h5"}) {
    auto r = train(v);
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.output.rfind("refinery train: error: " + tmp.path(v) + ": attribute config_hash: simulated with config ", 0) == 0);
    REQUIRE(r.output.find(", but " + tmp.path("n.h5") + " with config ") != std::string::npos);
    REQUIRE(r.output.find("simulate the nominal and variation samples together") != std::string::npos);
  }
}


TEST_CASE("DCR ensemble: one network whose coefficients are the members' mean", "[dcr][ensemble]") {
  DcrToy toy = DcrToy::three_nuisances();
  DCRTrainingData data = dcr_toy_training_data(toy, 2000, 1.0, 2.0, 8);
  std::vector<DCRNetwork> members;
  for (int m = 0; m < 3; ++m) {
    torch::manual_seed(100 + m);
    DCRNetwork net(DCRNetworkOptions(3, 3).hidden({16, 8, 8}));
    torch::NoGradGuard g;
    net->preprocess->fit(torch::cat({data.x0, data.xv}), torch::cat({data.w0, data.wv}));
    members.push_back(net);
  }
  DCRNetwork merged = merge_dcr_ensemble(members);
  REQUIRE(merged->options.hidden() == std::vector<int64_t>{48, 24, 24});
  torch::NoGradGuard g;
  torch::Tensor mean = (members[0]->forward(data.x0) + members[1]->forward(data.x0) + members[2]->forward(data.x0)) / 3.0;
  REQUIRE(torch::allclose(merged->forward(data.x0), mean, 1e-5, 1e-6));
  // Its TorchScript archive applies the hidden-to-hidden layers block by
  // block (a batched product): the same mean, and the same log r.
  REQUIRE(merged->options.members() == 3);
  torch::jit::Module ts = dcr_to_torchscript(merged);
  REQUIRE(torch::allclose(ts.forward({data.x0}).toTensor(), mean, 1e-5, 1e-6));
  torch::Tensor nu = torch::tensor({0.5, -1.0, 2.0});
  REQUIRE(torch::allclose(ts.get_method("log_r")({data.x0, nu}).toTensor(), merged->log_r(data.x0, nu), 1e-5, 1e-5));
  // An ensemble of ensembles is the ensemble of all their members.
  DCRNetwork nested = merge_dcr_ensemble({merge_dcr_ensemble({members[0], members[1]}), merge_dcr_ensemble({members[2], members[0]})});
  REQUIRE(nested->options.members() == 4);
  torch::jit::Module ts_nested = dcr_to_torchscript(nested);
  REQUIRE(torch::allclose(ts_nested.forward({data.x0}).toTensor(),
                          (2.0 * members[0]->forward(data.x0) + members[1]->forward(data.x0) + members[2]->forward(data.x0)) / 4.0,
                          1e-5, 1e-6));
  // One hidden layer: nothing to group.
  std::vector<DCRNetwork> shallow;
  for (int m = 0; m < 2; ++m) {
    torch::manual_seed(300 + m);
    shallow.push_back(DCRNetwork(DCRNetworkOptions(3, 3).hidden({8})));
  }
  DCRNetwork merged_shallow = merge_dcr_ensemble(shallow);
  torch::jit::Module ts_shallow = dcr_to_torchscript(merged_shallow);
  REQUIRE(torch::allclose(ts_shallow.forward({data.x0}).toTensor(),
                          (shallow[0]->forward(data.x0) + shallow[1]->forward(data.x0)) / 2.0, 1e-5, 1e-6));
  // One member is itself.
  REQUIRE(torch::allclose(merge_dcr_ensemble({members[1]})->forward(data.x0), members[1]->forward(data.x0), 1e-6, 1e-7));
  // Without hidden layers, too.
  std::vector<DCRNetwork> linear;
  for (int m = 0; m < 2; ++m) {
    torch::manual_seed(200 + m);
    linear.push_back(DCRNetwork(DCRNetworkOptions(3, 3).hidden({})));
  }
  REQUIRE(torch::allclose(merge_dcr_ensemble(linear)->forward(data.x0),
                          (linear[0]->forward(data.x0) + linear[1]->forward(data.x0)) / 2.0, 1e-5, 1e-6));
  // Members of another layout or preprocessing are refused.
  DCRNetwork other(DCRNetworkOptions(3, 3).hidden({16, 8}));
  REQUIRE_THROWS_AS(merge_dcr_ensemble({members[0], other}), std::invalid_argument);
  DCRNetwork unfitted(DCRNetworkOptions(3, 3).hidden({16, 8, 8}));
  REQUIRE_THROWS_AS(merge_dcr_ensemble({members[0], unfitted}), std::invalid_argument);
}

TEST_CASE("train dcr --ensemble: members from their own seeds, their spread reported, no checkpoints left",
          "[dcr][ensemble][cli]") {
  refinery::testing::TempDir tmp("dcr_ensemble");
  const std::string out = tmp.path("e.pt");
  auto run = refinery::testing::run_refinery("train dcr --toy dcr_toy_1d --events 20000 --epochs 2 --steps 10 --batch 512 "
                                             "--hidden 8 --ensemble 3 --quiet --out " + out);
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  nlohmann::json j = nlohmann::json::parse(refinery::testing::read_file(out + ".json"));
  REQUIRE(j["ensemble"]["members"] == 3);
  REQUIRE(j["ensemble"]["seeds"].size() == 3);
  REQUIRE(j["ensemble"]["seeds"][0] != j["ensemble"]["seeds"][1]);
  const double sd = j["ensemble"]["max_inclusive_ratio_sd"].get<double>();
  REQUIRE(sd > 0.0);  // independent members differ
  REQUIRE(sd < 0.5);
  REQUIRE(j["training"]["paired"] == true);
  REQUIRE_FALSE(j["training"].contains("average_steps"));
  for (const char* suffix : {".ckpt", ".ckpt.1", ".ckpt.2"}) REQUIRE_FALSE(refinery::testing::file_exists(out + suffix));
  nlohmann::json meta;
  load_torchscript(out, &meta);
  REQUIRE(meta["kind"] == "dcr");
  auto bad = refinery::testing::run_refinery("train dcr --toy dcr_toy_1d --ensemble 0 --quiet --out " + out);
  REQUIRE(bad.exit_code == 2);
  REQUIRE(bad.output.find("--ensemble: must be in [1, 32]") != std::string::npos);
  // --average-steps: the report records it; a negative one exits 2.
  run = refinery::testing::run_refinery("train dcr --toy dcr_toy_1d --events 20000 --epochs 2 --steps 10 --batch 512 "
                                        "--hidden 8 --average-steps 5 --quiet --out " + tmp.path("avg.pt"));
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  REQUIRE(nlohmann::json::parse(refinery::testing::read_file(tmp.path("avg.pt") + ".json"))["training"]["average_steps"] == 5);
  bad = refinery::testing::run_refinery("train dcr --toy dcr_toy_1d --average-steps -3 --quiet --out " + tmp.path("b.pt"));
  REQUIRE(bad.exit_code == 2);
  REQUIRE(bad.output.find("--average-steps: must be >= 0 (0: no running average), got -3") != std::string::npos);
  // --coordinates: the archive records them; unknown nuisances and coordinates exit 2.
  const std::string sq = tmp.path("sq.pt");
  run = refinery::testing::run_refinery("train dcr --toy dcr_toy_1d --events 20000 --epochs 1 --steps 5 --batch 512 "
                                        "--hidden 8 --coordinates nu0=square --quiet --out " + sq);
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  load_torchscript(sq, &meta);
  REQUIRE(meta["coordinates"] == nlohmann::json::array({"square"}));
  bad = refinery::testing::run_refinery("train dcr --toy dcr_toy_1d --coordinates nu9=square --quiet --out " + tmp.path("b.pt"));
  REQUIRE(bad.exit_code == 2);
  REQUIRE(bad.output.find("--coordinates: 'nu9' is not a nuisance of the ansatz (nu0)") != std::string::npos);
  bad = refinery::testing::run_refinery("train dcr --toy dcr_toy_1d --coordinates nu0=cube --quiet --out " + tmp.path("b.pt"));
  REQUIRE(bad.exit_code == 2);
  REQUIRE(bad.output.find("--coordinates: nu0: expected linear, square, cubic or knot:T, got 'cube'") != std::string::npos);
  REQUIRE_FALSE(refinery::testing::file_exists(tmp.path("b.pt")));
  // --point-weights prior: the weights from the config's priors, in the report; bad input exits 2.
  const std::string config = tmp.path("c.json");
  {
    std::ofstream f(config);
    f << R"({"name": "w", "seed": 3, "measurement": {"nuisances": [)"
      << R"({"name": "nu0", "type": "calibration", "constraint": "gaussian", "centre": 0, "width": 1}]}})";
  }
  const std::string pw = tmp.path("pw.pt");
  run = refinery::testing::run_refinery("train dcr --config " + config + " --toy dcr_toy_1d --events 20000 --epochs 1 "
                                        "--steps 5 --batch 512 --hidden 8 --point-weights prior --quiet --out " + pw);
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  j = nlohmann::json::parse(refinery::testing::read_file(pw + ".json"));
  REQUIRE(j["point_weights"]["rule"] == "prior");
  double total = 0.0;
  for (const auto& w : j["point_weights"]["weights"]) total += w.get<double>();
  REQUIRE(j["point_weights"]["weights"].size() == j["nu_points"].get<size_t>());
  REQUIRE(total == Approx(j["nu_points"].get<double>()).epsilon(1e-12));
  bad = refinery::testing::run_refinery("train dcr --toy dcr_toy_1d --point-weights often --quiet --out " + tmp.path("b.pt"));
  REQUIRE(bad.exit_code == 2);
  REQUIRE(bad.output.find("--point-weights: uniform or prior, got 'often'") != std::string::npos);
  {
    std::ofstream f(config);
    f << R"({"name": "w", "seed": 3})";
  }
  bad = refinery::testing::run_refinery("train dcr --config " + config + " --toy dcr_toy_1d --events 20000 --point-weights prior --quiet --out " +
                                        tmp.path("b.pt"));
  REQUIRE(bad.exit_code == 2);
  REQUIRE(bad.output.find(config + ": measurement.nuisances: no nuisance 'nu0' to weigh the training points by") !=
          std::string::npos);
  REQUIRE_FALSE(refinery::testing::file_exists(tmp.path("b.pt")));
}

TEST_CASE("DCR inclusive ratio and validation bookkeeping on exact coefficients", "[dcr]") {
  // 1-nuisance toy: the exact coefficients are Delta = (0.1 + 0.5 x, -0.125),
  // so R(nu) = E_0[r(x|nu)] = exp(0.1 nu); with 200k events the Monte Carlo
  // error of R at |nu| <= 2 is below 0.3%.
  DcrToy toy = DcrToy::one_nuisance();
  torch::Generator gen = make_generator(21);
  EventSet s = toy.sample_at(toy.base(200000, gen), torch::zeros({1}, torch::kFloat64));
  torch::Tensor x = s.features.squeeze(1).to(torch::kFloat64);
  torch::Tensor coef = torch::stack({0.1 + 0.5 * x, torch::full_like(x, -0.125)}, 1);
  torch::Tensor nus = torch::tensor({-2.0, -1.0, 0.0, 1.0, 2.0}, torch::kFloat64).unsqueeze(1);
  torch::Tensor R = dcr_inclusive_ratio(coef, s.weights, nus, 2);
  for (int i = 0; i < 5; ++i) {
    const double nu = nus[i][0].item<double>();
    REQUIRE(R[i].item<double>() == Approx(std::exp(0.1 * nu)).epsilon(0.01));
  }
  REQUIRE(R[2].item<double>() == Approx(1.0).epsilon(1e-12));
  // Validation report of a network predicting r = 1 everywhere (last layer
  // zero): learned ratio 1, sample ratio exp(0.1 nu) exactly (the weights),
  // bins summing to the totals.
  torch::manual_seed(1);
  DCRNetwork net(DCRNetworkOptions(1, 1).hidden({8}));
  {
    torch::NoGradGuard g;
    net->net->layers.back()->weight.zero_();
    net->net->layers.back()->bias.zero_();
  }
  torch::Tensor nu = torch::tensor({1.0}, torch::kFloat64);
  EventSet shifted = toy.sample_at(toy.base(50000, gen), nu);
  auto report = dcr_validation_report(net, s.features, s.weights, {{nu, shifted.features, shifted.weights, true}}, {0}, {"x0"});
  REQUIRE(report[0]["learned_ratio"].get<double>() == Approx(1.0).epsilon(1e-12));
  REQUIRE(report[0]["sample_ratio"].get<double>() == Approx(std::exp(0.1)).epsilon(1e-9));
  double learned = 0, sample = 0;
  for (const auto& b : report[0]["bins"]["x0"]) learned += b["learned"].get<double>(), sample += b["sample"].get<double>();
  REQUIRE(learned == Approx(1000.0).epsilon(1e-9));
  REQUIRE(sample == Approx(1000.0 * std::exp(0.1)).epsilon(1e-9));
  REQUIRE(report[0]["held_out"] == true);
}

TEST_CASE("DCR on htautau: the inclusive ratio at held-out nu-points matches the samples within their statistical error",
          "[dcr][htautau]") {
  using namespace refinery::htautau;
  // Training: Z->tautau nominal and the step-1 grid with |nu|_1 <= 2 (18 points).
  SimulationOptions so;
  so.seed = 41;
  so.events = 600000;
  so.quiet = true;
  auto ztautau = [](const EventSet& e) {
    torch::Tensor sel = e.process == 1;
    return std::make_pair(e.features.index({sel}).contiguous(), e.weights.index({sel}).contiguous());
  };
  DCRTrainingData d;
  std::tie(d.x0, d.w0) = ztautau(simulate_in_memory(so));
  std::vector<torch::Tensor> xs, ws, ps, nus;
  const std::vector<NuVector> grid = variation_grid({"tes", "jes", "soft_met"}, 1.0, 2.0);
  for (size_t k = 0; k < grid.size(); ++k) {
    auto [x, w] = ztautau(simulate_in_memory(so, grid[k]));
    xs.push_back(x), ws.push_back(w), ps.push_back(torch::full({x.size(0)}, (int64_t)k, torch::kLong));
    nus.push_back(torch::tensor({(float)grid[k][kTes], (float)grid[k][kJes], (float)grid[k][kSoftMet]}));
  }
  d.xv = torch::cat(xs), d.wv = torch::cat(ws), d.point = torch::cat(ps), d.nu_points = torch::stack(nus);
  d.nuisance_names = {"tes", "jes", "soft_met"};
  torch::manual_seed(12);
  DCRNetwork net(DCRNetworkOptions(28, 3).hidden({64, 64}).n_indicators(count_indicator_columns(torch::cat({d.x0, d.xv}))));
  DCRTrainOptions opt = refinery::testing::dcr_test_options(5, 100, 2048, 0.8);
  TrainReport rep = train_dcr(net, d, opt);
  REQUIRE(rep.normalisation_rms_after < rep.normalisation_rms_before);
  // Held out: off-grid points, on 8 independent samples; per sample the
  // learned inclusive ratio sum_0 w r / W_0 minus the sample's W_nu / W_0;
  // the mean over samples against its standard error (batch means).
  for (const NuVector& nu : {NuVector{0.5, -0.5, 0.5, 0, 0, 0}, NuVector{-1.5, 0, 0.5, 0, 0, 0}}) {
    std::vector<double> diff;
    double ratio = 0;
    for (uint64_t m = 0; m < 8; ++m) {
      SimulationOptions t = so;
      t.seed = 1000 + m;
      t.events = 150000;
      auto [x0, w0] = ztautau(simulate_in_memory(t));
      auto [xn, wn] = ztautau(simulate_in_memory(t, nu));
      torch::Tensor nu_t = torch::tensor({nu[kTes], nu[kJes], nu[kSoftMet]}, torch::kFloat64);
      const double learned = dcr_inclusive_ratio(dcr_coefficients_cache(net, x0), w0, nu_t, 2).item<double>();
      const double sample = wn.sum().item<double>() / w0.sum().item<double>();
      diff.push_back(learned - sample);
      ratio += sample / 8;
    }
    double mean = 0, var = 0;
    for (double v : diff) mean += v / diff.size();
    for (double v : diff) var += (v - mean) * (v - mean) / (diff.size() - 1);
    const double se = std::sqrt(var / diff.size());
    INFO("nu = " << format_nu(nu) << ": sample ratio " << ratio << ", learned - sample " << mean << " +- " << se);
    REQUIRE(std::abs(ratio - 1.0) > 0.005);      // the point has a real effect
    REQUIRE(std::abs(mean) < 3.0 * se + 5e-4);   // and the network gets it within the statistics
  }
}

namespace {

// A smearing toy: x ~ N(0, 1) smeared by an extra Gaussian of width k s,
// x_s = x + k s y (y ~ N(0, 1), the same draws at every s: paired samples),
// so x_s ~ N(0, 1 + t) with t = (k s)^2 and, exactly,
//   log r(x|s) = -log(1 + t) / 2 + x^2 t / (2 (1 + t)),
// a function of s^2 (a heat kernel, like H->tautau's soft_met): quadratic in
// s^2 to second order, while a quadratic in s leaves out its s^4 term.
constexpr double kSmear = 0.2;
torch::Tensor smeared_log_r(const torch::Tensor& x, double s) {
  const double t = kSmear * kSmear * s * s;
  return -0.5 * std::log1p(t) + x.to(torch::kFloat64).pow(2).squeeze(1) * (t / (2.0 * (1.0 + t)));
}

DCRTrainingData smearing_training_data(int64_t n, const std::vector<double>& points, uint64_t seed) {
  torch::Generator gen = make_generator(seed);
  const torch::Tensor x = torch::randn({n, 1}, gen, torch::kFloat64), y = torch::randn({n, 1}, gen, torch::kFloat64);
  DCRTrainingData d;
  d.x0 = x.to(torch::kFloat32);
  d.w0 = torch::full({n}, 1.0 / double(n), torch::kFloat64);
  d.e0 = torch::arange(n, torch::kLong);
  std::vector<torch::Tensor> xv, pv, ev;
  for (size_t p = 0; p < points.size(); ++p) {
    xv.push_back((x + kSmear * points[p] * y).to(torch::kFloat32));
    pv.push_back(torch::full({n}, int64_t(p), torch::kLong));
    ev.push_back(torch::arange(n, torch::kLong));
  }
  d.xv = torch::cat(xv), d.point = torch::cat(pv), d.ev = torch::cat(ev);
  d.wv = torch::full({n * int64_t(points.size())}, 1.0 / double(n), torch::kFloat64);
  d.nu_points = torch::tensor(points, torch::kFloat32).unsqueeze(1);
  d.nuisance_names = {"smear"};
  return d;
}

}  // namespace

TEST_CASE("DCR ansatz in the square of a smearing width: closer to the simulator between and below the training points",
          "[dcr][closure][coordinates]") {
  // Training points s = 1..5 (H->tautau's soft_met grid), tested at s = 0.5,
  // 1 and 1.5, where a prior of median 1 puts most of its weight: the
  // ansatz's own error there (least squares through the five points, RMS over
  // x) is 0.013, 0.017, 0.014 in s and 0.001, 0.003, 0.006 in s^2.
  const DCRTrainingData data = smearing_training_data(200000, {1, 2, 3, 4, 5}, 21);
  torch::Generator gen = make_generator(99);
  const torch::Tensor test = torch::randn({20000, 1}, gen, torch::kFloat64).to(torch::kFloat32);
  // RMS error of log r over the test events and the given s.
  auto error = [&](DCRNetwork& net, std::initializer_list<double> at) {
    torch::NoGradGuard guard;
    double s2 = 0.0;
    for (double s : at)
      s2 += (net->log_r(test, torch::tensor({s})).to(torch::kFloat64) - smeared_log_r(test, s)).pow(2).mean().item<double>() /
            double(at.size());
    return std::sqrt(s2);
  };
  auto trained = [&](const std::vector<int>& powers) {
    torch::manual_seed(5);
    DCRNetwork net(DCRNetworkOptions(1, 1).hidden({32, 32}).powers(powers));
    train_dcr(net, data, refinery::testing::dcr_test_options(16, 200, 4096, 0.82));
    return net;
  };
  DCRNetwork linear = trained({}), square = trained({2}), cubic_net = trained({likelihood::kCubic}),
             knot_net = trained({likelihood::knot_code(2.0)});
  const double in_s = error(linear, {0.5, 1.0, 1.5}), in_square = error(square, {0.5, 1.0, 1.5}),
               cubic = error(cubic_net, {0.5, 1.0, 1.5}), with_knot = error(knot_net, {0.5, 1.0, 1.5});
  const double tail_in_s = error(linear, {3.0, 4.0, 5.0}), tail_with_knot = error(knot_net, {3.0, 4.0, 5.0});
  INFO("RMS error of log r at s = 0.5, 1, 1.5: ansatz in s " << in_s << ", in s^2 " << in_square << ", in s with s^3 "
                                                             << cubic << ", in s with a knot at 2 " << with_knot
                                                             << "; at s = 3, 4, 5: in s " << tail_in_s << ", knot "
                                                             << tail_with_knot);
  // Measured 0.0171 and 0.0075: the networks' own error (about 0.006 at this
  // training length) on top of the ansatz's.
  REQUIRE(in_square < 0.6 * in_s);
  REQUIRE(in_square < 0.010);
  // The cubic term: the ansatz's own error at s = 0.5, 1, 1.5 (least squares
  // through the points) 0.0015, 0.0016, 0.0005 instead of 0.014, 0.019, 0.015,
  // and below 0.002 at every s in [0.5, 5]; measured 0.0097, the network's
  // own error (with one coefficient more to learn) on top.
  REQUIRE(cubic < 0.7 * in_s);
  REQUIRE(cubic < 0.012);
  // A knot at 2 (a quadratic spline): below it the ansatz passes through the
  // nominal and the points 1 and 2, which a heat kernel's log ratio follows
  // closely between them; the points 3-5 set the term beyond the knot instead
  // of bending the quadratic where the prior lies. Measured 0.0021 at s = 0.5,
  // 1, 1.5, and 0.0079 at 3-5 against the ansatz in s's 0.0132.
  REQUIRE(with_knot < 0.3 * in_s);
  REQUIRE(with_knot < 0.005);
  REQUIRE(tail_with_knot < tail_in_s);
  // The archive takes s itself and squares it.
  DCRNetwork net(DCRNetworkOptions(1, 1).hidden({4}).powers({2}));
  torch::jit::Module ts = dcr_to_torchscript(net);
  const torch::Tensor s = torch::tensor({1.5f});
  REQUIRE(torch::allclose(ts.get_method("phi")({s}).toTensor(), torch::tensor({2.25f, 2.25f * 2.25f})));
  REQUIRE(torch::allclose(ts.get_method("log_r")({test, s}).toTensor(), net->log_r(test, s), 1e-5, 1e-6));
  // A cubic term: the archive's phi appends s^3 after the products, as the definition does.
  DCRNetwork cubed(DCRNetworkOptions(1, 2).hidden({4}).powers({1, likelihood::kCubic}));
  torch::jit::Module tc = dcr_to_torchscript(cubed);
  const torch::Tensor nu2 = torch::tensor({0.5f, -1.5f});
  REQUIRE(torch::allclose(tc.get_method("phi")({nu2}).toTensor(), torch::tensor({0.5f, -1.5f, 0.25f, -0.75f, 2.25f, -3.375f})));
  REQUIRE(torch::allclose(tc.get_method("phi")({nu2}).toTensor(), dcr_phi(nu2, 2, {1, likelihood::kCubic})));
  REQUIRE(torch::allclose(tc.get_method("log_r")({test, nu2}).toTensor(), cubed->log_r(test, nu2), 1e-5, 1e-6));
  REQUIRE(cubed->n_coefficients() == 6);
  REQUIRE(dcr_powers_of(nlohmann::json{{"nuisances", {"a", "smear"}}, {"coordinates", {"linear", "cubic"}}}, "m.pt") ==
          std::vector<int>{1, likelihood::kCubic});
  REQUIRE_THROWS_AS(DCRNetwork(DCRNetworkOptions(1, 1).order(1).powers({likelihood::kCubic})), InputError);
  REQUIRE(dcr_powers_of(nlohmann::json{{"nuisances", {"smear"}}, {"coordinates", {"square"}}}, "m.pt") == std::vector<int>{2});
  REQUIRE(dcr_powers_of(nlohmann::json{{"nuisances", {"smear"}}}, "m.pt").empty());
  REQUIRE_THROWS_WITH(dcr_powers_of(nlohmann::json{{"nuisances", {"smear"}}, {"coordinates", {"cube"}}}, "m.pt"),
                      "m.pt: metadata.json: coordinates: expected linear, square, cubic or knot:T, got 'cube'");
  // A knot at 0.7: phi appends (s - 0.7)_+^2 after the products, zero below the knot, in the archive as in the definition.
  const int knot = likelihood::knot_code(0.7);
  DCRNetwork knotted(DCRNetworkOptions(1, 2).hidden({4}).powers({1, knot}));
  torch::jit::Module tk = dcr_to_torchscript(knotted);
  for (const auto& v : {std::vector<float>{0.5f, 1.5f}, std::vector<float>{0.5f, 0.2f}}) {
    const torch::Tensor at = torch::tensor(v);
    const float above = std::max(v[1] - 0.7f, 0.0f);
    REQUIRE(torch::allclose(tk.get_method("phi")({at}).toTensor(),
                            torch::tensor({v[0], v[1], v[0] * v[0], v[0] * v[1], v[1] * v[1], above * above})));
    REQUIRE(torch::allclose(tk.get_method("phi")({at}).toTensor(), dcr_phi(at, 2, {1, knot})));
    REQUIRE(torch::allclose(tk.get_method("log_r")({test, at}).toTensor(), knotted->log_r(test, at), 1e-5, 1e-6));
  }
  REQUIRE(dcr_powers_of(nlohmann::json{{"nuisances", {"a", "smear"}}, {"coordinates", {"linear", "knot:0.7"}}}, "m.pt") ==
          std::vector<int>{1, knot});
  REQUIRE(dcr_coordinates_json({1, knot}, 2) == nlohmann::json::array({"linear", "knot:0.7"}));
  REQUIRE(likelihood::coordinate_power("knot:-2") == likelihood::knot_code(-2.0));
  REQUIRE_THROWS_AS(DCRNetwork(DCRNetworkOptions(1, 1).order(1).powers({knot})), InputError);
  REQUIRE_THROWS_WITH(dcr_powers_of(nlohmann::json{{"nuisances", {"smear"}}, {"coordinates", {"knot:3.25"}}}, "m.pt"),
                      "m.pt: metadata.json: coordinates: a knot on a grid of 0.1, got 'knot:3.25'");
  REQUIRE_THROWS_WITH(dcr_powers_of(nlohmann::json{{"nuisances", {"smear"}}, {"coordinates", {"knot:"}}}, "m.pt"),
                      "m.pt: metadata.json: coordinates: a knot's position after 'knot:', got 'knot:'");
  REQUIRE_THROWS_WITH(dcr_powers_of(nlohmann::json{{"nuisances", {"smear"}}, {"coordinates", {"knot:3x"}}}, "m.pt"),
                      "m.pt: metadata.json: coordinates: a knot's position after 'knot:', got 'knot:3x'");
  REQUIRE_THROWS_WITH(dcr_powers_of(nlohmann::json{{"nuisances", {"smear"}}, {"coordinates", {"knot:150"}}}, "m.pt"),
                      Catch::Contains("a knot within (-100, 100)"));
}

TEST_CASE("DCR point weights: each training point weighs its prior's Voronoi cell", "[dcr][point-weights]") {
  // One nuisance, N(0, 1), points 1, 2, 3 (and the nominal 0): the cells are
  // [0.5, 1.5), [1.5, 2.5), [2.5, inf), their probabilities Phi differences.
  auto Phi = [](double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); };
  const int64_t draws = 400000;
  auto check = [&](const torch::Tensor& w, const std::vector<double>& cell) {
    double total = 0.0;
    for (double c : cell) total += c;
    const double P = double(cell.size());
    REQUIRE(w.size(0) == int64_t(cell.size()));
    for (size_t p = 0; p < cell.size(); ++p) {
      // The count in a cell is binomial in the draws.
      const double expected = P * cell[p] / total;
      const double sd = P / total * std::sqrt(cell[p] * (1.0 - cell[p]) / double(draws));
      INFO("point " << p << ": " << w[p].item<double>() << " against " << expected);
      REQUIRE(std::abs(w[p].item<double>() - expected) < 4.0 * sd);
    }
  };
  NuisancePrior gauss{"a", stats::Constraint::kGaussian, 0.0, 1.0, -5.0, 5.0};
  check(dcr_prior_point_weights(torch::tensor({1.0f, 2.0f, 3.0f}).unsqueeze(1), {gauss}, 7, draws, "c.json"),
        {Phi(1.5) - Phi(0.5), Phi(2.5) - Phi(1.5), 1.0 - Phi(2.5)});
  // A log-normal of median 1 and width 1, clipped at 5 (H->tautau's soft_met
  // prior) on the points 1..5: the last point takes everything above 4.5.
  NuisancePrior lognormal{"s", stats::Constraint::kLogNormal, 1.0, 1.0, 0.01, 5.0};
  std::vector<double> cells;
  for (double lo : {0.5, 1.5, 2.5, 3.5}) cells.push_back(Phi(std::log(lo + 1.0)) - Phi(std::log(lo)));
  cells.push_back(1.0 - Phi(std::log(4.5)));
  check(dcr_prior_point_weights(torch::tensor({1.0f, 2.0f, 3.0f, 4.0f, 5.0f}).unsqueeze(1), {lognormal}, 8, draws, "c.json"),
        cells);
  // Two nuisances: distances in each prior's scale (widths 1 and 10), so the
  // points (1, 0) and (0, 10) are alike and take equal shares.
  NuisancePrior wide{"b", stats::Constraint::kGaussian, 0.0, 10.0, -50.0, 50.0};
  const torch::Tensor two = dcr_prior_point_weights(torch::tensor({1.0f, 0.0f, 0.0f, 10.0f}).view({2, 2}), {gauss, wide}, 9,
                                                    draws, "c.json");
  REQUIRE(std::abs(two[0].item<double>() - two[1].item<double>()) < 0.02);
  // A point the prior never reaches would not be trained.
  REQUIRE_THROWS_WITH(dcr_prior_point_weights(torch::tensor({1.0f, 40.0f}).unsqueeze(1), {gauss}, 7, 1000, "c.json"),
                      "c.json: nu-point a=40: no prior probability near it: it would not be trained");
  REQUIRE_THROWS_AS(dcr_prior_point_weights(torch::tensor({1.0f}).unsqueeze(1), {gauss, wide}, 7, 1000, "c.json"), InputError);
}

TEST_CASE("DCR point weights: where the prior is, the ansatz's compromise follows it", "[dcr][closure][point-weights]") {
  // The smearing toy with the ansatz in s (not exact: no s^4 term), points
  // 1..5, tested at s = 0.5, 1, 1.5. Least squares of the exact log r
  // through the points gives the ansatz's own error there (RMS over x):
  // 0.016 with every point weighted alike, 0.0086 with the weights of a
  // log-normal prior of median 1 (2.73, 1.08, 0.49, 0.26, 0.44), which
  // trade accuracy at s = 3..5 for it.
  const DCRTrainingData data = smearing_training_data(200000, {1, 2, 3, 4, 5}, 21);
  torch::Generator gen = make_generator(99);
  const torch::Tensor test = torch::randn({20000, 1}, gen, torch::kFloat64).to(torch::kFloat32);
  NuisancePrior lognormal{"smear", stats::Constraint::kLogNormal, 1.0, 1.0, 0.01, 5.0};
  const torch::Tensor weights = dcr_prior_point_weights(data.nu_points, {lognormal}, 3, 400000, "c.json");
  auto error = [&](const torch::Tensor& w) {
    torch::manual_seed(5);
    DCRNetwork net(DCRNetworkOptions(1, 1).hidden({32, 32}));
    DCRTrainOptions o = refinery::testing::dcr_test_options(16, 200, 4096, 0.82);
    o.point_weights = w;
    train_dcr(net, data, o);
    torch::NoGradGuard guard;
    double s2 = 0.0;
    for (double s : {0.5, 1.0, 1.5})
      s2 += (net->log_r(test, torch::tensor({s})).to(torch::kFloat64) - smeared_log_r(test, s)).pow(2).mean().item<double>() / 3.0;
    return std::sqrt(s2);
  };
  const double uniform = error(torch::Tensor()), prior = error(weights);
  INFO("RMS error of log r at s = 0.5, 1, 1.5: uniform " << uniform << ", prior-weighted " << prior);
  REQUIRE(prior < 0.75 * uniform);
  REQUIRE(prior < 0.013);
  // Uniform weights given explicitly are the default's loss: the same network.
  DCRTrainOptions o = refinery::testing::dcr_test_options(1, 20, 1024, 0.82);
  torch::manual_seed(6);
  DCRNetwork a(DCRNetworkOptions(1, 1).hidden({8}));
  train_dcr(a, data, o);
  o.point_weights = torch::ones({5}, torch::kFloat64);
  torch::manual_seed(6);
  DCRNetwork b(DCRNetworkOptions(1, 1).hidden({8}));
  train_dcr(b, data, o);
  torch::NoGradGuard guard;
  REQUIRE(torch::allclose(a->log_r(test, torch::tensor({2.0})), b->log_r(test, torch::tensor({2.0})), 1e-4, 1e-5));
}
