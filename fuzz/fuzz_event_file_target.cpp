// The fuzz target "event_file" (fuzz/fuzz_targets.h): the HDF5 readers of
// the LibTorch part on one file's bytes. Separate from fuzz_targets.cpp,
// which links only the LibTorch-free library.
#include <torch/torch.h>
#undef CHECK

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz/fuzz_targets.h"
#include "src/core/error.h"
#include "src/io/augmented_sample.h"
#include "src/io/event_reader.h"
#include "src/io/h5_table.h"
#include "src/io/learned_ratio_file.h"

namespace refinery::fuzz {

namespace {

// The input as a file (libhdf5 reads files): one per process, rewritten for
// every input, in /dev/shm where there is one.
const std::string& scratch_path() {
  static const std::string path = [] {
    const std::filesystem::path dir = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    return (dir / ("refinery_fuzz_event_file_" + std::to_string(::getpid()) + ".h5")).string();
  }();
  return path;
}

// Runs one reader; true when it accepts the file, false on an InputError.
template <class F>
bool accepts(F&& read) {
  try {
    read();
  } catch (const InputError&) {
    return false;
  }
  return true;
}

}  // namespace

bool event_file(const std::uint8_t* data, std::size_t size) {
  const std::string& path = scratch_path();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  bool any = false;
  // An event file, as every command reads one: its layout, then every row in
  // blocks (the values checked block by block).
  any |= accepts([&] {
    EventReader reader(path);
    reader.meta();
    reader.for_each_block(64, [](const EventSet&, std::int64_t) {});
  });
  // A table of another program's file, as `refinery import` reads it.
  any |= accepts([&] {
    H5Table table(path);
    for (const char* name : {"features", "weights", "x", "theta"})
      if (table.contains(name)) {
        const H5Table::Shape shape = table.shape(name);
        table.read(name, 0, std::min<std::int64_t>(shape.rows, 256));
      }
  });
  any |= accepts([&] { read_augmented_sample(path); });
  any |= accepts([&] { read_learned_ratio_file(path); });
  std::remove(path.c_str());
  return any;
}

}  // namespace refinery::fuzz
