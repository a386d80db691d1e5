// The calibrated multiclassifier: isotonic maps, calibration against a known
// posterior, the htautau calibration error and yields, TorchScript export
// (C++ and Python), resume, and bad input.
#include "testing.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>

#include "data/htautau/htautau_simulation.h"
#include "data/random.h"
#include "models/classifier_archive.h"
#include "models/classifier_ensemble.h"
#include "models/multiclassifier.h"
#include "models/torchscript_export.h"
#include "src/calibration/isotonic.h"
#include "src/core/error.h"
#include "train/classifier_training.h"
#include "train/trainer.h"

using namespace refinery;
using refinery::testing::run_refinery;
using refinery::testing::TempDir;

namespace {

// Three Gaussian classes in 2-D with unit covariance; class c has n[c]
// events of weight wt[c]. The class-balanced posterior is the normalised
// density, the physical one is weighted by the yields n[c] wt[c].
struct GaussianClasses {
  std::vector<std::vector<double>> means{{0, 0}, {2, 0}, {0, 2}};
  std::vector<int64_t> n{30000, 10000, 20000};
  std::vector<double> wt{1.0, 3.0, 0.5};

  ClassifierData sample(uint64_t seed, double scale = 1.0) const {
    torch::Generator gen = make_generator(seed);
    std::vector<torch::Tensor> xs, ys, ws;
    for (size_t c = 0; c < means.size(); ++c) {
      const int64_t k = static_cast<int64_t>(n[c] * scale);
      xs.push_back(torch::randn({k, 2}, gen, torch::kFloat32) +
                   torch::tensor({(float)means[c][0], (float)means[c][1]}));
      ys.push_back(torch::full({k}, (int64_t)c, torch::kLong));
      ws.push_back(torch::full({k}, wt[c], torch::kFloat64));
    }
    return {torch::cat(xs), torch::cat(ys), torch::cat(ws), {"a", "b", "c"}};
  }
  // log N(x|m_c) up to a common constant, [N,3].
  torch::Tensor log_density(const torch::Tensor& x) const {
    std::vector<torch::Tensor> cols;
    for (const auto& m : means)
      cols.push_back(-0.5 * (x.to(torch::kFloat64) - torch::tensor(m, torch::kFloat64)).pow(2).sum(1));
    return torch::stack(cols, 1);
  }
  torch::Tensor balanced_posterior(const torch::Tensor& x) const { return torch::softmax(log_density(x), 1); }
  torch::Tensor physical_posterior(const torch::Tensor& x) const {
    torch::Tensor log_yield = torch::tensor({std::log(n[0] * wt[0]), std::log(n[1] * wt[1]), std::log(n[2] * wt[2])},
                                            torch::kFloat64);
    return torch::softmax(log_density(x) + log_yield, 1);
  }
};

ClassifierTrainOptions quick_options(int epochs, int64_t steps, int64_t batch) {
  ClassifierTrainOptions o;
  o.train.epochs = epochs;
  o.train.steps_per_epoch = steps;
  o.train.learning_rate = 3e-3;
  o.train.lr_decay = 0.9;
  o.train.quiet = true;
  o.train.seed = 5;
  o.batch_size = batch;
  return o;
}

}  // namespace

TEST_CASE("Isotonic map: PAVA blocks, linear between their mean scores", "[classifier][calibration]") {
  // Scores 1..6, targets 1 0 1 1 0 1 with unit weights: PAVA pools (1,2)
  // to 1/2, then (4,5) to 1/2, which violates 3's 1, so (3,4,5) to 2/3; 6
  // stays at 1. Knots at the blocks' mean scores 1.5, 4 and 6 and at the
  // ends of the range, linear in between, constant outside.
  torch::Tensor s = torch::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, torch::kFloat64);
  torch::Tensor t = torch::tensor({1.0, 0.0, 1.0, 1.0, 0.0, 1.0}, torch::kFloat64);
  PiecewiseLinear m = fit_isotonic(s, t, torch::ones({6}, torch::kFloat64), 6);
  torch::Tensor v = m(torch::tensor({0.0, 1.0, 2.0, 2.5, 3.0, 4.5, 5.0, 5.5, 6.0, 9.0}, torch::kFloat64));
  std::vector<double> want{0.5, 0.5, 0.5 + 1.0 / 30, 0.5 + 1.0 / 15, 0.6, 0.75, 5.0 / 6, 11.0 / 12, 1.0, 1.0};
  for (size_t i = 0; i < want.size(); ++i) REQUIRE(v[i].item<double>() == Approx(want[i]).margin(1e-15));
  // Weighted: (1,2) pools to (1*1 + 2*0)/3 = 1/3 at mean score 5/3; 3
  // alone at 1 then violates (4,5) at 1/4 and pools with them to 1.5/4.5
  // = 1/3 as well, so (1..5) is one block at 1/3; 6 at 1.
  torch::Tensor w = torch::tensor({1.0, 2.0, 0.5, 1.0, 3.0, 1.0}, torch::kFloat64);
  PiecewiseLinear mw = fit_isotonic(s, t, w, 6);
  REQUIRE(mw(torch::tensor({1.0}, torch::kFloat64)).item<double>() == Approx(1.0 / 3).margin(1e-15));
  REQUIRE(mw(torch::tensor({6.0}, torch::kFloat64)).item<double>() == Approx(1.0).margin(1e-15));
  REQUIRE((mw.y.diff() >= 0).all().item<bool>());
  REQUIRE((mw.x.diff() > 0).all().item<bool>());
  REQUIRE_THROWS_AS(fit_isotonic(torch::tensor({1.0, (double)NAN}, torch::kFloat64),
                                 torch::tensor({1.0, 0.0}, torch::kFloat64), torch::ones({2}), 4),
                    InputError);
}

