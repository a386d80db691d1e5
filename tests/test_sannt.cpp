// SANNT: the template likelihood's Fisher information against closed form,
// the network gradient through histogram and Hessian, the INFERNO analytic
// row, SANNT against cross entropy on INFERNO benchmark 2, and bad input.
#include "testing.hpp"

#include <cmath>

#include "data/analytic/inferno.h"
#include "data/random.h"
#include "src/stats/fit.h"
#include "src/stats/hypotest.h"
#include "src/stats/template_model.h"
#include "src/core/error.h"
#include "src/histfactory/hf_model.h"
#include "src/histfactory/workspace.h"
#include "src/likelihood/template_model.h"
#include "src/likelihood/template_workspace.h"
#include "train/sannt_analysis.h"
#include "train/sannt_inferno.h"
#include "train/sannt_training.h"

using namespace refinery;

TEST_CASE("Template likelihood: Asimov Fisher information and sigma(mu) in closed form", "[sannt]") {
  // Two bins, signal S, background B, one shape nuisance on the background
  // with asymmetric up/down templates, constrained N(0, 0.5).
  const double S[2] = {10.0, 40.0}, B[2] = {200.0, 60.0}, U[2] = {212.0, 57.0}, D[2] = {191.0, 64.0};
  TemplateModelOptions o;
  o.processes = {"s", "b"};
  o.pois = {{"mu", {0}}};
  o.shapes = {{"alpha", 0.5}};
  o.empty_bin_floor = 0.0;
  BinnedTemplateModel model(o);
  torch::Tensor nominal = torch::tensor({{S[0], S[1]}, {B[0], B[1]}}, torch::kFloat64);
  torch::Tensor up = torch::tensor({{{S[0], S[1]}, {U[0], U[1]}}}, torch::kFloat64);
  torch::Tensor down = torch::tensor({{{S[0], S[1]}, {D[0], D[1]}}}, torch::kFloat64);
  // Closed form: at the Asimov point F_ij = sum_b J_bi J_bj / lambda_b (+ 1/0.5^2),
  // J_b = (S_b, (U_b - D_b)/2): code4p's slope at 0 is the mean of the two deltas.
  double F[2][2] = {{0, 0}, {0, 4.0}};
  for (int b = 0; b < 2; ++b) {
    const double lam = S[b] + B[b], j[2] = {S[b], 0.5 * (U[b] - D[b])};
    for (int i = 0; i < 2; ++i)
      for (int k = 0; k < 2; ++k) F[i][k] += j[i] * j[k] / lam;
  }
  const double det = F[0][0] * F[1][1] - F[0][1] * F[1][0];
  const double sigma = std::sqrt(F[1][1] / det), sigma_stat = std::sqrt(1.0 / F[0][0]);
  torch::Tensor fisher = stats::TemplateModel(model, nominal, up, down).asimov_fisher();
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 2; ++k) REQUIRE(fisher[i][k].item<double>() == Approx(F[i][k]).epsilon(1e-12));
  REQUIRE(stats::TemplateModel(model, nominal, up, down).poi_uncertainties().item<double>() == Approx(sigma).epsilon(1e-8));
  REQUIRE(stats::TemplateModel(model, nominal, up, down).poi_uncertainties(true).item<double>() == Approx(sigma_stat).epsilon(1e-8));
  // Linearised impacts: C = F^-1, pre-fit C_01 / C_11, post-fit C_01 / sqrt(C_11).
  const double C01 = -F[0][1] / det, C11 = F[0][0] / det;
  auto impacts = stats::TemplateModel(model, nominal, up, down).impacts();
  REQUIRE(impacts.size() == 1);
  REQUIRE(impacts[0].prefit == Approx(C01 / C11).epsilon(1e-9));
  REQUIRE(impacts[0].postfit == Approx(C01 / std::sqrt(C11)).epsilon(1e-9));
  REQUIRE(impacts[0].postfit_error == Approx(std::sqrt(C11)).epsilon(1e-9));
  // A free nuisance (no penalty) and a linear normalisation: F_bb term from
  // d lambda / d theta_n = 0.1 B.
  o.shapes[0].constraint = 0.0;
  o.norms = {{"bnorm", {1}, 0.1, true, 1.0}};
  BinnedTemplateModel model2(o);
  torch::Tensor f2 = stats::TemplateModel(model2, nominal, up, down).asimov_fisher();
  double fnn = 1.0;
  for (int b = 0; b < 2; ++b) fnn += std::pow(0.1 * B[b], 2) / (S[b] + B[b]);
  REQUIRE(f2[2][2].item<double>() == Approx(fnn).epsilon(1e-12));
  REQUIRE(f2[1][1].item<double>() == Approx(F[1][1] - 4.0).epsilon(1e-12));
}

