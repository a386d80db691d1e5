#include "src/io/h5_dataset.h"

#include <torch/torch.h>

#include <algorithm>
#include <vector>

#include "src/core/eigen_tensor.h"

namespace refinery::h5 {

void write_dataset(H5::H5File& file, const std::string& name, const torch::Tensor& t, bool single) {
  const torch::Tensor c = (single ? t.to(torch::kFloat32) : t.to(torch::kFloat64)).contiguous();
  std::vector<hsize_t> dims;
  for (int64_t d : c.sizes()) dims.push_back(hsize_t(d));
  H5::DataSpace space(int(dims.size()), dims.data());
  H5::DSetCreatPropList plist;
  if (dims[0] > 4096) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = std::min<hsize_t>(dims[0], 65536);
    plist.setChunk(int(chunk.size()), chunk.data());
    plist.setShuffle();
    plist.setDeflate(1);
  }
  if (single)
    file.createDataSet(name, H5::PredType::IEEE_F32LE, space, plist).write(c.data_ptr<float>(), H5::PredType::NATIVE_FLOAT);
  else
    file.createDataSet(name, H5::PredType::IEEE_F64LE, space, plist).write(c.data_ptr<double>(), H5::PredType::NATIVE_DOUBLE);
}

void write_matrix(H5::H5File& file, const std::string& name, const Eigen::MatrixXd& m, bool vector) {
  const torch::Tensor t = to_tensor(m);
  write_dataset(file, name, vector ? t.view({-1}) : t);
}

}  // namespace refinery::h5