TEST_CASE("Classifier on Gaussian classes: calibrated probabilities and fractions match the exact posteriors",
          "[classifier][calibration]") {
  GaussianClasses toy;
  torch::manual_seed(3);
  MultiClassifier clf(MultiClassifierOptions(2, 3).hidden({32, 32}));
  ClassifierTrainResult r = train_classifier(clf, toy.sample(1, 4.0), quick_options(8, 150, 512));
  REQUIRE(r.yields[1] == Approx(120000.0));
  ClassifierData test = toy.sample(2, 0.5);
  torch::NoGradGuard guard;
  clf->eval();
  INFO("raw MAE " << (clf->raw_probabilities(test.x).to(torch::kFloat64) - toy.balanced_posterior(test.x)).abs().mean().item<double>());
  const double mae_g = (clf->probabilities(test.x).to(torch::kFloat64) - toy.balanced_posterior(test.x)).abs().mean().item<double>();
  const double mae_f = (clf->fractions(test.x) - toy.physical_posterior(test.x)).abs().mean().item<double>();
  INFO("MAE balanced " << mae_g << ", physical " << mae_f);
  REQUIRE(mae_g < 0.01);
  REQUIRE(mae_f < 0.01);
}

TEST_CASE("Classifier on htautau: ECE after calibration, fractions and yields", "[classifier][htautau]") {
  htautau::SimulationOptions so;
  so.seed = 11;
  so.events = 1500000;
  so.quiet = true;
  EventSet ev = htautau::simulate_in_memory(so);
  EventMeta meta = htautau::event_meta(so, false);
  ClassifierData data{ev.features, ev.process.to(torch::kLong), ev.weights, meta.process_names};
  torch::manual_seed(5);
  MultiClassifier clf(MultiClassifierOptions(28, 4).n_indicators(count_indicator_columns(data.x)));
  ClassifierTrainResult r = train_classifier(clf, data, quick_options(8, 200, 1024));
  INFO("ECE validation " << r.validation_before.ece << " -> " << r.validation_after.ece << ", test "
                         << r.test_before.ece << " -> " << r.test_after.ece << " (floor " << r.test_ece_floor << ")");
  // On the held-out calibration events (the spec's figure).
  REQUIRE(r.validation_after.ece < 0.005);
  REQUIRE(r.validation_after.ece < r.validation_before.ece);
  // On events used for nothing: within twice the ECE that sampling noise
  // alone gives an exactly calibrated model on this many events.
  REQUIRE(r.test_after.ece < 2.0 * r.test_ece_floor);

  torch::NoGradGuard guard;
  clf->eval();
  torch::Tensor f = clf->fractions(data.x);
  REQUIRE((f.sum(1) - 1.0).abs().max().item<double>() < 1e-12);
  // Yields: sum_j w_j f_p(x_j) against each process's yield. The staged
  // calibration of the fractions keeps them on its own events (measured
  // <= 0.8%). Over a sample the difference sum_j w_j (f_p(x_j) - 1[y_j = p])
  // has mean zero for exact fractions and variance sum_j w_j^2 f_p (1 - f_p):
  // for the signal among 10^5 Z events of weight ~0.85 that is ~4% of the
  // signal yield at this sample size, so the bound is 3 of those standard
  // deviations (docs/classifier.md).
  const DataSplit split = split_by_hash(data.x.size(0), 0.2, 0.2);
  auto closure = [&](const torch::Tensor& rows, int64_t p, double* sd) {
    torch::Tensor w = data.w.index_select(0, rows), y = data.y.index_select(0, rows);
    torch::Tensor fp = f.index_select(0, rows).select(1, p);
    const double yield = (w * (y == p).to(torch::kFloat64)).sum().item<double>();
    if (sd) *sd = (w * w * fp * (1 - fp)).sum().sqrt().item<double>() / yield;
    return (w * fp).sum().item<double>() / yield - 1.0;
  };
  torch::Tensor all = torch::arange(data.x.size(0));
  for (int64_t p = 0; p < 4; ++p) {
    double sd = 0;
    const double on_all = closure(all, p, &sd);
    INFO(meta.process_names[p] << ": calibration events " << closure(split.validation, p, nullptr)
                               << ", all events " << on_all << " +- " << sd);
    REQUIRE(std::abs(closure(split.validation, p, nullptr)) < 0.01);
    REQUIRE(std::abs(on_all) < 3.0 * sd);
    REQUIRE(sd < 0.05);  // the bound means something
  }
}