namespace {

// Every row of every sample (the index sets sannt_templates takes).
std::vector<torch::Tensor> all_rows(const SanntData& data) {
  std::vector<torch::Tensor> all;
  for (const auto& s : data.samples) all.push_back(torch::arange(s.x.size(0)));
  return all;
}

// INFERNO benchmark 3 (400 signal, 800 background events) in float64 with a
// small two-class network seeded by `seed`: the loss-gradient tests' setup.
struct SmallSannt {
  SanntProblem prob = inferno_sannt_problem(3, 400, 800, 5);
  MultiClassifier net{nullptr};
  SanntOptions o;
  std::vector<torch::Tensor> all;
  explicit SmallSannt(uint64_t seed) {
    torch::manual_seed(seed);
    net = MultiClassifier(MultiClassifierOptions(3, 2).hidden({8}));
    net->to(torch::kFloat64);
    for (auto& s : prob.data.samples) s.x = s.x.to(torch::kFloat64);
    o.bins = 5;
    all = all_rows(prob.data);
  }
};

}  // namespace

TEST_CASE("SANNT loss: network gradient through histogram and Hessian matches finite differences", "[sannt]") {
  SmallSannt setup(1);
  SanntProblem& prob = setup.prob;
  MultiClassifier& net = setup.net;
  const SanntOptions& o = setup.o;
  const std::vector<torch::Tensor>& all = setup.all;
  BinnedTemplateModel model(prob.model);
  // The surrogate templates make the whole loss smooth: autograd through the
  // custom histogram backward and the double-backward Hessian against finite
  // differences on one weight.
  auto loss = [&]() {
    Templates t = sannt_templates(net, prob.data, model, all, o, /*surrogate=*/true);
    return stats::TemplateModel(model, t.nominal, t.up, t.down).poi_uncertainties().sum();
  };
  torch::Tensor weight = net->net->layers[0]->weight;
  torch::Tensor l = loss();
  torch::Tensor g = torch::autograd::grad({l}, {weight})[0];
  // The exact-count histogram passes the same surrogate derivative backward.
  auto exact_loss = [&]() {
    Templates t = sannt_templates(net, prob.data, model, all, o, false);
    return stats::TemplateModel(model, t.nominal, t.up, t.down).poi_uncertainties().sum();
  };
  torch::Tensor g_exact = torch::autograd::grad({exact_loss()}, {weight})[0];
  REQUIRE(g_exact.abs().sum().item<double>() > 0);
  const double eps = 1e-6;
  for (int64_t j : {0, 5, 13}) {
    torch::NoGradGuard guard;
    const int64_t r = j / 3, c = j % 3;
    const double w0 = weight[r][c].item<double>();
    weight[r][c] = w0 + eps;
    const double up = loss().item<double>();
    weight[r][c] = w0 - eps;
    const double down = loss().item<double>();
    weight[r][c] = w0;
    INFO("weight " << r << "," << c);
    REQUIRE(g[r][c].item<double>() == Approx((up - down) / (2 * eps)).epsilon(1e-5).margin(1e-9));
  }
}

TEST_CASE("INFERNO analytic likelihood reproduces the paper's row", "[sannt][inferno]") {
  torch::Generator gen = make_generator(17);
  const analytic::InfernoParameters p;
  EventSet e = analytic::inferno_sample(200000, 2000000, p, gen);
  torch::Tensor F = analytic::inferno_fisher(e.features, e.weights, p);
  // de Castro & Dorigo (arXiv:1806.04743), table: analytic likelihood.
  const double paper[5] = {14.71, 15.52, 15.65, 15.62, 16.89};
  for (int bm = 0; bm < 5; ++bm) {
    INFO("benchmark " << bm);
    REQUIRE(analytic::inferno_sigma_s(F, bm) == Approx(paper[bm]).epsilon(0.005));
  }
}

