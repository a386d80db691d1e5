// Thread control. LibTorch starts with one intra-op thread on this platform,
// so every entry point sets the count explicitly (default: all cores).
#pragma once

namespace refinery {

int hardware_threads();
// Sets LibTorch's intra-op threads (and inter-op threads, once per process).
// n <= 0 means all cores.
void set_threads(int n);

}  // namespace refinery
