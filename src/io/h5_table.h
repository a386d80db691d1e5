// H5Table: numeric datasets of an HDF5 file written by another program (any
// integer or floating type, rank 1 or 2), read by rows and converted to
// float64, so that `refinery import` can turn a physicist's per-process files
// into refinery's event files (docs/formats.md) without loading them whole.
// Every dataset is checked before it is read: present, numeric, rank 1 or 2,
// and its declared rows really stored (h5_storage.h).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include <torch/types.h>

namespace refinery {

class H5Table {
 public:
  // Throws InputError(path, "file", ...) when the file is missing or not HDF5.
  explicit H5Table(const std::string& path);
  ~H5Table();
  H5Table(const H5Table&) = delete;
  H5Table& operator=(const H5Table&) = delete;

  struct Shape {
    std::int64_t rows = 0;
    std::int64_t width = 1;  // 1 for rank 1
  };
  // Throws InputError(path, dataset, ...) on any problem above.
  Shape shape(const std::string& dataset) const;
  // Rows [start, start + count) as float64 [count, width].
  torch::Tensor read(const std::string& dataset, std::int64_t start, std::int64_t count) const;
  // The whole dataset as float64 [rows, width], checked to have that shape
  // (rows < 0 or width < 0: any) and finite values; InputError naming it.
  torch::Tensor read_whole(const std::string& dataset, std::int64_t rows, std::int64_t width) const;
  // Whether the file has an object of that name.
  bool contains(const std::string& dataset) const;
  const std::string& path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace refinery
