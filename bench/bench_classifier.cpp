// Benchmark of the multiclassifier (docs/performance.md):
//   training throughput: samples/s of the class-balanced cross entropy with
//   Adam, default 28-128-128-4 network, batch 1024 (as the trainer runs it),
//   to compare with bench/bench_classifier_torch.py (same network, batch,
//   threads);
//   inference: events/s through the exported TorchScript archive (calibrated
//   probabilities), 1M events, parallel blocks (ClassifierArchive).
// Usage: bench_classifier [events=1000000] [threads=2] [batch=1024] [steps=200]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "models/classifier_archive.h"
#include "models/multiclassifier.h"
#include "models/torchscript_export.h"
#include "src/core/threads.h"

using namespace refinery;

int main(int argc, char** argv) {
  const int64_t events = argc > 1 ? std::atoll(argv[1]) : 1000000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int64_t batch = argc > 3 ? std::atoll(argv[3]) : 1024;
  const int steps = argc > 4 ? std::atoi(argv[4]) : 200;
  set_threads(threads);
  torch::manual_seed(1);
  MultiClassifier clf(MultiClassifierOptions(28, 4));
  torch::Tensor xfit = torch::randn({10000, 28});
  clf->preprocess->fit(xfit, torch::ones({10000}, torch::kFloat64));
  clf->process_fractions->set_yields({1000, 100000, 10000, 1000});
  {
    // A calibration fitted on random labels: the tables have realistic sizes.
    torch::NoGradGuard g;
    torch::Tensor p = torch::softmax(clf->forward(xfit), 1);
    clf->calibration->fit(clf->process_fractions->forward(p), torch::randint(4, {10000}, torch::kLong),
                          torch::ones({10000}, torch::kFloat64), 200);
  }

  // Training steps: a mini-batch, cross entropy, Adam (the trainer's scope).
  torch::optim::Adam adam(clf->parameters(), torch::optim::AdamOptions(1e-3));
  torch::Tensor pool = torch::randn({100000, 28});
  torch::Tensor labels = torch::randint(4, {100000}, torch::kLong);
  clf->train();
  auto step = [&](int64_t i) {
    torch::Tensor idx = torch::randint(100000, {batch}, torch::kLong);
    adam.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(clf->forward(pool.index_select(0, idx)),
                                                              labels.index_select(0, idx));
    loss.backward();
    adam.step();
  };
  double secs;
  {
    GemmBoundScope gemm_bound;
    for (int i = 0; i < 10; ++i) step(i);
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < steps; ++i) step(i);
    secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  std::printf("training: %d steps of %lld samples in %.3f s: %.0f samples/s (%d threads)\n", steps, (long long)batch,
              secs, batch * steps / secs, threads);

  // Inference through the exported archive.
  clf->eval();
  const std::string path = (std::filesystem::temp_directory_path() / "bench_classifier.pt").string();
  torch::jit::Module ts = classifier_to_torchscript(clf);
  save_torchscript(ts, {{"kind", "classifier"}, {"feature_names", std::vector<std::string>(28, "f")},
                        {"process_names", {"a", "b", "c", "d"}}}, path);
  ClassifierArchive archive(path);
  torch::Tensor x = torch::randn({events, 28});
  archive.probabilities(x.narrow(0, 0, 65536));  // warm-up
  auto t0 = std::chrono::steady_clock::now();
  torch::Tensor g = archive.probabilities(x);
  secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double flop = 2.0 * (28 * 128 + 128 * 128 + 128 * 4);
  std::printf("inference (TorchScript archive, calibrated): %lld events in %.3f s: %.2f M events/s, %.1f GFLOP/s in the network\n",
              (long long)events, secs, events / secs / 1e6, events * flop / secs / 1e9);
  std::filesystem::remove(path);
  return 0;
}
