#include "src/core/hash.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace refinery {

std::uint64_t fnv1a64(const std::string& bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV offset basis
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;  // FNV prime
  }
  return h;
}

std::string hex64(std::uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

std::string json_hash(const nlohmann::json& document) { return hex64(fnv1a64(document.dump())); }

}  // namespace refinery
