// Writing a tensor as an HDF5 dataset, as refinery's own small formats do
// (augmented samples, learned-ratio likelihoods): float32 or float64
// little-endian, chunked with shuffle and deflate level 1 above 4096 rows.
#pragma once
#include <Eigen/Dense>
#include <H5Cpp.h>
#include <torch/types.h>

#include <string>

namespace refinery::h5 {

// `t` (rank 1 or 2, any floating type) as dataset `name`, float32 where
// `single`, else float64.
void write_dataset(H5::H5File& file, const std::string& name, const torch::Tensor& t, bool single = false);
// A matrix as float64 [rows, cols], or as a vector [rows * cols] where `vector`.
void write_matrix(H5::H5File& file, const std::string& name, const Eigen::MatrixXd& m, bool vector);

}  // namespace refinery::h5
