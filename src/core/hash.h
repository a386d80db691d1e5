// Content hashes recorded in every output (config hash): 64-bit FNV-1a of the
// canonical (key-sorted, compact) JSON text, as 16 hex digits. It identifies a
// configuration; it is not a cryptographic digest.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace refinery {

std::uint64_t fnv1a64(const std::string& bytes);
// FNV-1a of a file's bytes, read in blocks; InputError naming the path if it
// cannot be read.
std::uint64_t fnv1a64_file(const std::string& path);
std::string hex64(std::uint64_t value);
// Hash of a JSON document in canonical form (nlohmann sorts object keys).
std::string json_hash(const nlohmann::json& document);

}  // namespace refinery
