// The surrogate kernel's body, compiled once per instruction set (see
// surrogate_kernel.h). Eigen is included under a namespace of this build's
// own (the macro renames the token `Eigen` in its headers), so its inline
// templates, instantiated here with this build's vector instructions, never
// merge with those of another translation unit. This file must be the first
// (and only) place its translation unit includes Eigen.
#ifndef REFINERY_KERNEL_NS
#error "define REFINERY_KERNEL_NS before including surrogate_kernel_impl.h"
#endif
#define REFINERY_KERNEL_CAT2(a, b) a##b
#define REFINERY_KERNEL_CAT(a, b) REFINERY_KERNEL_CAT2(a, b)
#define Eigen REFINERY_KERNEL_CAT(EigenSurrogate_, REFINERY_KERNEL_NS)
#define EIGEN_DONT_PARALLELIZE  // the caller runs blocks on its own threads
#include <Eigen/Dense>

#include "src/stats/surrogate_kernel.h"

namespace refinery::stats::surrogate_kernel::REFINERY_KERNEL_NS {

void forward(const Layer* layers, int count, const float* x, int n, float* out) {
  using Matrix = Eigen::MatrixXf;
  using ConstMap = Eigen::Map<const Matrix>;
  Matrix h = ConstMap(x, layers[0].cols, n), z;
  for (int l = 0; l < count; ++l) {
    const Layer& L = layers[l];
    z.noalias() = ConstMap(L.weight, L.rows, L.cols) * h;
    z.colwise() += Eigen::Map<const Eigen::VectorXf>(L.bias, L.rows);
    if (l + 1 < count) h = z.array() / (1.0f + (-z.array()).exp());
  }
  Eigen::Map<Matrix>(out, layers[count - 1].rows, n) = z;
}

}  // namespace refinery::stats::surrogate_kernel::REFINERY_KERNEL_NS
