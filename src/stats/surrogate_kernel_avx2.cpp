// The surrogate kernel compiled with AVX2 and FMA (chosen at run time; see
// surrogate_kernel.cpp).
#define REFINERY_KERNEL_NS avx2
#include "src/stats/surrogate_kernel_impl.h"
