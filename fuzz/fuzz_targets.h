// The fuzz targets: refinery's readers of outside input, each taking raw
// bytes. A target returns true for an input the reader accepts and false for
// one it refuses with an InputError (the one-line, exit-2 path of every
// command); anything else escaping it, a crash, a sanitizer report or a hang
// is a finding. libFuzzer drives them (fuzz/fuzz_*.cpp, scripts/fuzz); the
// test suite runs every input kept in tests/data/fuzz/<target>/ through them
// (tests/test_fuzz_regressions.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace refinery::fuzz {

// A pyhf workspace (JSON text): parsed, validated, compiled into the model
// in both interpolation schemes, its NLL with gradient and Hessian at the
// initial point, and a fit.
bool workspace(const std::uint8_t* data, std::size_t size);
// A JSON patch (an array of operations) or a HEPData patchset (an object)
// applied to a small fixed workspace, then as above.
bool patch(const std::uint8_t* data, std::size_t size);
// An experiment config (JSON text) validated against the schema.
bool experiment_config(const std::uint8_t* data, std::size_t size);
// A region selection expression over three features.
bool selection(const std::uint8_t* data, std::size_t size);
// A model file (a TorchScript zip archive): its structure and metadata
// checked as before LibTorch would load it (src/core/model_archive.h).
bool model_archive(const std::uint8_t* data, std::size_t size);

// An HDF5 file: an event file read as every command reads one (layout,
// then every row in blocks), a table as `refinery import` reads it, an
// augmented sample and a learned-ratio likelihood file. True when any
// reader accepts it. Defined in fuzz_event_file_target.cpp, which needs the
// LibTorch part (the test binary and fuzz_event_file link it); not in
// targets().
bool event_file(const std::uint8_t* data, std::size_t size);

struct Target {
  const char* name;
  bool (*run)(const std::uint8_t*, std::size_t);
};
// Every target, by the name of its folder in tests/data/fuzz.
const std::vector<Target>& targets();

}  // namespace refinery::fuzz
