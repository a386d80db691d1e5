#include "data/analytic/likelihood_toys.h"

#include <cmath>

#include "data/analytic/inferno.h"
#include "data/random.h"
#include "src/likelihood/mc_statistics.h"

namespace refinery::analytic {

using namespace likelihood;

namespace {
constexpr double kS0 = 50.0, kB0 = 1000.0, kNormSize = 0.05, kShift = 0.2;
auto f64() { return torch::TensorOptions().dtype(torch::kFloat64); }

// Fractions [N,2] and coefficients [N,2,2] of the Gaussian toy at x [N]
// (the background's from `dcr` when set).
std::pair<torch::Tensor, torch::Tensor> gaussian_toy_terms(const torch::Tensor& x, const DcrCoefficients& dcr = {}) {
  torch::Tensor ls = std::log(kS0) - 0.5 * ((x - 2.0) / 0.5).pow(2) - std::log(0.5);
  torch::Tensor lb = std::log(kB0) - 0.5 * x.pow(2);
  torch::Tensor f = torch::softmax(torch::stack({ls, lb}, 1), 1);
  torch::Tensor coef = torch::zeros({x.size(0), 2, 2}, f64());
  if (dcr) {
    coef.select(1, 1).copy_(dcr(x).to(torch::kFloat64));
  } else {
    coef.select(1, 1).select(1, 0).copy_(kShift * x);
    coef.select(1, 1).select(1, 1).fill_(-0.5 * kShift * kShift);
  }
  return {f, coef};
}
}  // namespace

DcrToy GaussianToy::background_variations() {
  DcrToy t;
  t.M = torch::full({1, 1}, kShift, f64());
  t.c = torch::zeros({1}, f64());
  t.sigma0 = kB0;
  return t;
}

GaussianToy::GaussianToy(int64_t ns, int64_t nb, uint64_t seed, YieldEstimate yields, int mc_stat_cells,
                         DcrCoefficients background_dcr)
    : dcr_(std::move(background_dcr)), mc_stat_(mc_stat_cells > 0) {
  torch::Generator gen = make_generator(seed);
  x_mc_ = torch::cat({2.0 + 0.5 * torch::randn({ns}, gen, f64()), torch::randn({nb}, gen, f64())});
  w_mc_ = torch::cat({torch::full({ns}, kS0 / ns, f64()), torch::full({nb}, kB0 / nb, f64())});
  p_mc_ = torch::cat({torch::zeros({ns}, torch::kInt64), torch::ones({nb}, torch::kInt64)});
  auto [f, coef] = gaussian_toy_terms(x_mc_, dcr_);
  const torch::Tensor fs = f.select(1, 0);
  if (mc_stat_) edges_ = equal_share_edges(fs, w_mc_ * fs, mc_stat_cells);
  cells_ = Cells::from_events(cell_index(fs, edges_), int(edges_.size()) + 1, w_mc_, p_mc_, f, coef,
                              yields == YieldEstimate::kLabels);
}

ModelSpec GaussianToy::spec() const {
  ModelSpec s;
  s.processes = {"signal", "background"};
  s.factors = {{0, 0, {}}};
  s.parameters = {{"mu", ParameterKind::kPoi, Constraint::kNone, 0, 1, 1.0, 1e-4, 10},
                  {"nu", ParameterKind::kCalibration, Constraint::kGaussian, 0, 1, 0, -5, 5},
                  {"norm", ParameterKind::kNormalisation, Constraint::kGaussian, 0, 1, 0, -5, 5}};
  s.modifiers = {{1, 2, kNormSize, false, {}}};
  s.calibration = {1};
  return s;
}

EventData GaussianToy::events_at(const torch::Tensor& x_in, const torch::Tensor& weight) const {
  auto [f, coef] = gaussian_toy_terms(x_in.to(torch::kFloat64), dcr_);
  EventData d = EventData::build(f, coef, weight);
  if (!edges_.empty()) {
    torch::Tensor b = cell_index(f.select(1, 0), edges_).to(torch::kInt32).contiguous();
    d.bin.assign(b.data_ptr<int>(), b.data_ptr<int>() + b.numel());
  }
  return d;
}

LikelihoodModel GaussianToy::model(EventData data) const {
  LikelihoodModel m(spec());
  Region r;
  r.name = "sr";
  r.n_bins = int(edges_.size()) + 1;
  r.mc_stat = mc_stat_;
  r.expected = cells_;
  r.events = std::move(data);
  m.add_region(std::move(r));
  return m;
}

EventData GaussianToy::asimov(double mu, double nu, double norm) const {
  torch::Tensor f = gaussian_toy_terms(x_mc_).first;
  torch::Tensor R = f.select(1, 0) * mu +
                    f.select(1, 1) * std::pow(1.0 + kNormSize, norm) * torch::exp(kShift * nu * x_mc_ - 0.5 * kShift * kShift * nu * nu);
  return events_at(x_mc_, w_mc_ * R);
}

EventData GaussianToy::pseudo_data(double mu, double nu, double norm, torch::Generator& gen) const {
  const int64_t ns = torch::poisson(torch::full({1}, kS0 * mu, f64()), gen).item<double>();
  const int64_t nb = torch::poisson(torch::full({1}, kB0 * std::pow(1.0 + kNormSize, norm), f64()), gen).item<double>();
  torch::Tensor x = torch::cat({2.0 + 0.5 * torch::randn({ns}, gen, f64()), kShift * nu + torch::randn({nb}, gen, f64())});
  return events_at(x);
}

// ---------------------------------------------------------------------------
std::vector<bool> inferno_fixed(int bm) { return {false, bm < 1, bm < 2, bm < 4}; }

LikelihoodModel inferno_asimov_model(int bm, int64_t n, torch::Generator& gen) {
  inferno_benchmark(bm);  // validates the index
  InfernoParameters p;
  EventSet ev = inferno_sample(n, n, p, gen);
  torch::Tensor x = ev.features.to(torch::kFloat64);
  torch::Tensor ls = std::log(p.s) + inferno_log_pdf_signal(x);
  torch::Tensor lb = std::log(p.b) + inferno_log_pdf_background(x, p.r, p.lambda);
  torch::Tensor f = torch::softmax(torch::stack({ls, lb}, 1), 1);
  const int64_t N = x.size(0);
  torch::Tensor coef = torch::zeros({N, 2, 5}, f64());
  torch::Tensor cb = coef.select(1, 1);
  cb.select(1, 0).copy_(0.08 * (x.select(1, 0) - 2.0));  // d/d nu_r, r = 0.4 nu_r, var 5
  cb.select(1, 1).copy_(1.0 / 3.0 - x.select(1, 2));     // d/d nu_lambda at lambda = 3
  cb.select(1, 2).fill_(-0.016);                         // (1/2) d^2/d nu_r^2
  cb.select(1, 4).fill_(-1.0 / 18.0);                    // (1/2) d^2/d nu_lambda^2
  ModelSpec s;
  s.processes = {"signal", "background"};
  s.factors = {{0, 0, {}}};
  const Constraint rc = bm >= 3 ? Constraint::kGaussian : Constraint::kNone;
  s.parameters = {{"mu", ParameterKind::kPoi, Constraint::kNone, 0, 1, 1.0, 1e-4, 10},
                  {"nu_r", ParameterKind::kCalibration, rc, 0, 1, 0, -5, 5},
                  {"nu_lambda", ParameterKind::kCalibration, rc, 0, 1, 0, -2.5, 5},
                  {"nu_b", ParameterKind::kNormalisation, Constraint::kGaussian, 0, 1, 0, -5, 5}};
  s.modifiers = {{1, 3, 0.1, true, {}}};
  s.calibration = {1, 2};
  LikelihoodModel m(s);
  Region r;
  r.name = "inferno";
  r.expected = Cells::from_events(torch::zeros({N}, torch::kInt64), 1, ev.weights.to(torch::kFloat64),
                                  ev.process.to(torch::kInt64), f, coef, false);
  r.events = EventData::build(f, coef, ev.weights.to(torch::kFloat64));
  m.add_region(std::move(r));
  return m;
}

}  // namespace refinery::analytic
