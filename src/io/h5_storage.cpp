#include "src/io/h5_storage.h"

#include <algorithm>

#include "src/core/error.h"

namespace refinery::h5 {

void check_stored(const H5::DataSet& ds, const std::string& path, const std::string& name,
                  const std::vector<hsize_t>& dims, std::size_t type_size) {
  // A declared size whose bytes overflow 64 bits cannot be stored in any
  // file (and would wrap the checks below to a small number).
  hsize_t elements = 1, bytes = 0;
  for (hsize_t d : dims)
    if (__builtin_mul_overflow(elements, d, &elements))
      throw InputError(path, name, "declares more elements than any file can hold");
  if (__builtin_mul_overflow(elements, std::max<std::size_t>(type_size, 1), &bytes) || bytes > (hsize_t(1) << 62))
    throw InputError(path, name, "declares more bytes than any file can hold");
  if (elements == 0) return;
  const hid_t id = ds.getId();
  const hid_t plist = H5Dget_create_plist(id);
  const H5D_layout_t layout = H5Pget_layout(plist);
  std::vector<hsize_t> chunk(dims.size(), 0);
  if (layout == H5D_CHUNKED) H5Pget_chunk(plist, static_cast<int>(chunk.size()), chunk.data());
  H5Pclose(plist);
  if (layout == H5D_CHUNKED) {
    hsize_t needed = 1;
    for (std::size_t k = 0; k < dims.size(); ++k) {
      const hsize_t c = std::max<hsize_t>(chunk[k], 1);
      needed *= dims[k] / c + (dims[k] % c != 0);  // at most `elements`: no overflow
    }
    hsize_t stored = 0;
    const H5::DataSpace all = ds.getSpace();  // HDF5 1.10 refuses H5S_ALL here
    if (H5Dget_num_chunks(id, all.getId(), &stored) >= 0 && stored < needed)
      throw InputError(path, name,
                       "declares " + std::to_string(dims[0]) + " rows but only " + std::to_string(stored) + " of its " +
                           std::to_string(needed) + " chunks are written (the rest holds no data)");
  } else if (layout == H5D_CONTIGUOUS) {
    const hsize_t stored = H5Dget_storage_size(id);
    if (stored < bytes)
      throw InputError(path, name,
                       "declares " + std::to_string(dims[0]) + " rows but holds " + std::to_string(stored) +
                           " of their " + std::to_string(bytes) + " bytes");
  }
}

}  // namespace refinery::h5
