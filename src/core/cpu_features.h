// The vector instructions of this CPU, for the kernels built three times
// (the x86-64 baseline, AVX2+FMA, AVX-512) and chosen at run time
// (src/likelihood/fused_kernel.h, src/stats/surrogate_kernel.h).
// The environment variable REFINERY_KERNEL_ISA=generic|avx2|avx512 asks for
// a lower build than the best (side-by-side benchmarks, tests); one the CPU
// lacks is never chosen. LibTorch-free.
#pragma once

namespace refinery {

enum class KernelIsa { kGeneric, kAvx2, kAvx512 };

bool cpu_has_avx2_fma();
bool cpu_has_avx512();  // F, DQ, VL and BW, with AVX2 and FMA
// The build the kernels use (decided once per process).
KernelIsa kernel_isa();
const char* kernel_isa_name(KernelIsa isa);

}  // namespace refinery