TEST_CASE("Classifier export: TorchScript in C++ and Python gives the module's numbers", "[classifier][export]") {
  TempDir tmp("classifier_export");
  GaussianClasses toy;
  torch::manual_seed(8);
  MultiClassifier clf(MultiClassifierOptions(2, 3).hidden({16, 16}).activation("tanh"));
  train_classifier(clf, toy.sample(4, 0.2), quick_options(2, 20, 256));
  REQUIRE(clf->calibration->fitted());
  torch::jit::Module ts = classifier_to_torchscript(clf);
  nlohmann::json meta = {{"kind", "classifier"}, {"feature_names", {"x0", "x1"}}, {"process_names", {"a", "b", "c"}}};
  save_torchscript(ts, meta, tmp.path("clf.pt"));
  // The same model saved twice gives the same bytes (the archive's inner
  // folder is not named after a temporary file).
  save_torchscript(ts, meta, tmp.path("clf_again.pt"));
  REQUIRE(refinery::testing::read_file(tmp.path("clf.pt")) == refinery::testing::read_file(tmp.path("clf_again.pt")));
  ClassifierArchive archive(tmp.path("clf.pt"));
  torch::Tensor x = toy.sample(6, 0.05).x;
  torch::NoGradGuard guard;
  clf->eval();
  torch::Tensor g = clf->probabilities(x), f = clf->fractions(x);
  REQUIRE(torch::allclose(ts.forward({x}).toTensor(), g, 0, 1e-6));
  REQUIRE(torch::allclose(archive.probabilities(x), g, 0, 1e-6));
  // The fractions are double, but computed from float32 probabilities whose
  // TorchScript and eager evaluations may round differently (6e-7 seen on an
  // AMD EPYC): the probabilities' tolerance applies.
  INFO("largest fraction difference " << (archive.fractions(x) - f).abs().max().item<double>());
  REQUIRE(torch::allclose(archive.fractions(x), f, 0, 1e-6));
  // The probabilities from the fractions, without the network's second
  // pass: the archive's own forward() to the bit.
  REQUIRE(torch::equal(archive.probabilities(x, archive.fractions(x)), archive.probabilities(x)));
  // Python: torch.jit.load on the same inputs, passed as text.
  std::ofstream xs(tmp.path("x.txt"));
  auto a = x.accessor<float, 2>();
  for (int64_t i = 0; i < x.size(0); ++i) xs << std::setprecision(9) << a[i][0] << " " << a[i][1] << "\n";
  xs.close();
  std::ofstream(tmp.path("check.py")) << "import sys, torch\n"
      "m = torch.jit.load(sys.argv[1])\n"
      "x = torch.tensor([[float(v) for v in l.split()] for l in open(sys.argv[2])], dtype=torch.float32)\n"
      "for row in m(x).tolist(): print(' '.join('%.9g' % v for v in row))\n";
  auto r = refinery::testing::run_command(std::string(refinery::testing::debian_python()) + " " + tmp.path("check.py") +
                                          " " + tmp.path("clf.pt") + " " + tmp.path("x.txt"));
  INFO(r.output.substr(0, 400));
  REQUIRE(r.exit_code == 0);
  std::stringstream ss(r.output);
  double max_diff = 0;
  for (int64_t i = 0; i < x.size(0); ++i)
    for (int c = 0; c < 3; ++c) {
      double v;
      ss >> v;
      max_diff = std::max(max_diff, std::abs(v - g[i][c].item<double>()));
    }
  REQUIRE(max_diff < 1e-6);

  // Bad input to the archive.
  torch::Tensor bad = x.clone();
  bad[3][1] = NAN;
  REQUIRE_THROWS_WITH(archive.probabilities(bad), tmp.path("clf.pt") + ": input: non-finite feature value in event 3");
  std::ofstream(tmp.path("junk.pt")) << "not a model";
  REQUIRE_THROWS_WITH(ClassifierArchive(tmp.path("junk.pt")), tmp.path("junk.pt") + ": not a TorchScript archive");
  REQUIRE_THROWS_WITH(ClassifierArchive(tmp.path("missing.pt")), tmp.path("missing.pt") + ": no such file");
  save_torchscript(ts, {{"kind", "dcr"}}, tmp.path("dcr.pt"));
  REQUIRE_THROWS_WITH(ClassifierArchive(tmp.path("dcr.pt")),
                      tmp.path("dcr.pt") + ": metadata.json: kind: not a classifier archive (kind 'dcr')");
}

