#include "src/io/h5_table.h"

#include <H5Cpp.h>
#include <torch/torch.h>

#include <filesystem>
#include <map>

#include "src/core/error.h"
#include "src/io/h5_probe.h"
#include "src/io/h5_storage.h"

namespace refinery {

struct H5Table::Impl {
  std::string path;
  H5::H5File file;
  mutable std::map<std::string, std::pair<H5::DataSet, Shape>> open;

  const std::pair<H5::DataSet, Shape>& dataset(const std::string& name) const {
    auto it = open.find(name);
    if (it != open.end()) return it->second;
    // libhdf5 itself may crash or hang on a damaged header: the same
    // reading first in a child (h5_probe.h), then here.
    h5::probe(path, [&] { load(name); });
    return open.emplace(name, load(name)).first->second;
  }

  std::pair<H5::DataSet, Shape> load(const std::string& name) const {
    if (name.empty()) throw InputError(path, "dataset", "no dataset name given");
    bool exists = false;
    try {
      exists = file.nameExists(name);
    } catch (const H5::Exception&) {
      exists = false;  // a path through a missing group
    }
    if (!exists) throw InputError(path, name, "no such dataset");
    // Damaged metadata makes any of libhdf5's calls below throw: one line
    // naming the dataset, like every other problem with it.
    H5::DataSet ds;
    std::vector<hsize_t> dims;
    try {
      if (file.childObjType(name) != H5O_TYPE_DATASET) throw InputError(path, name, "is not a dataset (a group?)");
      ds = file.openDataSet(name);
      const H5T_class_t c = ds.getTypeClass();
      if (c != H5T_INTEGER && c != H5T_FLOAT)
        throw InputError(path, name, "is not numeric (integer or floating point)");
      H5::DataSpace space = ds.getSpace();
      const int rank = space.getSimpleExtentNdims();
      if (rank < 1 || rank > 2)
        throw InputError(path, name, "must have rank 1 (one column) or 2 (rows x columns), found rank " + std::to_string(rank));
      dims.assign(rank, 0);
      space.getSimpleExtentDims(dims.data());
      h5::check_stored(ds, path, name, dims, ds.getDataType().getSize());
    } catch (const H5::Exception& e) {
      throw InputError(path, name, "unreadable (damaged HDF5 metadata: " + e.getDetailMsg() + ")");
    }
    Shape s{int64_t(dims[0]), dims.size() == 2 ? int64_t(dims[1]) : 1};
    return {ds, s};
  }
};

H5Table::H5Table(const std::string& path) : impl_(std::make_unique<Impl>()) {
  H5::Exception::dontPrint();
  impl_->path = path;
  if (!std::filesystem::exists(path)) throw InputError(path, "file", "not found");
  if (std::filesystem::is_directory(path)) throw InputError(path, "file", "is a directory, not an HDF5 file");
  try {
    if (!H5::H5File::isHdf5(path)) throw InputError(path, "file", "not an HDF5 file");
    h5::probe(path, [&] { H5::H5File trial(path, H5F_ACC_RDONLY); });  // h5_probe.h
    impl_->file = H5::H5File(path, H5F_ACC_RDONLY);
  } catch (const H5::Exception&) {
    throw InputError(path, "file", "cannot be opened as HDF5");
  }
}

H5Table::~H5Table() = default;

const std::string& H5Table::path() const { return impl_->path; }

H5Table::Shape H5Table::shape(const std::string& dataset) const { return impl_->dataset(dataset).second; }

torch::Tensor H5Table::read(const std::string& dataset, int64_t start, int64_t count) const {
  const auto& [ds, shape] = impl_->dataset(dataset);
  count = std::max<int64_t>(0, std::min(count, shape.rows - start));
  torch::Tensor out = torch::empty({count, shape.width}, torch::kFloat64);
  if (count == 0) return out;
  try {
    const int rank = ds.getSpace().getSimpleExtentNdims();
    hsize_t offset[2] = {hsize_t(start), 0};
    hsize_t extent[2] = {hsize_t(count), hsize_t(shape.width)};
    H5::DataSpace file_space = ds.getSpace();
    file_space.selectHyperslab(H5S_SELECT_SET, extent, offset);
    H5::DataSpace mem_space(rank, extent);
    ds.read(out.data_ptr<double>(), H5::PredType::NATIVE_DOUBLE, mem_space, file_space);
  } catch (const H5::Exception&) {
    throw InputError(impl_->path, dataset,
                     "cannot read rows " + std::to_string(start) + ".." + std::to_string(start + count) +
                         " (truncated or corrupt file?)");
  }
  return out;
}

torch::Tensor H5Table::read_whole(const std::string& dataset, int64_t rows, int64_t width) const {
  const Shape s = shape(dataset);
  if ((rows >= 0 && s.rows != rows) || (width >= 0 && s.width != width))
    throw InputError(impl_->path, dataset,
                     "has shape [" + std::to_string(s.rows) + ", " + std::to_string(s.width) + "], expected [" +
                         (rows >= 0 ? std::to_string(rows) : std::string("N")) + ", " +
                         (width >= 0 ? std::to_string(width) : std::string("any")) + "]");
  const torch::Tensor t = read(dataset, 0, s.rows);
  if (!torch::isfinite(t).all().item<bool>()) throw InputError(impl_->path, dataset, "has a non-finite value");
  return t;
}

bool H5Table::contains(const std::string& dataset) const {
  try {
    return impl_->file.nameExists(dataset);
  } catch (const H5::Exception&) {
    return false;
  }
}

}  // namespace refinery
