// EventReader: opens an HDF5 event file (design.md section 10), checks its
// layout (datasets present, dtypes, ranks, equal lengths, names), and reads
// rows in blocks straight into tensors, so files larger than memory can be
// processed chunk by chunk. Every block read is validated (finite values,
// process indices) with global row numbers in the error.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "src/io/event_set.h"

namespace refinery {

class EventReader {
 public:
  // Throws InputError naming the file and dataset on any layout problem.
  explicit EventReader(const std::string& path);
  ~EventReader();
  EventReader(const EventReader&) = delete;
  EventReader& operator=(const EventReader&) = delete;

  const EventMeta& meta() const;
  const std::string& path() const;
  std::int64_t size() const;
  bool has_nuisances() const;
  // Rows of one HDF5 chunk of the features dataset (the natural block size).
  std::int64_t chunk_rows() const;

  // Rows [start, start + count), clipped to the file.
  EventSet read(std::int64_t start, std::int64_t count) const;
  EventSet read_all() const;
  // Calls fn(block, first_row) on consecutive blocks of `block_rows` rows.
  void for_each_block(std::int64_t block_rows,
                      const std::function<void(const EventSet&, std::int64_t)>& fn) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience: reads a whole file.
EventSet read_events(const std::string& path, EventMeta* meta = nullptr);

}  // namespace refinery