TEST_CASE("Classifier training: resume after an interruption ends with the same weights", "[classifier][resume]") {
  TempDir tmp("classifier_resume");
  GaussianClasses toy;
  ClassifierData data = toy.sample(9, 0.2);
  auto run = [&](const std::string& ckpt, int interrupt, bool resume) {
    torch::manual_seed(2);
    MultiClassifier clf(MultiClassifierOptions(2, 3).hidden({16}));
    ClassifierTrainOptions o = quick_options(4, 15, 256);
    o.train.checkpoint = ckpt;
    o.train.interrupt_after = interrupt;
    o.train.resume = resume;
    ClassifierTrainResult r = train_classifier(clf, data, o);
    return std::make_pair(clf, r);
  };
  auto [full, full_r] = run(tmp.path("a.ckpt"), 0, false);
  auto [part, part_r] = run(tmp.path("b.ckpt"), 2, false);
  REQUIRE(part_r.report.interrupted);
  auto [resumed, resumed_r] = run(tmp.path("b.ckpt"), 0, true);
  REQUIRE(resumed_r.report.epochs.size() == 4);
  // The resumed report counts the interrupted run's samples and time too.
  REQUIRE(resumed_r.report.samples == full_r.report.samples);
  REQUIRE(resumed_r.report.seconds >= part_r.report.seconds);
  auto pa = full->parameters(), pb = resumed->parameters();
  for (size_t i = 0; i < pa.size(); ++i) REQUIRE(torch::equal(pa[i], pb[i]));
  auto ba = full->buffers(), bb = resumed->buffers();
  REQUIRE(ba.size() == bb.size());
  for (size_t i = 0; i < ba.size(); ++i) REQUIRE(torch::equal(ba[i], bb[i]));
}

TEST_CASE("Classifier ensemble: one network whose logits are the members' mean", "[classifier][ensemble]") {
  GaussianClasses toy;
  ClassifierData data = toy.sample(4, 0.05);
  std::vector<MultiClassifier> members;
  for (int m = 0; m < 3; ++m) {
    torch::manual_seed(10 + m);
    MultiClassifier c(MultiClassifierOptions(2, 3).hidden({8, 6}).activation("tanh"));
    torch::NoGradGuard g;
    c->preprocess->fit(data.x, data.w);
    c->process_fractions->set_yields({1.0, 3.0, 0.5});
    members.push_back(c);
  }
  MultiClassifier merged = merge_classifier_ensemble(members);
  REQUIRE(merged->options.hidden() == std::vector<int64_t>{24, 18});
  REQUIRE_FALSE(merged->calibration->fitted());
  torch::NoGradGuard g;
  torch::Tensor mean_logits = torch::zeros({data.x.size(0), 3});
  torch::Tensor log_p = torch::zeros({data.x.size(0), 3}, torch::kFloat64);
  for (auto& m : members) {
    mean_logits += m->forward(data.x) / 3.0;
    log_p += torch::log_softmax(m->forward(data.x).to(torch::kFloat64), 1) / 3.0;
  }
  REQUIRE(torch::allclose(merged->forward(data.x), mean_logits, 1e-5, 1e-6));
  // The probabilities are the members' normalised geometric mean.
  REQUIRE(torch::allclose(merged->raw_probabilities(data.x).to(torch::kFloat64), torch::softmax(log_p, 1), 1e-5, 1e-6));
  REQUIRE(merged->process_fractions->yields() == members[0]->process_fractions->yields());
  // An ensemble of one is its member.
  REQUIRE(torch::allclose(merge_classifier_ensemble({members[1]})->forward(data.x), members[1]->forward(data.x), 1e-6, 1e-7));
  // Members that do not fit together.
  MultiClassifier wider(MultiClassifierOptions(2, 3).hidden({9, 6}).activation("tanh"));
  wider->preprocess->copy_from(*members[0]->preprocess);
  REQUIRE_THROWS_AS(merge_classifier_ensemble({members[0], wider}), std::invalid_argument);
  MultiClassifier unfitted(MultiClassifierOptions(2, 3).hidden({8, 6}).activation("tanh"));
  REQUIRE_THROWS_AS(merge_classifier_ensemble({members[0], unfitted}), std::invalid_argument);
  MultiClassifier other_yields(MultiClassifierOptions(2, 3).hidden({8, 6}).activation("tanh"));
  other_yields->preprocess->copy_from(*members[0]->preprocess);
  other_yields->process_fractions->set_yields({1.0, 3.0, 0.6});
  REQUIRE_THROWS_AS(merge_classifier_ensemble({members[0], other_yields}), std::invalid_argument);
  REQUIRE_THROWS_AS(merge_classifier_ensemble({}), std::invalid_argument);
}

