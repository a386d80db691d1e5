#include "src/core/cpu_features.h"

#include <cstdlib>
#include <string>

namespace refinery {

bool cpu_has_avx2_fma() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool cpu_has_avx512() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
#else
  return false;
#endif
}

namespace {

KernelIsa choose() {
  KernelIsa best = cpu_has_avx512() ? KernelIsa::kAvx512 : cpu_has_avx2_fma() ? KernelIsa::kAvx2 : KernelIsa::kGeneric;
  const char* asked = std::getenv("REFINERY_KERNEL_ISA");
  if (!asked) return best;
  const std::string a = asked;
  const KernelIsa want = a == "generic" ? KernelIsa::kGeneric : a == "avx2" ? KernelIsa::kAvx2 : KernelIsa::kAvx512;
  return static_cast<int>(want) < static_cast<int>(best) ? want : best;
}

}  // namespace

KernelIsa kernel_isa() {
  static const KernelIsa isa = choose();
  return isa;
}

const char* kernel_isa_name(KernelIsa isa) {
  switch (isa) {
    case KernelIsa::kAvx512: return "avx512";
    case KernelIsa::kAvx2: return "avx2";
    default: return "generic";
  }
}

}  // namespace refinery
