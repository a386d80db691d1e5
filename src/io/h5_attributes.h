// Small helpers for HDF5 attributes as refinery stores them: UTF-8
// variable-length strings (scalars and 1-D arrays, readable by h5py as str),
// doubles and unsigned 64-bit integers.
#pragma once
#include <H5Cpp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace refinery::h5 {

void write_string(H5::H5Object& obj, const std::string& name, const std::string& value);
void write_strings(H5::H5Object& obj, const std::string& name,
                   const std::vector<std::string>& values);
void write_double(H5::H5Object& obj, const std::string& name, double value);
void write_uint64(H5::H5Object& obj, const std::string& name, std::uint64_t value);

// Readers return std::nullopt when the attribute is absent and throw
// H5::Exception or std::runtime_error when it has the wrong type.
std::optional<std::string> read_string(const H5::H5Object& obj, const std::string& name);
std::optional<std::vector<std::string>> read_strings(const H5::H5Object& obj,
                                                     const std::string& name);
std::optional<double> read_double(const H5::H5Object& obj, const std::string& name);
std::optional<std::uint64_t> read_uint64(const H5::H5Object& obj, const std::string& name);

}  // namespace refinery::h5
