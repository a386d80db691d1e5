// Benchmark of the parametric DCR network (docs/performance.md):
//   coefficient evaluation: events/s through the default 28-256-256-9
//   network (dcr_coefficients_cache: blocks of 2048 in parallel, no gradients);
//   training throughput: samples/s of the DCR loss with Adam (batch B from
//   the nominal and B from the variation samples per step, 24 nu-points),
//   to compare with bench/bench_dcr_torch.py (same model, loss, batch, threads);
//   an ensemble of 4 28-128-128-9 networks merged into one (the H->tautau
//   config's), evaluated as the dense block-diagonal network (the C++ module)
//   and as its TorchScript archive, which multiplies block by block.
// Usage: bench_dcr [events=1000000] [threads=2] [batch=4096] [steps=50] [block=2048]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "models/dcr_ensemble.h"
#include "models/dcr_network.h"
#include "models/torchscript_export.h"
#include "src/core/block_eval.h"
#include "src/core/threads.h"
#include "train/dcr_training.h"

using namespace refinery;

int main(int argc, char** argv) {
  const int64_t events = argc > 1 ? std::atoll(argv[1]) : 1000000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int64_t batch = argc > 3 ? std::atoll(argv[3]) : 4096;
  const int steps = argc > 4 ? std::atoi(argv[4]) : 50;
  const int64_t block = argc > 5 ? std::atoll(argv[5]) : 2048;
  set_threads(threads);
  torch::manual_seed(1);
  DCRNetwork net(DCRNetworkOptions(28, 3));
  torch::Tensor x = torch::randn({events, 28});
  net->preprocess->fit(x.narrow(0, 0, 10000), torch::ones({10000}, torch::kFloat64));
  dcr_coefficients_cache(net, x.narrow(0, 0, 65536));  // warm-up
  auto t0 = std::chrono::steady_clock::now();
  torch::Tensor c = dcr_coefficients_cache(net, x, block);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double flop_per_event = 2.0 * (28 * 256 + 256 * 256 + 256 * 9);
  std::printf("coefficients: %lld events in %.3f s: %.2f M events/s, %.1f GFLOP/s (%d threads, blocks of %lld)\n",
              (long long)events, secs, events / secs / 1e6, events * flop_per_event / secs / 1e9, threads, (long long)block);

  // Training steps on the same loss as train_dcr.
  torch::Tensor phi = dcr_phi(torch::randn({24, 3}), 2);
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-3));
  net->train();
  auto step = [&]() {
    torch::Tensor xa = torch::randn({batch, 28}), xb = torch::randn({batch, 28});
    torch::Tensor pa = torch::randint(24, {batch}, torch::kLong);
    torch::Tensor wa = torch::rand({batch}), wb = torch::rand({batch});
    adam.zero_grad();
    torch::Tensor lr_v = (net->forward(xa) * phi.index_select(0, pa)).sum(1);
    torch::Tensor lr_0 = torch::matmul(net->forward(xb), phi.t());
    torch::Tensor loss = ((wa * torch::softplus(-lr_v)).sum() + (wb.unsqueeze(1) * torch::softplus(lr_0)).sum()) / batch;
    loss.backward();
    adam.step();
  };
  GemmBoundScope gemm_bound;  // as the trainer does (src/core/threads.h)
  for (int i = 0; i < 5; ++i) step();
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("training: %d steps of 2x%lld samples in %.3f s: %.0f samples/s\n", steps, (long long)batch, secs,
              2.0 * batch * steps / secs);

  // The merged ensemble: the same events, both ways, in blocks as the
  // measurement evaluates them.
  {
    std::vector<DCRNetwork> members;
    for (int m = 0; m < 4; ++m) {
      DCRNetwork member(DCRNetworkOptions(28, 3).hidden({128, 128}));
      member->preprocess->fit(x.narrow(0, 0, 10000), torch::ones({10000}, torch::kFloat64));
      members.push_back(member);
    }
    DCRNetwork merged = merge_dcr_ensemble(members);
    torch::jit::Module ts = dcr_to_torchscript(merged);
    torch::jit::Method fwd = ts.get_method("forward");
    torch::NoGradGuard g;
    const int64_t n = std::min<int64_t>(events, 200000);
    torch::Tensor xe = x.narrow(0, 0, n);
    auto time_it = [&](const std::function<torch::Tensor(const torch::Tensor&)>& f, torch::Tensor* out) {
      f(xe.narrow(0, 0, 4096));  // warm-up
      auto s0 = std::chrono::steady_clock::now();
      *out = evaluate_in_blocks(xe, block, f);
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count();
    };
    torch::Tensor dense, grouped;
    const double t_dense = time_it([&](const torch::Tensor& b) { return merged->forward(b); }, &dense);
    const double t_grouped = time_it([&](const torch::Tensor& b) { return fwd({b}).toTensor(); }, &grouped);
    std::printf("ensemble of 4 (28-128-128-9), %lld events: dense block-diagonal %.3f s (%.2f M events/s), "
                "block by block (the archive) %.3f s (%.2f M events/s): %.2fx; largest difference %.1e\n",
                (long long)n, t_dense, n / t_dense / 1e6, t_grouped, n / t_grouped / 1e6, t_dense / t_grouped,
                (dense - grouped).abs().max().item<double>());
  }
  return 0;
}
