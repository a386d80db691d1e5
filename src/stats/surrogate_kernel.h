// The batch forward pass of a likelihood surrogate's networks
// (src/stats/yield_surrogate.h): dense layers with SiLU between them, on
// many points at once. Built three times, for the x86-64 baseline, for
// AVX2+FMA and for AVX-512, and chosen at run time by what the CPU has (one
// layer of a 5 x 256 network: 31, 95 and 136 GFLOP/s on one core of an
// AVX-512 Xeon; docs/performance.md). Each build holds its own copy of
// Eigen under another namespace name (surrogate_kernel_impl.h), so no inline
// function compiled for one instruction set is shared with another. The
// choice: src/core/cpu_features.h (REFINERY_KERNEL_ISA asks for a lower one).
// LibTorch-free.
#pragma once

namespace refinery::stats::surrogate_kernel {

struct Layer {
  const float* weight;  // column-major [rows, cols]
  const float* bias;    // [rows]
  int rows, cols;
};

// One network on n points: x column-major [layers[0].cols, n] (a point per
// column) -> out column-major [layers[count-1].rows, n]; SiLU after every
// layer but the last.
void forward(const Layer* layers, int count, const float* x, int n, float* out);

// The instruction set the run-time choice took: "avx512", "avx2" or "generic".
const char* instruction_set();

// `forward` with a named build ("generic", "avx2", "avx512"), for tests that
// compare them; false (nothing computed) when this CPU lacks its instructions.
bool forward_with(const char* build, const Layer* layers, int count, const float* x, int n, float* out);

}  // namespace refinery::stats::surrogate_kernel
