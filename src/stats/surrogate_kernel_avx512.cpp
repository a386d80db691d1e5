// The surrogate kernel compiled with AVX-512 (F, DQ, VL, BW) and FMA (chosen
// at run time; see surrogate_kernel.cpp).
#define REFINERY_KERNEL_NS avx512
#include "src/stats/surrogate_kernel_impl.h"
