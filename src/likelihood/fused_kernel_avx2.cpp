// The fused kernels compiled with AVX2 and FMA (chosen at run time when the
// CPU has them; see fused_kernel.cpp).
#define REFINERY_KERNEL_NS avx2
#include "src/likelihood/fused_kernel_impl.h"
