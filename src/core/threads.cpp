#include "src/core/threads.h"

#include <ATen/Parallel.h>

#include <thread>

namespace refinery {

int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

void set_threads(int n) {
  if (n <= 0) n = hardware_threads();
  at::set_num_threads(n);
  static bool interop_set = false;  // inter-op threads may only be set once
  if (!interop_set) {
    interop_set = true;
    try {
      at::set_num_interop_threads(n);
    } catch (const std::exception&) {
      // already started by earlier parallel work: keep LibTorch's choice
    }
  }
}

}  // namespace refinery
