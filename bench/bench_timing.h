// Timing helper shared by the benchmark executables: the best wall time of
// `repeats` calls (the minimum is the least disturbed by other load).
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>

namespace refinery::bench {

inline double best_seconds(int repeats, const std::function<void()>& f) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace refinery::bench
