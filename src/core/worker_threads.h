// Threads of the LibTorch-free part of refinery (the HistFactory engine and
// the commands on pyhf workspaces, which the `refinery` front end runs
// without loading LibTorch: app/README in docs/design.md). Work is split
// over plain std::threads that are joined at the end, so nothing spins
// while it waits: next to a busy process such a loop slows down in
// proportion to the load. LibTorch's own pools are set by set_threads
// (src/core/threads.h), which also sets this count.
#pragma once
#include <cstdint>
#include <functional>

namespace refinery {

// Most threads any option or config may ask for: more threads than cores
// only add waiting (4096 threads made a 0.5 ms fit take 52 s).
constexpr int kMaxThreads = 256;

// The machine's hardware threads (at least 1).
int hardware_threads();
// The count used by parallel_for; n <= 0 means all cores.
void set_worker_threads(int n);
int worker_threads();

// Runs body(i) for i in [0, n) on up to worker_threads() threads, each taking
// the next index from a shared counter (items of unequal cost balance).
// The first exception thrown by a body is rethrown after all threads have
// joined; indices not yet started are then skipped.
void parallel_for(std::int64_t n, const std::function<void(std::int64_t)>& body);

}  // namespace refinery
