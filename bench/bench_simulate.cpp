// Benchmark of the H->tautau simulator (docs/performance.md):
//   generation: produced events per second, all 28 features computed;
//   systematics: events per second for applying tes+jes+soft_met to an
//   event set and recomputing the features.
// Usage: bench_simulate [events=1000000] [threads=2] [repeats=3]
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <torch/torch.h>

#include "data/htautau/features.h"
#include "data/htautau/generator.h"
#include "data/htautau/htautau_simulation.h"
#include "data/htautau/systematics.h"
#include "data/random.h"
#include "src/core/threads.h"

using namespace refinery;
using namespace refinery::htautau;

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  const int64_t events = argc > 1 ? std::atoll(argv[1]) : 1000000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 3;
  set_threads(threads);
  std::printf("bench_simulate: %lld events, %d threads, best of %d\n", (long long)events, threads, repeats);

  double best_gen = 1e30;
  SimulationOptions opt;
  opt.events = events;
  opt.quiet = true;
  int64_t selected = 0;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    EventSet e = simulate_in_memory(opt);
    best_gen = std::min(best_gen, seconds_since(t0));
    selected = e.size();
  }
  std::printf("generation (all processes, 28 features, in memory): %.3f s, %.2f M produced events/s, %.2f M selected events/s\n",
              best_gen, events / best_gen / 1e6, selected / best_gen / 1e6);

  // Systematics on an event set of `events` selected-level objects.
  RandomStream gen(5);
  std::vector<ObjectSet> parts;
  int64_t have = 0;
  while (have < events) {
    parts.push_back(generate_process(kZtautau, 1 << 20, 1.0, gen));
    have += parts.back().size();
  }
  ObjectSet base = ObjectSet::concat(parts);
  base = base.select(torch::arange(base.size()) < events);
  NuVector nu{};
  nu[kTes] = 1.0;
  nu[kJes] = -0.5;
  nu[kSoftMet] = 1.0;
  double best_sys = 1e30, best_apply = 1e30, best_features = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    ObjectSet shifted = apply_systematics(base, nu);
    best_apply = std::min(best_apply, seconds_since(t0));
    auto t1 = std::chrono::steady_clock::now();
    FeatureResult f = compute_features(shifted);
    best_features = std::min(best_features, seconds_since(t1));
    best_sys = std::min(best_sys, seconds_since(t0));
    (void)f;
  }
  std::printf("  of which: apply %.3f s, features %.3f s\n", best_apply, best_features);
  std::printf("systematics (tes+jes+soft_met, features recomputed) on %lld events: %.3f s, %.2f M events/s\n",
              (long long)base.size(), best_sys, base.size() / best_sys / 1e6);
  return 0;
}
