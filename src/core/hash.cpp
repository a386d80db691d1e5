#include "src/core/hash.h"

#include <cstdio>
#include <fstream>
#include <vector>
#include <nlohmann/json.hpp>

#include "src/core/error.h"

namespace refinery {

namespace {
constexpr std::uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ULL;
// FNV-1a over n more bytes.
std::uint64_t fnv1a64_update(std::uint64_t h, const char* bytes, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(bytes[i]);
    h *= 0x100000001b3ULL;  // FNV prime
  }
  return h;
}
}  // namespace

std::uint64_t fnv1a64(const std::string& bytes) { return fnv1a64_update(kFnvOffsetBasis, bytes.data(), bytes.size()); }

std::uint64_t fnv1a64_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "file", "cannot be read");
  std::uint64_t h = kFnvOffsetBasis;
  std::vector<char> block(1 << 20);
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    h = fnv1a64_update(h, block.data(), static_cast<std::size_t>(in.gcount()));
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