TEST_CASE("SANNT beats cross entropy on INFERNO benchmark 2 (CI budget)", "[sannt][inferno]") {
  SanntProblem train_p = inferno_sannt_problem(2, 10000, 10000, 21);
  SanntProblem test_p = inferno_sannt_problem(2, 50000, 50000, 22);
  BinnedTemplateModel model(train_p.model);
  // Cross entropy: a two-class network, its signal probability in 10 bins.
  SanntOptions ce;
  ce.pretrain.epochs = 6;
  ce.pretrain.steps_per_epoch = 100;
  ce.pretrain.learning_rate = 3e-3;
  ce.pretrain.quiet = true;
  ce.train.epochs = 0;
  torch::manual_seed(3);
  MultiClassifier ce_net(MultiClassifierOptions(3, 2).hidden({64, 64}));
  train_sannt(ce_net, train_p.data, model, ce);
  const double sigma_ce = 50 * sannt_sigma(ce_net, test_p.data, model, ce).first;
  // SANNT: 10 outputs as the bins.
  SanntOptions o;
  o.summary = SanntSummary::kSoftmaxBins;
  o.pretrain.epochs = 0;
  o.train.epochs = 10;
  o.train.steps_per_epoch = 10;
  o.train.learning_rate = 1e-2;
  o.train.patience = 0;
  o.train.quiet = true;
  MultiClassifier net(MultiClassifierOptions(3, 10).hidden({64, 64}));
  train_sannt(net, train_p.data, model, o);
  const double sigma_sannt = 50 * sannt_sigma(net, test_p.data, model, o).first;
  INFO("sigma(s) on the test sample: cross entropy " << sigma_ce << ", SANNT " << sigma_sannt);
  // Paper (median of 100): cross entropy 23.94, INFERNO 16.95, analytic 15.65.
  REQUIRE(sigma_sannt < sigma_ce - 3.0);
  REQUIRE(sigma_sannt > 15.4);  // never below the analytic likelihood (minus test-sample noise)
}

TEST_CASE("SANNT bad input: empty bins guarded, missing variation, non-finite loss", "[sannt][bad-input]") {
  TemplateModelOptions o;
  o.processes = {"s", "b"};
  o.pois = {{"mu", {0}}};
  BinnedTemplateModel model(o);
  // An empty bin (no signal, no background): finite thanks to the floor.
  torch::Tensor nominal = torch::tensor({{5.0, 0.0, 3.0}, {50.0, 0.0, 10.0}}, torch::kFloat64);
  torch::Tensor none = torch::zeros({0}, torch::kFloat64);
  REQUIRE(std::isfinite(stats::TemplateModel(model, nominal, none, none).poi_uncertainties().item<double>()));
  // A nuisance whose up sample is missing (a missing down sample is mirrored).
  SanntProblem p = inferno_sannt_problem(1, 100, 100, 1);
  p.data.samples.erase(p.data.samples.begin() + 2);
  REQUIRE_THROWS_WITH(p.data.validate(BinnedTemplateModel(p.model), "inferno"),
                      "inferno: nuisance r: no up variation sample");
  // A non-finite loss stops the training, naming where, and keeps the checkpoint.
  refinery::testing::TempDir tmp("sannt_nan");
  SanntProblem q = inferno_sannt_problem(0, 500, 500, 2);
  BinnedTemplateModel m0(q.model);
  MultiClassifier net(MultiClassifierOptions(3, 2).hidden({8}));
  SanntOptions so;
  so.pretrain.epochs = 1;
  so.pretrain.steps_per_epoch = 5;
  so.pretrain.quiet = true;
  so.train.epochs = 3;
  so.train.steps_per_epoch = 2;
  so.train.quiet = true;
  so.train.learning_rate = 1e30;  // the weights blow up after the first step
  so.train.checkpoint = tmp.path("s.ckpt");
  try {
    train_sannt(net, q.data, m0, so);
    FAIL("a non-finite loss went unnoticed");
  } catch (const InputError& e) {
    INFO(e.what());
    REQUIRE(std::string(e.what()).find("non-finite loss at epoch") != std::string::npos);
  }
}

