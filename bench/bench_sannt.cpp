// Benchmark of one SANNT training step (docs/performance.md): a 3-100-100-20
// network whose 20 outputs are the bins (softmax summary), 100,000 events in
// all (signal 10,000, background 10,000, and 2 x 9 background variation
// samples of 4,500), a template model with mu and 9 shape nuisances (10
// parameters, code4p), the Hessian of the Asimov NLL by double backward,
// sigma(mu), and the backward pass into the weights with an Adam step.
// Compare with bench/bench_sannt_torch.py (same computation).
// Usage: bench_sannt [threads=2] [steps=20] [gemm_bound=0]
// (gemm_bound 1: LibTorch 1 thread and BLAS n, as for mini-batch training;
// 0: LibTorch n threads and BLAS 1, refinery's default; src/core/threads.h)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "src/core/threads.h"
#include "train/sannt_training.h"
#include "src/stats/template_model.h"

using namespace refinery;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 20;
  const bool gemm_bound = argc > 3 && std::atoi(argv[3]) != 0;
  set_threads(threads);
  torch::manual_seed(1);
  const int64_t K = 9, bins = 20;
  SanntData data;
  data.samples.push_back({torch::randn({10000, 3}), torch::full({10000}, 50.0 / 10000, torch::kFloat64), 0, -1});
  torch::Tensor xb = torch::randn({10000, 3}) + 1.0;
  data.samples.push_back({xb, torch::full({10000}, 1000.0 / 10000, torch::kFloat64), 1, -1});
  TemplateModelOptions mo;
  mo.processes = {"signal", "background"};
  mo.pois = {{"mu", {0}}};
  for (int64_t k = 0; k < K; ++k) {
    mo.shapes.push_back({"nu" + std::to_string(k), 1.0});
    for (int sign : {+1, -1}) {
      torch::Tensor x = xb.narrow(0, 0, 4500).clone();
      x.select(1, k % 3).add_(0.1 * sign * (1 + k / 3));
      data.samples.push_back({x, torch::full({4500}, 1000.0 / 4500, torch::kFloat64), 1, 2 * k + (sign > 0 ? 0 : 1)});
    }
  }
  BinnedTemplateModel model(mo);
  MultiClassifier net(MultiClassifierOptions(3, bins).hidden({100, 100}));
  net->preprocess->fit(xb, torch::ones({10000}, torch::kFloat64));
  SanntOptions o;
  o.summary = SanntSummary::kSoftmaxBins;
  o.bins = bins;
  std::vector<torch::Tensor> all;
  for (const auto& s : data.samples) all.push_back(torch::arange(s.x.size(0)));
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-3));
  std::unique_ptr<GemmBoundScope> scope;
  if (gemm_bound) scope = std::make_unique<GemmBoundScope>();
  auto step = [&] {
    adam.zero_grad();
    Templates t = sannt_templates(net, data, model, all, o, /*surrogate=*/true);
    torch::Tensor loss = stats::TemplateModel(model, t.nominal, t.up, t.down).poi_uncertainties().sum();
    loss.backward();
    adam.step();
    return loss.item<double>();
  };
  for (int i = 0; i < 3; ++i) step();
  auto t0 = std::chrono::steady_clock::now();
  double last = 0;
  for (int i = 0; i < steps; ++i) last = step();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("SANNT step (100,000 events, 20 bins, 10 parameters): %.1f ms per step (%d steps, %d threads, %s, loss %.4f)\n",
              1e3 * secs / steps, steps, threads, gemm_bound ? "GEMM-bound scope" : "default threads", last);
  return 0;
}
