// Benchmark of the profile likelihood (docs/performance.md): a measurement-
// sized model (4 processes, 3 calibration nuisances in the quadratic ansatz,
// 3 normalisation nuisances; 100,000 observed events in an unbinned region,
// 1,000,000 simulated events for the expected yields) on Asimov-like data:
//   - one NLL + gradient + Hessian evaluation (fused kernels + assembly);
//   - the MLE and one fully profiled 68.27% interval (both crossings, the
//     nuisances re-minimised at every step), the "under 1 s" figure.
// Compare with bench/bench_likelihood_torch.py (the same likelihood in plain
// python3-torch autograd).
// Usage: bench_profile [data=100000] [mc=1000000] [threads=2] [repeats=5] [fractions|labels]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "data/random.h"
#include "src/core/threads.h"
#include "src/stats/fit.h"
#include "src/stats/profile.h"
#include "src/stats/region_model.h"
#include "src/likelihood/likelihood_model.h"

using namespace refinery;
using namespace refinery::likelihood;

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 100000;
  const int64_t nmc = argc > 2 ? std::atoll(argv[2]) : 1000000;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  const int repeats = argc > 4 ? std::atoi(argv[4]) : 5;
  set_threads(threads);
  torch::Generator gen = make_generator(3);
  auto opt = torch::TensorOptions().dtype(torch::kFloat64);
  const int64_t P = 4, C = 9;
  ModelSpec s;
  s.processes = {"htautau", "ztautau", "ttbar", "diboson"};
  s.factors = {{0, 0, {}}};
  s.parameters = {{"mu", ParameterKind::kPoi, Constraint::kNone, 0, 1, 1.0, 1e-3, 10},
                  {"tes", ParameterKind::kCalibration, Constraint::kGaussian, 0, 1, 0, -5, 5},
                  {"jes", ParameterKind::kCalibration, Constraint::kGaussian, 0, 1, 0, -5, 5},
                  {"soft_met", ParameterKind::kCalibration, Constraint::kLogNormal, 1, 1, 1, 1e-2, 5},
                  {"bkg_norm", ParameterKind::kNormalisation, Constraint::kGaussian, 0, 1, 0, -5, 5},
                  {"ttbar_norm", ParameterKind::kNormalisation, Constraint::kGaussian, 0, 1, 0, -5, 5},
                  {"diboson_norm", ParameterKind::kNormalisation, Constraint::kGaussian, 0, 1, 0, -5, 5}};
  s.modifiers = {{1, 4, 0.01, false, {}}, {2, 4, 0.01, false, {}}, {3, 4, 0.01, false, {}}, {2, 5, 0.02, false, {}}, {3, 6, 0.25, false, {}}};
  s.calibration = {1, 2, 3};
  // Simulated events with fractions and per-process coefficients; the
  // observed events are the first n of them (weights n/nmc: a sample of the
  // model at the nominal point, so the fit is a realistic one).
  const bool labels = argc > 5 && std::string(argv[5]) == "labels";
  torch::Tensor yields = torch::tensor({1000.0, 100000.0, 10000.0, 1000.0}, opt);
  torch::Tensor f = torch::softmax(torch::randn({nmc, P}, gen, opt) + torch::log(yields).unsqueeze(0), 1);
  torch::Tensor coef = (0.02 * torch::randn({nmc, P, C}, gen, opt)).to(torch::kFloat32);
  torch::Tensor w = torch::full({nmc}, double(n) / nmc, opt);
  LikelihoodModel model(s);
  Region r;
  r.name = "sr";
  if (labels) {
    torch::Tensor proc = torch::multinomial(f, 1, true, gen).view(-1);
    torch::Tensor own = coef.gather(1, proc.view({-1, 1, 1}).expand({-1, 1, C})).squeeze(1);
    r.expected = Cells::build(proc, int(P), w, own);
  } else {
    std::vector<torch::Tensor> cell, wt, co;
    for (int64_t p = 0; p < P; ++p) {
      cell.push_back(torch::full({nmc}, p, torch::kInt64));
      wt.push_back(w * f.select(1, p));
      co.push_back(coef.select(1, p));
    }
    r.expected = Cells::build(torch::cat(cell), int(P), torch::cat(wt), torch::cat(co));
  }
  r.events = EventData::build(f.narrow(0, 0, n), coef.narrow(0, 0, n));
  const int64_t cell_events = r.expected.n();
  model.add_region(std::move(r));
  Eigen::VectorXd x = s.nominal();
  Eigen::VectorXd g;
  Eigen::MatrixXd h;
  model.evaluate(x, &g, &h);
  double best_eval = 1e30, best_grad = 1e30, best_interval = 1e30;
  const stats::RegionModel region(std::make_shared<const likelihood::LikelihoodModel>(model), "bench model");
  int fits = 0, evals = 0;
  for (int rep = 0; rep < repeats; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    model.evaluate(x, &g, &h);
    best_eval = std::min(best_eval, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    t0 = std::chrono::steady_clock::now();
    model.evaluate(x, &g, nullptr);
    best_grad = std::min(best_grad, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    t0 = std::chrono::steady_clock::now();
    const stats::FitResult fit = stats::fit(region);
    const stats::Interval in = stats::profile_interval(region, fit, 0, 1.0);
    best_interval = std::min(best_interval, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    fits = 1 + in.lower.fits + in.upper.fits;
    evals = fit.evaluations;
    if (rep == 0)
      std::printf("mu_hat %.4f +- %.4f, 68.27%% interval [%.4f, %.4f] (%s / %s)\n", fit.x[0], fit.error[0], in.lower.value,
                  in.upper.value, in.lower.status.c_str(), in.upper.status.c_str());
  }
  std::printf("%lld observed + %lld simulated events (%s: %lld cell entries), %d threads (%s kernels)\n", (long long)n,
              (long long)nmc, labels ? "labels" : "fractions", (long long)cell_events, threads, kernel_isa());
  std::printf("  NLL + gradient: %.2f ms\n", best_grad * 1e3);
  std::printf("  NLL + gradient + Hessian: %.2f ms\n", best_eval * 1e3);
  std::printf("  MLE + fully profiled 68.27%% interval: %.3f s (%d fits; MLE %d evaluations)\n", best_interval, fits, evals);
  return 0;
}