TEST_CASE("SANNT templates as a pyhf workspace: the HistFactory model gives the same sigma(mu)", "[sannt][histfactory]") {
  SanntProblem p = inferno_sannt_problem(3, 3000, 3000, 9);
  BinnedTemplateModel model(p.model);
  torch::manual_seed(2);
  MultiClassifier net(MultiClassifierOptions(3, 10).hidden({16}));
  SanntOptions o;
  o.summary = SanntSummary::kSoftmaxBins;
  const std::vector<torch::Tensor> all = all_rows(p.data);
  torch::NoGradGuard guard;
  Templates t = sannt_templates(net, p.data, model, all, o);
  const double sigma = stats::TemplateModel(model, t.nominal, t.up, t.down).poi_uncertainties().item<double>();
  nlohmann::json doc = template_workspace(model, t.nominal, t.up, t.down);
  histfactory::Workspace ws = histfactory::Workspace::from_json(doc, "sannt.json");
  histfactory::HistFactoryModel hf(ws);
  Eigen::VectorXd x = hf.init();
  Eigen::VectorXd grad;
  Eigen::MatrixXd hess;
  hf.nll(x, hf.observed(), &grad, &hess);
  const double hf_sigma = std::sqrt(hess.inverse()(hf.poi_index(), hf.poi_index()));
  INFO("template model " << sigma << ", HistFactory " << hf_sigma);
  REQUIRE(hf_sigma == Approx(sigma).epsilon(1e-9));
  REQUIRE(grad.norm() < 1e-6);  // Asimov data: the nominal point is the minimum
  // A free nuisance has no HistFactory form.
  SanntProblem free_p = inferno_sannt_problem(2, 100, 100, 1);
  BinnedTemplateModel free_model(free_p.model);
  REQUIRE_THROWS_WITH(template_workspace(free_model, t.nominal, t.up, t.down),
                      "nuisance r: HistFactory constrains every histosys by N(0, 1); this one is free");
}

TEST_CASE("htautau SANNT problem: samples, mirrored soft_met, six nuisances", "[sannt][htautau]") {
  SanntProblem p = sannt_problem(sannt_analysis("htautau", 40000, 10.0, 3, "test"));
  // An analysis no simulator provides: the flag and the names that exist.
  auto unknown = refinery::testing::run_refinery("train sannt --problem lhc --out x.json");
  REQUIRE(unknown.exit_code == 2);
  REQUIRE(unknown.output == "refinery train: error: --problem: inferno or a built-in binned analysis (htautau), got 'lhc'\n");
  BinnedTemplateModel model(p.model);
  p.data.validate(model, "htautau");
  REQUIRE(model.n_parameters() == 7);  // mu, tes, jes, soft_met, three normalisations
  // 4 processes x (nominal, tes up/down, jes up/down, soft_met up).
  REQUIRE(p.data.samples.size() == 24);
  SanntOptions o;
  MultiClassifier net(MultiClassifierOptions(28, 2).hidden({8}).n_indicators(count_indicator_columns(p.data.samples[0].x)));
  const std::vector<torch::Tensor> all = all_rows(p.data);
  torch::NoGradGuard guard;
  net->preprocess->fit(p.data.samples[1].x, p.data.samples[1].w);
  Templates t = sannt_templates(net, p.data, model, all, o);
  // soft_met (nuisance 2) has no down sample: its down template mirrors the up one.
  REQUIRE(torch::allclose(t.down[2], 2.0 * t.nominal - t.up[2], 0, 1e-9));
  // tes moves the Z yield; the POI and nuisances are all determined.
  REQUIRE(!torch::equal(t.up[0][1], t.nominal[1]));
  REQUIRE(std::isfinite(stats::TemplateModel(model, t.nominal, t.up, t.down).poi_uncertainties().item<double>()));
  // The normalisations are the simulator's (1 + a)^nu exactly (normsys code1).
  torch::Tensor x = model.nominal_parameters();
  x[6] = 0.7;  // diboson_norm
  const torch::Tensor ratio = model.expected(t.nominal, t.up, t.down, x) - model.expected(t.nominal, t.up, t.down, model.nominal_parameters());
  const double a = p.model.norms[2].size;
  REQUIRE(ratio.sum().item<double>() == Approx(t.nominal[3].sum().item<double>() * (std::pow(1.0 + a, 0.7) - 1.0)).epsilon(1e-10));
  // Exported as a workspace, the HistFactory model gives the same sigma(mu)
  // when read with the same normsys code: code1 here, and pyhf's default
  // code4 for a template model in code4.
  for (auto code : {histfactory::NormsysCode::kCode1, histfactory::NormsysCode::kCode4}) {
    TemplateModelOptions options = p.model;
    options.normsys = code;
    const BinnedTemplateModel m(options);
    const double sigma = stats::TemplateModel(m, t.nominal, t.up, t.down).poi_uncertainties().item<double>();
    histfactory::HistFactoryModel hf(histfactory::Workspace::from_json(template_workspace(m, t.nominal, t.up, t.down), "sannt.json"),
                                     "", histfactory::InterpOptions{code, histfactory::HistosysCode::kCode4p});
    Eigen::VectorXd grad;
    Eigen::MatrixXd hess;
    hf.nll(hf.init(), hf.observed(), &grad, &hess);
    const double hf_sigma = std::sqrt(hess.inverse()(hf.poi_index(), hf.poi_index()));
    INFO("normsys code " << (code == histfactory::NormsysCode::kCode1 ? 1 : 4) << ": template model " << sigma
                         << ", HistFactory " << hf_sigma);
    REQUIRE(hf_sigma == Approx(sigma).epsilon(1e-9));
  }
}

