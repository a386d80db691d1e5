// Copies between LibTorch tensors and Eigen matrices (float64), where
// trained networks hand their outputs to the LibTorch-free engine and back.
#pragma once
#include <Eigen/Dense>
#include <torch/torch.h>

namespace refinery {

// A tensor of rank 1 or 2 as an [N, M] matrix (rank 1: one column).
inline Eigen::MatrixXd to_eigen_matrix(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kFloat64).contiguous().view({t.size(0), -1});
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  return Eigen::Map<const RowMajor>(c.data_ptr<double>(), c.size(0), c.size(1));
}

// A matrix as a float64 tensor [rows, cols].
inline torch::Tensor to_tensor(const Eigen::MatrixXd& m) {
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major = m;
  return torch::from_blob(row_major.data(), {m.rows(), m.cols()}, torch::kFloat64).clone();
}

}  // namespace refinery
