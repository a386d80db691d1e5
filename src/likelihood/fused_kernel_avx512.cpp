// The fused kernels compiled with AVX-512 (F, DQ, VL, BW) and FMA (chosen at
// run time when the CPU has them; see fused_kernel.cpp).
#define REFINERY_KERNEL_NS avx512
#include "src/likelihood/fused_kernel_impl.h"
