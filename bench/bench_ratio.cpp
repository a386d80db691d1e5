// Training throughput of the ratio estimators and SALLY (train/ratio_estimator.h,
// train/sally.h), side by side with bench/bench_ratio_torch.py (the same
// losses in a plain python3-torch loop): 2 x 64 SiLU networks of (x, theta)
// with 2 observables and 2 parameters, batches of 512, Adam; the score
// terms by double backward. Synthetic events (the throughput does not
// depend on what they are).
// Usage: bench_ratio [threads=2] [steps=400]
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "src/core/threads.h"
#include "train/ratio_estimator.h"
#include "train/sally.h"

using namespace refinery;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 400;
  set_threads(threads);
  torch::manual_seed(1);
  const int64_t N = 100000;
  RatioTrainingData d;
  d.x = torch::randn({N, 2}, torch::kFloat64);
  d.theta = torch::rand({N, 2}, torch::kFloat64) * 2 - 1;
  d.joint_log_ratio = torch::randn({N}, torch::kFloat64);
  d.joint_score = torch::randn({N, 2}, torch::kFloat64);
  d.label = (torch::rand({N}, torch::kFloat64) < 0.5).to(torch::kFloat64);
  d.theta_reference = torch::zeros({2}, torch::kFloat64);
  std::printf("training throughput, 2 x 64 SiLU, batches of 512, %d steps, %d threads\n", steps, threads);
  const std::pair<const char*, RatioLoss> losses[] = {{"CARL", RatioLoss::kCarl},     {"ALICES", RatioLoss::kAlices},
                                                      {"RASCAL", RatioLoss::kRascal}, {"CASCAL", RatioLoss::kCascal},
                                                      {"ROLR", RatioLoss::kRolr}};
  for (const auto& [name, loss] : losses) {
    RatioOptions o;
    o.loss = loss;
    o.validation_fraction = 0.001;  // the loop's cost, not the validation's
    o.train.epochs = 1;
    o.train.steps_per_epoch = steps;
    o.train.quiet = true;
    const auto t0 = std::chrono::steady_clock::now();
    train_ratio_estimator(d, o);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("  %-7s %8.0f steps/s  %10.0f samples/s\n", name, steps / s, steps * 512.0 / s);
  }
  SallyOptions so;
  so.validation_fraction = 0.001;
  so.train.epochs = 1;
  so.train.steps_per_epoch = steps;
  so.train.quiet = true;
  const auto t0 = std::chrono::steady_clock::now();
  train_sally(d.x, d.joint_score, so);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("  %-7s %8.0f steps/s  %10.0f samples/s\n", "SALLY", steps / s, steps * 512.0 / s);
  return 0;
}
