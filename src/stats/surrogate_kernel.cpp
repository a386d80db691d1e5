// The generic build of the surrogate kernel and the run-time choice between
// it and the AVX2+FMA and AVX-512 builds (src/core/cpu_features.h).
#define REFINERY_KERNEL_NS generic
#include "src/stats/surrogate_kernel_impl.h"

#include <string>

#include "src/core/cpu_features.h"

namespace refinery::stats::surrogate_kernel {

namespace avx2 {
void forward(const Layer*, int, const float*, int, float*);
}
namespace avx512 {
void forward(const Layer*, int, const float*, int, float*);
}

void forward(const Layer* layers, int count, const float* x, int n, float* out) {
  switch (kernel_isa()) {
    case KernelIsa::kAvx512: avx512::forward(layers, count, x, n, out); break;
    case KernelIsa::kAvx2: avx2::forward(layers, count, x, n, out); break;
    default: generic::forward(layers, count, x, n, out);
  }
}

bool forward_with(const char* name, const Layer* layers, int count, const float* x, int n, float* out) {
  const std::string b = name;
  if (b == "generic") generic::forward(layers, count, x, n, out);
  else if (b == "avx2" && cpu_has_avx2_fma()) avx2::forward(layers, count, x, n, out);
  else if (b == "avx512" && cpu_has_avx512()) avx512::forward(layers, count, x, n, out);
  else return false;
  return true;
}

const char* instruction_set() { return kernel_isa_name(kernel_isa()); }

}  // namespace refinery::stats::surrogate_kernel
