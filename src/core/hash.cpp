#include "src/core/hash.h"

#include <cstdio>
#include <fstream>
#include <vector>
#include <nlohmann/json.hpp>

#include "src/core/error.h"

namespace refinery {

std::uint64_t fnv1a64(const std::string& bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV offset basis
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;  // FNV prime
  }
  return h;
}

std::uint64_t fnv1a64_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "file", "cannot be read");
  std::uint64_t h = 0xcbf29ce484222325ULL;
  std::vector<char> block(1 << 20);
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const std::streamsize n = in.gcount();
    for (std::streamsize i = 0; i < n; ++i) {
      h ^= static_cast<unsigned char>(block[i]);
      h *= 0x100000001b3ULL;
    }
  }
  if (in.bad()) throw InputError(path, "file", "read error");
  return h;
}

std::string hex64(std::uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

std::string json_hash(const nlohmann::json& document) { return hex64(fnv1a64(document.dump())); }

}  // namespace refinery
