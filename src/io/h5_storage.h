// Whether the rows an HDF5 dataset declares are in the file: a chunked
// dataset whose extent was set to 10^9 rows with a few chunks written (or a
// contiguous one cut short) would otherwise read fill values for minutes or
// make a reader allocate memory for data that does not exist.
#pragma once
#include <H5Cpp.h>

#include <string>
#include <vector>

namespace refinery::h5 {

// Throws InputError(path, name, ...) when fewer bytes or chunks are stored
// than `dims` of elements of `type_size` bytes need.
void check_stored(const H5::DataSet& ds, const std::string& path, const std::string& name,
                  const std::vector<hsize_t>& dims, std::size_t type_size);

}  // namespace refinery::h5
