// Thread control. LibTorch starts with one intra-op thread on this platform,
// so every entry point sets the count explicitly (default: all cores).
//
// Two thread pools live in one process: LibTorch's (OpenMP, used by
// element-wise kernels and by our own at::parallel_for loops) and the BLAS
// library's (OpenBLAS's pthreads, used by matrix products). Both busy-wait
// when idle, so when both are sized to all cores they take the cores from
// each other: on 2 cores a mini-batch training step ran 2.1x slower than
// with one of the two pools at one thread (docs/performance.md). The policy:
//   - set_threads(n): LibTorch n threads, BLAS one thread (our loops and
//     LibTorch's kernels are parallel; a matrix product is not);
//   - GemmBoundScope: for work dominated by matrix products of mini-batch
//     size (training steps), LibTorch one thread and BLAS n threads;
//   - parallel blocks (src/core/block_eval.h): LibTorch n threads, each on
//     its own block, BLAS one thread.
//   - the LibTorch-free engine's own loops (src/core/worker_threads.h)
//     use set_threads' count too.
#pragma once
#include "src/core/worker_threads.h"

namespace refinery {

// Sets LibTorch's intra-op threads (and inter-op threads, once per process),
// the BLAS library's threads to 1 and the worker threads (parallel_for) to
// n. n <= 0 means all cores.
void set_threads(int n);
// LibTorch's intra-op thread count as set by set_threads.
int configured_threads();

// Sets the BLAS library's thread count for the lifetime of the object when
// the library is OpenBLAS (found at run time; any other BLAS: no effect).
class ScopedBlasThreads {
 public:
  explicit ScopedBlasThreads(int n);
  ~ScopedBlasThreads();
  ScopedBlasThreads(const ScopedBlasThreads&) = delete;
  ScopedBlasThreads& operator=(const ScopedBlasThreads&) = delete;

 private:
  int previous_ = -1;
};

// For its lifetime: LibTorch at one intra-op thread, BLAS at the configured
// count. Restores both at the end.
class GemmBoundScope {
 public:
  GemmBoundScope();
  ~GemmBoundScope();
  GemmBoundScope(const GemmBoundScope&) = delete;
  GemmBoundScope& operator=(const GemmBoundScope&) = delete;

 private:
  int torch_threads_;
  ScopedBlasThreads blas_;
};

}  // namespace refinery
