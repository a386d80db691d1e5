// EventWriter: streams EventSets into an HDF5 event file (design.md section
// 10) chunk by chunk, so files larger than memory can be written. The file is
// built under a temporary name and renamed into place by close(); a writer
// destroyed without close() (an error, an interrupt) leaves nothing under
// the final name.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "src/io/event_set.h"

namespace refinery {

struct EventWriterOptions {
  // Rows per HDF5 chunk. 16384 rows of 28 float32 features is 1.8 MB: large
  // enough for fast deflate, small enough to read a slice cheaply.
  std::int64_t chunk_rows = 16384;
  // Deflate level 0-9 (0 disables compression). 1 is ~5x faster than 6 for
  // a ~10% larger file; generation speed matters more here.
  int deflate_level = 1;
  // Byte shuffle before deflate: float data compress much better with it.
  bool shuffle = true;
};

class EventWriter {
 public:
  EventWriter(const std::string& path, EventMeta meta, EventWriterOptions options = {});
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  // Appends a block (validated first: dtypes, shapes, finite values). The
  // block must carry nuisances iff the metadata names nuisances.
  void append(const EventSet& events);
  // Flushes, closes the HDF5 file and renames it into place.
  void close();
  std::int64_t rows_written() const;
  const std::string& path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience: writes one EventSet to `path`.
void write_events(const std::string& path, const EventSet& events, const EventMeta& meta,
                  EventWriterOptions options = {});

}  // namespace refinery