TEST_CASE("SANNT templates with a linear normalisation as a pyhf workspace: the same sigma(mu)", "[sannt][histfactory]") {
  // INFERNO benchmark 4: the background yield b is a linear (1 + a theta)
  // normalisation nuisance, exported as a symmetric histosys.
  SanntProblem p = inferno_sannt_problem(4, 2000, 2000, 5);
  REQUIRE(p.model.norms.size() == 1);
  REQUIRE(p.model.norms[0].linear);
  for (auto& s : p.model.shapes) s.constraint = 1.0;  // HistFactory constrains every histosys by N(0, 1)
  const BinnedTemplateModel model(p.model);
  torch::manual_seed(4);
  MultiClassifier net(MultiClassifierOptions(3, 6).hidden({8}));
  SanntOptions o;
  o.summary = SanntSummary::kSoftmaxBins;
  const std::vector<torch::Tensor> all = all_rows(p.data);
  torch::NoGradGuard guard;
  const Templates t = sannt_templates(net, p.data, model, all, o);
  const double sigma = stats::TemplateModel(model, t.nominal, t.up, t.down).poi_uncertainties().item<double>();
  histfactory::HistFactoryModel hf(histfactory::Workspace::from_json(template_workspace(model, t.nominal, t.up, t.down), "sannt.json"));
  Eigen::VectorXd grad;
  Eigen::MatrixXd hess;
  hf.nll(hf.init(), hf.observed(), &grad, &hess);
  const double hf_sigma = std::sqrt(hess.inverse()(hf.poi_index(), hf.poi_index()));
  INFO("template model " << sigma << ", HistFactory " << hf_sigma);
  REQUIRE(hf_sigma == Approx(sigma).epsilon(1e-9));
  REQUIRE(grad.norm() < 1e-6);
}

TEST_CASE("SANNT training: resume after an interruption ends with the same weights", "[sannt][resume]") {
  refinery::testing::TempDir tmp("sannt_resume");
  SanntProblem p = inferno_sannt_problem(1, 800, 800, 4);
  BinnedTemplateModel model(p.model);
  auto run = [&](const std::string& tag, int interrupt, bool resume) {
    torch::manual_seed(6);
    MultiClassifier net(MultiClassifierOptions(3, 2).hidden({8}));
    SanntOptions o;
    o.pretrain.epochs = 2;
    o.pretrain.steps_per_epoch = 5;
    o.pretrain.quiet = true;
    o.pretrain.checkpoint = tmp.path(tag + ".pre");
    o.pretrain.resume = resume;
    o.train.epochs = 4;
    o.train.steps_per_epoch = 2;
    o.train.quiet = true;
    o.train.checkpoint = tmp.path(tag + ".sannt");
    o.train.interrupt_after = interrupt;
    o.train.resume = resume;
    SanntResult r = train_sannt(net, p.data, model, o);
    return std::make_pair(net, r);
  };
  auto [full, full_r] = run("a", 0, false);
  auto [part, part_r] = run("b", 2, false);
  REQUIRE(part_r.train.interrupted);
  auto [resumed, resumed_r] = run("b", 0, true);
  REQUIRE(resumed_r.train.epochs.size() == 4);
  auto pa = full->parameters(), pb = resumed->parameters();
  for (size_t i = 0; i < pa.size(); ++i) REQUIRE(torch::equal(pa[i], pb[i]));
  REQUIRE(resumed_r.sigma == full_r.sigma);
}