TEST_CASE("Classifier ensemble on Gaussian classes: the members' mean, nearer the exact posterior than they are",
          "[classifier][ensemble]") {
  // Short trainings on few events: each network's draw (its initial weights
  // and mini-batches) is a sizeable part of its error, which the ensemble's
  // mean removes. Each member is also trained alone from its seed: the
  // ensemble is their logits' mean, and its reported spread theirs.
  GaussianClasses toy;
  const uint64_t seed = 21;
  const ClassifierData data = toy.sample(seed, 0.1);
  const ClassifierData test = toy.sample(seed + 1000, 0.5);
  const int M = 4;
  auto run = [&](int members, uint64_t train_seed) {
    torch::manual_seed(train_seed);
    MultiClassifier clf(MultiClassifierOptions(2, 3).hidden({32, 32}));
    ClassifierTrainOptions o = quick_options(4, 40, 128);
    o.train.learning_rate = 1e-2;
    o.train.seed = train_seed;
    o.members = members;
    ClassifierTrainResult r = train_classifier(clf, data, o);
    return std::make_pair(clf, r);
  };
  auto [ensemble, ensemble_r] = run(M, 5);
  REQUIRE(ensemble->options.hidden() == std::vector<int64_t>{32 * M, 32 * M});
  REQUIRE(ensemble_r.ensemble.members == M);
  REQUIRE(ensemble_r.ensemble.seeds.size() == size_t(M));
  REQUIRE(ensemble_r.ensemble.seeds[0] == 5);  // member 0: the training's seed
  std::vector<MultiClassifier> alone;
  for (int m = 0; m < M; ++m) {
    auto [clf, r] = run(1, ensemble_r.ensemble.seeds[m]);
    REQUIRE(r.report.best_val_loss == ensemble_r.ensemble.member_validation_loss[m]);
    alone.push_back(clf);
  }
  torch::NoGradGuard guard;
  ensemble->eval();
  torch::Tensor mean_logits = torch::zeros({test.x.size(0), 3});
  for (auto& a : alone) a->eval(), mean_logits += a->forward(test.x) / double(M);
  REQUIRE(torch::allclose(ensemble->forward(test.x), mean_logits, 1e-4, 1e-5));
  // The cross entropy is convex in the logits: the merged network's
  // validation loss is at most the members' mean.
  double mean_loss = 0;
  for (double v : ensemble_r.ensemble.member_validation_loss) mean_loss += v / M;
  INFO("validation loss: ensemble " << ensemble_r.ensemble.validation_loss << ", members' mean " << mean_loss);
  REQUIRE(ensemble_r.ensemble.validation_loss <= mean_loss);
  // The reported spread: the members' sd of the raw fractions per event on
  // the training's test events, rms with the simulation weights.
  const torch::Tensor idx = split_by_hash(data.x.size(0), 0.2, 0.2).test;
  const torch::Tensor xs = data.x.index_select(0, idx), ws = data.w.index_select(0, idx);
  std::vector<torch::Tensor> fs;
  for (auto& a : alone) fs.push_back(a->raw_fractions(xs));
  const torch::Tensor sd = (torch::stack(fs).std(0).pow(2) * ws.unsqueeze(1)).sum(0).div(ws.sum()).sqrt();
  for (int p = 0; p < 3; ++p) REQUIRE(ensemble_r.ensemble.fraction_sd[p] == Approx(sd[p].item<double>()).epsilon(1e-6));
  // Nearer the exact posterior than the members on average: with a bias b
  // common to all and a draw of variance s^2 per member, the mean square
  // error is b^2 + s^2 alone and b^2 + s^2 / M in the ensemble.
  const torch::Tensor exact = toy.physical_posterior(test.x);
  auto mse = [&](const torch::Tensor& f) { return (f - exact).pow(2).mean().item<double>(); };
  double members_mse = 0;
  for (auto& a : alone) members_mse += mse(a->raw_fractions(test.x)) / M;
  const double ensemble_mse = mse(ensemble->raw_fractions(test.x));
  INFO("rms error of the raw fractions: members " << std::sqrt(members_mse) << ", ensemble " << std::sqrt(ensemble_mse)
                                                  << "; calibrated: ensemble " << std::sqrt(mse(ensemble->fractions(test.x))));
  // The ratio over nine samples of events (this one 0.39): 0.32 to 0.62.
  REQUIRE(ensemble_mse < 0.75 * members_mse);
}

