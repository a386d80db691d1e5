// The generic build of the surrogate kernel and the run-time choice between
// it and the AVX2+FMA and AVX-512 builds.
#define REFINERY_KERNEL_NS generic
#include "src/stats/surrogate_kernel_impl.h"

#include <string>

namespace refinery::stats::surrogate_kernel {

namespace avx2 {
void forward(const Layer*, int, const float*, int, float*);
}
namespace avx512 {
void forward(const Layer*, int, const float*, int, float*);
}

namespace {

enum class Build { kGeneric, kAvx2, kAvx512 };

bool has_avx2() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return true;  // elsewhere the other builds are generic ones too
#endif
}

bool has_avx512() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
#else
  return true;
#endif
}

Build choose() {
#if defined(__x86_64__)
  if (has_avx512()) return Build::kAvx512;
  if (has_avx2()) return Build::kAvx2;
#endif
  return Build::kGeneric;
}

Build build() {
  static const Build b = choose();
  return b;
}

}  // namespace

void forward(const Layer* layers, int count, const float* x, int n, float* out) {
  switch (build()) {
    case Build::kAvx512: avx512::forward(layers, count, x, n, out); break;
    case Build::kAvx2: avx2::forward(layers, count, x, n, out); break;
    default: generic::forward(layers, count, x, n, out);
  }
}

bool forward_with(const char* name, const Layer* layers, int count, const float* x, int n, float* out) {
  const std::string b = name;
  if (b == "generic") generic::forward(layers, count, x, n, out);
  else if (b == "avx2" && has_avx2()) avx2::forward(layers, count, x, n, out);
  else if (b == "avx512" && has_avx512()) avx512::forward(layers, count, x, n, out);
  else return false;
  return true;
}

const char* instruction_set() {
  switch (build()) {
    case Build::kAvx512: return "avx512";
    case Build::kAvx2: return "avx2";
    default: return "generic";
  }
}

}  // namespace refinery::stats::surrogate_kernel
