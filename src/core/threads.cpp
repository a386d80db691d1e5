#include "src/core/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

namespace refinery {

namespace {

using SetThreads = void (*)(int);
using GetThreads = int (*)();

struct OpenBlas {
  SetThreads set = nullptr;
  GetThreads get = nullptr;
};

// OpenBLAS's thread control, looked up at run time so that any BLAS links.
const OpenBlas& openblas() {
  static const OpenBlas fns = [] {
    OpenBlas o;
    o.set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    o.get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    if (!o.set || !o.get) o = OpenBlas{};
    return o;
  }();
  return fns;
}

int g_threads = 1;

}  // namespace

void set_threads(int n) {
  if (n <= 0) n = hardware_threads();
  g_threads = n;
  set_worker_threads(n);
  at::set_num_threads(n);
  if (openblas().set) openblas().set(1);
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

int configured_threads() { return g_threads; }

ScopedBlasThreads::ScopedBlasThreads(int n) {
  if (!openblas().set) return;
  previous_ = openblas().get();
  openblas().set(n);
}

ScopedBlasThreads::~ScopedBlasThreads() {
  if (previous_ > 0) openblas().set(previous_);
}

GemmBoundScope::GemmBoundScope() : torch_threads_(at::get_num_threads()), blas_(configured_threads()) {
  at::set_num_threads(1);
}

GemmBoundScope::~GemmBoundScope() { at::set_num_threads(torch_threads_); }

}  // namespace refinery