TEST_CASE("Multiclass SANNT: class bins and the cross-entropy constraint with a learned multiplier", "[sannt]") {
  SanntProblem p = inferno_sannt_problem(2, 4000, 4000, 31);
  BinnedTemplateModel model(p.model);
  auto run = [&](double constraint_batch) {
    torch::manual_seed(4);
    MultiClassifier net(MultiClassifierOptions(3, 2).hidden({32, 32}));
    SanntOptions o;
    o.summary = SanntSummary::kClassBins;
    o.bins = 5;
    o.pretrain.epochs = 4;
    o.pretrain.steps_per_epoch = 50;
    o.pretrain.learning_rate = 3e-3;
    o.pretrain.quiet = true;
    o.train.epochs = 8;
    o.train.steps_per_epoch = 10;
    o.train.learning_rate = 3e-3;
    o.train.patience = 0;
    o.train.quiet = true;
    o.ce_constraint_batch = constraint_batch;
    return train_sannt(net, p.data, model, o);
  };
  SanntResult free = run(0), bound = run(2048);
  INFO("sigma after pretraining " << free.pretrain_sigma << "; free " << free.sigma << " (CE " << free.ce_min << " -> "
                                  << free.ce << "); constrained " << bound.sigma << " (CE -> " << bound.ce
                                  << ", omega " << bound.omega << ")");
  REQUIRE(free.sigma <= free.pretrain_sigma);  // the stage keeps the starting point if nothing beats it
  REQUIRE(bound.sigma < bound.pretrain_sigma);
  REQUIRE(free.omega == 0.0);
  // The multiplier grew from softplus(-2) while the cross entropy exceeded
  // its minimum, and the cross entropy stayed within 10% of it.
  REQUIRE(bound.omega > std::log1p(std::exp(-2.0)));
  REQUIRE(bound.ce - bound.ce_min < 0.1 * bound.ce_min);
}

TEST_CASE("SANNT trains on the model hypotest fits: sigma(mu) from the Hessian of one stats::TemplateModel, its gradient reaching the network", "[sannt][stats]") {
  SmallSannt setup(3);
  SanntProblem& prob = setup.prob;
  MultiClassifier& net = setup.net;
  const SanntOptions& o = setup.o;
  const std::vector<torch::Tensor>& all = setup.all;
  const BinnedTemplateModel spec(prob.model);
  auto model_of_net = [&]() {
    Templates t = sannt_templates(net, prob.data, spec, all, o, /*surrogate=*/true);
    return stats::TemplateModel(spec, t.nominal, t.up, t.down);
  };
  const stats::TemplateModel model = model_of_net();
  const torch::Tensor sigma = model.poi_uncertainties();
  // The loss's gradient reaches the network through the Hessian.
  torch::Tensor weight = net->net->layers[0]->weight;
  const torch::Tensor g = torch::autograd::grad({sigma.sum()}, {weight}, {}, true)[0];
  REQUIRE(g.abs().sum().item<double>() > 0);
  // The same object through the model interface (double, exact Hessian):
  // on its Asimov data the fit returns the nominal point and the Hessian
  // error is the sigma SANNT trains on.
  const int poi = model.poi();
  const stats::FitResult f = stats::fit(model);
  REQUIRE(f.status == stats::FitStatus::kConverged);
  CHECK(f.x[poi] == Approx(1.0).epsilon(1e-6));
  for (int i = 0; i < model.size(); ++i)
    if (i != poi) CHECK(std::abs(f.x[i]) < 1e-6);
  Eigen::VectorXd grad;
  Eigen::MatrixXd hess;
  model.nll(model.init(), &grad, &hess);
  CHECK(grad.norm() < 1e-8);
  const double sigma_hessian = std::sqrt(hess.inverse()(poi, poi));
  CHECK(sigma_hessian == Approx(sigma[0].item<double>()).epsilon(1e-9));
  CHECK(f.error[poi] == Approx(sigma[0].item<double>()).epsilon(1e-6));
  // hypotest on that object: the Asimov data of mu = 1 tested at mu = 1.
  stats::AsymptoticCalculator calc(model, poi, stats::TestStat::kQtilde);
  const stats::HypotestResult h = calc.hypotest(1.0);
  CHECK(h.converged);
  CHECK(h.q_obs < 1e-8);
  // q_A at mu = 1 on background-only Asimov data: (1 / sigma)^2 to the
  // accuracy of the asymptotic (quadratic) approximation.
  CHECK(h.q_asimov == Approx(1.0 / (sigma_hessian * sigma_hessian)).epsilon(0.3));
  // A few training steps on that loss lower it.
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-3));
  const double before = sigma.sum().item<double>();
  double after = before;
  for (int step = 0; step < 3; ++step) {
    adam.zero_grad();
    torch::Tensor loss = model_of_net().poi_uncertainties().sum();
    loss.backward();
    adam.step();
    after = model_of_net().poi_uncertainties().sum().item<double>();
  }
  INFO("sigma before " << before << " after 3 steps " << after);
  CHECK(after < before);
}