TEST_CASE("Classifier ensemble: an interrupted training resumes member by member to the same network",
          "[classifier][ensemble][resume]") {
  TempDir tmp("classifier_ensemble_resume");
  GaussianClasses toy;
  ClassifierData data = toy.sample(9, 0.2);
  auto run = [&](const std::string& ckpt, int interrupt, bool resume) {
    torch::manual_seed(2);
    MultiClassifier clf(MultiClassifierOptions(2, 3).hidden({16}));
    ClassifierTrainOptions o = quick_options(3, 10, 256);
    o.members = 2;
    o.train.checkpoint = ckpt;
    o.train.interrupt_after = interrupt;
    o.train.resume = resume;
    ClassifierTrainResult r = train_classifier(clf, data, o);
    return std::make_pair(clf, r);
  };
  auto [full, full_r] = run(tmp.path("a.ckpt"), 0, false);
  // Killed in member 0's second epoch; then in member 1's (member 0
  // finished); then to the end (member 0 from its finished checkpoint).
  REQUIRE(run(tmp.path("b.ckpt"), 2, false).second.report.interrupted);
  REQUIRE_FALSE(refinery::testing::file_exists(tmp.path("b.ckpt.1")));
  REQUIRE(run(tmp.path("b.ckpt"), 2, true).second.report.interrupted);
  REQUIRE(refinery::testing::file_exists(tmp.path("b.ckpt.1")));
  auto [resumed, resumed_r] = run(tmp.path("b.ckpt"), 0, true);
  REQUIRE_FALSE(resumed_r.report.interrupted);
  REQUIRE(resumed_r.ensemble.seeds == full_r.ensemble.seeds);
  REQUIRE(resumed_r.ensemble.member_validation_loss == full_r.ensemble.member_validation_loss);
  auto pa = full->parameters(), pb = resumed->parameters();
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i) REQUIRE(torch::equal(pa[i], pb[i]));
  auto ba = full->buffers(), bb = resumed->buffers();
  for (size_t i = 0; i < ba.size(); ++i) REQUIRE(torch::equal(ba[i], bb[i]));
}

TEST_CASE("Training loop: a resumed training that had stopped early trains no further", "[trainer][resume]") {
  // A scripted validation loss: best at the first epoch, then worse, so that
  // patience 2 stops after the third; a resumed run would otherwise train a
  // fourth epoch whose (scripted) loss is the best of all.
  TempDir tmp("trainer_early_stop");
  auto run = [&](bool resume) {
    torch::manual_seed(1);
    torch::nn::Linear module(2, 1);
    std::vector<double> losses{1.0, 2.0, 3.0, 0.5, 0.4, 0.3};
    size_t calls = 0;
    TrainingProblem problem;
    problem.samples_per_step = 1;
    problem.batch_loss = [&](RandomStream&) { return module->forward(torch::ones({1, 2})).pow(2).sum(); };
    problem.validation_loss = [&]() { return losses[std::min(calls++, losses.size() - 1)]; };
    TrainOptions o;
    o.epochs = 6;
    o.steps_per_epoch = 2;
    o.patience = 2;
    o.quiet = true;
    o.checkpoint = tmp.path("t.ckpt");
    o.resume = resume;
    TrainReport r = train(*module, problem, o);
    return std::make_tuple(r, calls, module->weight.clone());
  };
  auto [first, first_calls, first_weight] = run(false);
  REQUIRE(first.epochs.size() == 3);
  REQUIRE(first.best_epoch == 0);
  REQUIRE(first_calls == 3);
  auto [again, again_calls, again_weight] = run(true);
  REQUIRE(again_calls == 0);
  REQUIRE(again.epochs.size() == 3);
  REQUIRE(again.best_epoch == 0);
  REQUIRE(again.stop_reason == first.stop_reason);
  REQUIRE(torch::equal(again_weight, first_weight));
}

TEST_CASE("Classifier CLI: train, eval, and bad input", "[classifier][cli]") {
  TempDir tmp("classifier_cli");
  auto sim = run_refinery("simulate htautau --quiet --events 60000 --seed 3 --out " + tmp.path("ev.h5"));
  REQUIRE(sim.exit_code == 0);
  auto train = run_refinery("train classifier --quiet --events " + tmp.path("ev.h5") + " --epochs 2 --steps 10 --out " +
                            tmp.path("clf.pt"));
  INFO(train.output);
  REQUIRE(train.exit_code == 0);
  auto report = nlohmann::json::parse(refinery::testing::read_file(tmp.path("clf.pt.json")));
  REQUIRE(report["calibration"]["test_after"]["classes"].size() == 4);
  REQUIRE_FALSE(refinery::testing::file_exists(tmp.path("clf.pt.ckpt")));  // served its purpose
  // Its figures: reliability per class before and after calibration, the loss curves.
  for (const char* kind : {"reliability", "training"}) {
    auto fig = run_refinery(std::string("plot ") + kind + " " + tmp.path("clf.pt.json") + " --out " +
                            tmp.path(std::string(kind) + ".png"));
    INFO(fig.output);
    REQUIRE(fig.exit_code == 0);
    const auto side = nlohmann::json::parse(refinery::testing::read_file(tmp.path(std::string(kind) + ".png.series.json")));
    if (std::string(kind) == "reliability") {
      REQUIRE(side["series"].size() == 8);  // 4 classes, before and after
      for (const auto& sr : side["series"]) {
        const std::string name = sr["name"].get<std::string>();
        const std::string cls = name.substr(name.find('/') + 1), when = name.rfind("after", 0) == 0 ? "test_after" : "test_before";
        int filled = 0;
        for (const auto& b : report["calibration"][when]["classes"][cls]["bins"]) filled += b["weight_fraction"].get<double>() > 0;
        CHECK(sr["n"] == filled);
      }
    } else {
      CHECK(side["series"][0]["n"] == report["training"]["epochs"].size());
    }
  }
  auto eval = run_refinery("eval classifier --quiet --model " + tmp.path("clf.pt") + " --events " + tmp.path("ev.h5") +
                           " --out " + tmp.path("scores.h5"));
  REQUIRE(eval.exit_code == 0);
  // The scores file read back with h5py: probabilities sum to one.
  auto py = refinery::testing::run_command(std::string(refinery::testing::debian_python()) +
                                           " -c \"import h5py; f = h5py.File('" + tmp.path("scores.h5") +
                                           "'); p = f['probabilities'][:]; print(p.shape[1], abs(p.sum(1) - 1).max() < 1e-5)\"");
  REQUIRE(py.output == "4 True\n");
  // A training option out of range names the flag the user gave.
  auto zero = run_refinery("train classifier --quiet --events " + tmp.path("ev.h5") + " --epochs 0 --out " + tmp.path("z.pt"));
  REQUIRE(zero.exit_code == 2);
  REQUIRE(zero.output == "refinery train: error: --epochs: must be >= 1, got 0\n");
  REQUIRE_FALSE(report["training"].contains("average_steps"));
  // A running average of the weights (trainer.h): recorded in the report; a negative one refused.
  auto averaged = run_refinery("train classifier --quiet --events " + tmp.path("ev.h5") +
                               " --epochs 2 --steps 10 --average-steps 5 --out " + tmp.path("avg.pt"));
  INFO(averaged.output);
  REQUIRE(averaged.exit_code == 0);
  REQUIRE(nlohmann::json::parse(refinery::testing::read_file(tmp.path("avg.pt.json")))["training"]["average_steps"] == 5);
  // An ensemble: one archive, the members' seeds and spread in the report, no checkpoints left.
  auto ensemble = run_refinery("train classifier --quiet --events " + tmp.path("ev.h5") +
                               " --epochs 2 --steps 10 --hidden 16 --ensemble 3 --out " + tmp.path("ens.pt"));
  INFO(ensemble.output);
  REQUIRE(ensemble.exit_code == 0);
  const auto ens = nlohmann::json::parse(refinery::testing::read_file(tmp.path("ens.pt.json")));
  REQUIRE(ens["ensemble"]["members"] == 3);
  REQUIRE(ens["ensemble"]["seeds"].size() == 3);
  REQUIRE(ens["ensemble"]["seeds"][1] != ens["ensemble"]["seeds"][2]);
  REQUIRE(ens["ensemble"]["fraction_sd"].size() == 4);
  for (const auto& [process, sd] : ens["ensemble"]["fraction_sd"].items()) {
    INFO(process);
    REQUIRE(sd.get<double>() > 0.0);
    REQUIRE(sd.get<double>() < 0.5);
  }
  for (const char* suffix : {".ckpt", ".ckpt.1", ".ckpt.2"}) REQUIRE_FALSE(refinery::testing::file_exists(tmp.path("ens.pt") + suffix));
  {
    ClassifierArchive archive(tmp.path("ens.pt"));
    REQUIRE(archive.metadata()["ensemble"] == 3);
    REQUIRE(archive.metadata()["hidden"] == nlohmann::json::array({16}));
    torch::Tensor p = archive.probabilities(torch::ones({2, int64_t(archive.feature_names().size())}));
    REQUIRE(p.size(1) == 4);
  }
  for (const std::string bad : {"--ensemble 0", "--ensemble 33", "--ensemble 2 --stream"}) {
    auto refused = run_refinery("train classifier --quiet --events " + tmp.path("ev.h5") + " " + bad + " --out " + tmp.path("e2.pt"));
    INFO(bad << ": " << refused.output);
    REQUIRE(refused.exit_code == 2);
    REQUIRE(refused.output.rfind("refinery train: error: --ensemble: ", 0) == 0);
    REQUIRE(std::count(refused.output.begin(), refused.output.end(), '\n') == 1);
  }
  {
    // classifier.events picks the training file in the output directory
    // (a sample of its own, simulation.classifier_events); a missing one is
    // named with the key, before anything is trained.
    std::filesystem::create_directories(tmp.path("run"));
    std::ofstream(tmp.path("own.json")) << R"({"name": "t", "seed": 3, "output_dir": ")" << tmp.path("run")
                                        << R"(", "classifier": {"events": "classifier.h5", "epochs": 1, "steps_per_epoch": 5}})";
    auto missing = run_refinery("train classifier --quiet --config " + tmp.path("own.json"));
    REQUIRE(missing.exit_code == 2);
    REQUIRE(missing.output == "refinery train: error: " + tmp.path("own.json") + ": classifier.events: no file " +
                                  tmp.path("run/classifier.h5") + " (simulate it first: refinery simulate --config ...)\n");
    REQUIRE_FALSE(refinery::testing::file_exists(tmp.path("run/classifier.pt")));
    std::filesystem::copy_file(tmp.path("ev.h5"), tmp.path("run/classifier.h5"));
    auto own = run_refinery("train classifier --quiet --config " + tmp.path("own.json"));
    INFO(own.output);
    REQUIRE(own.exit_code == 0);
    REQUIRE(nlohmann::json::parse(refinery::testing::read_file(tmp.path("run/classifier.pt.json")))["events"] ==
            tmp.path("run/classifier.h5"));
    std::ofstream(tmp.path("empty.json")) << R"({"name": "t", "output_dir": ")" << tmp.path("run") << R"(", "classifier": {"events": ""}})";
    auto empty = run_refinery("train classifier --quiet --config " + tmp.path("empty.json"));
    REQUIRE(empty.exit_code == 2);
    REQUIRE(empty.output.find(tmp.path("empty.json") + ": classifier.events: an empty file name") != std::string::npos);
  }
  auto negative = run_refinery("train classifier --quiet --events " + tmp.path("ev.h5") + " --average-steps -1 --out " +
                               tmp.path("n.pt"));
  REQUIRE(negative.exit_code == 2);
  REQUIRE(negative.output == "refinery train: error: --average-steps: must be >= 0 (0: no running average), got -1\n");
  // An event file with other features than the model's.
  REQUIRE(run_refinery("simulate inferno --quiet --events 1000 --out " + tmp.path("inferno.h5")).exit_code == 0);
  auto wrong = run_refinery("eval classifier --quiet --model " + tmp.path("clf.pt") + " --events " +
                            tmp.path("inferno.h5") + " --out " + tmp.path("s2.h5"));
  REQUIRE(wrong.exit_code == 2);
  INFO(wrong.output);
  REQUIRE(wrong.output == "refinery eval: error: " + tmp.path("inferno.h5") +
                              ": attribute feature_names: feature 0 is 'x0', the model expects 'PRI_lep_pt' (model " +
                              tmp.path("clf.pt") + ")\n");
  REQUIRE(!refinery::testing::file_exists(tmp.path("s2.h5")));
  auto not_model = run_refinery("eval classifier --quiet --model " + tmp.path("ev.h5") + " --events " +
                                tmp.path("ev.h5") + " --out " + tmp.path("s3.h5"));
  REQUIRE(not_model.exit_code == 2);
  REQUIRE(not_model.output == "refinery eval: error: " + tmp.path("ev.h5") + ": not a TorchScript archive\n");
  auto bad_what = run_refinery("train classifer --quiet");
  REQUIRE(bad_what.exit_code == 2);
  REQUIRE(bad_what.output == "refinery train: error: WHAT: train what? 'classifier', 'dcr', 'sannt', 'ratio' or 'sally', got 'classifer'\n");
}
