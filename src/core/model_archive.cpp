#include "src/core/model_archive.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "src/core/error.h"

namespace refinery {

namespace {

constexpr std::uint32_t kEndOfCentralDirectory = 0x06054b50, kZip64End = 0x06064b50, kZip64Locator = 0x07064b50,
                        kCentralEntry = 0x02014b50, kLocalHeader = 0x04034b50;
constexpr std::uint64_t kMaxEntries = 100000;

// CRC-32 (the zip polynomial 0xEDB88320, reflected).
std::uint32_t crc32(const char* data, std::size_t n) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) c = table[(c ^ static_cast<unsigned char>(data[i])) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// Little-endian reads with every offset checked against the bytes.
class Bytes {
 public:
  Bytes(const std::string& b, const std::string& path) : b_(b), path_(path) {}
  std::uint64_t u(std::uint64_t at, int width, const char* what) const {
    if (at > b_.size() || b_.size() - at < static_cast<std::uint64_t>(width)) fail(std::string(what) + " lies beyond the file");
    std::uint64_t v = 0;
    for (int k = width - 1; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(b_[at + k]);
    return v;
  }
  std::uint64_t u16(std::uint64_t at, const char* what) const { return u(at, 2, what); }
  std::uint64_t u32(std::uint64_t at, const char* what) const { return u(at, 4, what); }
  std::uint64_t u64(std::uint64_t at, const char* what) const { return u(at, 8, what); }
  std::string text(std::uint64_t at, std::uint64_t n, const char* what) const {
    if (at > b_.size() || b_.size() - at < n) fail(std::string(what) + " lies beyond the file");
    return b_.substr(at, n);
  }
  std::uint64_t size() const { return b_.size(); }
  [[noreturn]] void fail(const std::string& why) const {
    throw InputError(path_, "", "not a TorchScript archive (zip: " + why + ")");
  }

 private:
  const std::string& b_;
  const std::string& path_;
};

struct Entry {
  std::string name;
  std::uint64_t method = 0, compressed = 0, uncompressed = 0, local = 0, crc = 0, data = 0;
};

}  // namespace

nlohmann::json read_model_archive_metadata(const std::string& bytes, const std::string& path) {
  const Bytes z(bytes, path);
  // The end of the central directory: the last signature whose comment runs
  // exactly to the end of the file.
  std::uint64_t eocd = UINT64_MAX;
  if (z.size() >= 22)
    for (std::uint64_t at = z.size() - 22;; --at) {
      if (z.u32(at, "end record") == kEndOfCentralDirectory && at + 22 + z.u16(at + 20, "comment") == z.size()) {
        eocd = at;
        break;
      }
      if (at == 0 || z.size() - at > 22 + 65535) break;
    }
  if (eocd == UINT64_MAX) throw InputError(path, "", "not a TorchScript archive");
  if (z.u16(eocd + 4, "end record") != 0 || z.u16(eocd + 6, "end record") != 0)
    z.fail("a multi-disk archive");
  std::uint64_t entries = z.u16(eocd + 10, "end record"), cd_size = z.u32(eocd + 12, "end record"),
                cd_offset = z.u32(eocd + 16, "end record"), cd_limit = eocd;
  if (z.u16(eocd + 8, "end record") != entries) z.fail("entry counts of the end record disagree");
  if (entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
    if (eocd < 20 || z.u32(eocd - 20, "ZIP64 locator") != kZip64Locator) z.fail("ZIP64 fields without a ZIP64 locator");
    const std::uint64_t at = z.u64(eocd - 12, "ZIP64 locator");
    if (at >= eocd - 20 || z.u32(at, "ZIP64 end record") != kZip64End) z.fail("the ZIP64 end record is not where its locator points");
    entries = z.u64(at + 32, "ZIP64 end record");
    if (z.u64(at + 24, "ZIP64 end record") != entries) z.fail("entry counts of the ZIP64 end record disagree");
    cd_size = z.u64(at + 40, "ZIP64 end record");
    cd_offset = z.u64(at + 48, "ZIP64 end record");
    cd_limit = at;
  }
  if (entries == 0 || entries > kMaxEntries) z.fail("holds " + std::to_string(entries) + " entries");
  if (cd_offset > cd_limit || cd_limit - cd_offset < cd_size) z.fail("the central directory lies beyond its end record");

  std::vector<Entry> list;
  std::set<std::string> names;
  std::uint64_t p = cd_offset;
  const std::uint64_t cd_end = cd_offset + cd_size;
  for (std::uint64_t i = 0; i < entries; ++i) {
    const std::string at = "central directory entry " + std::to_string(i);
    if (p + 46 > cd_end || z.u32(p, at.c_str()) != kCentralEntry) z.fail(at + ": no entry where the directory says");
    Entry e;
    e.method = z.u16(p + 10, at.c_str());
    e.crc = z.u32(p + 16, at.c_str());
    e.compressed = z.u32(p + 20, at.c_str());
    e.uncompressed = z.u32(p + 24, at.c_str());
    const std::uint64_t name_len = z.u16(p + 28, at.c_str()), extra_len = z.u16(p + 30, at.c_str()),
                        comment_len = z.u16(p + 32, at.c_str());
    if (z.u16(p + 34, at.c_str()) != 0) z.fail(at + ": on another disk");
    e.local = z.u32(p + 42, at.c_str());
    if (p + 46 + name_len + extra_len + comment_len > cd_end) z.fail(at + ": runs past the central directory");
    e.name = z.text(p + 46, name_len, at.c_str());
    // ZIP64 extended information (header 0x0001): the 8-byte values of the
    // fields that overflowed, in the order uncompressed, compressed, offset.
    for (std::uint64_t x = p + 46 + name_len, end = x + extra_len; x < end;) {
      if (end - x < 4) z.fail(at + ": a truncated extra field");
      const std::uint64_t id = z.u16(x, at.c_str()), len = z.u16(x + 2, at.c_str());
      if (end - x - 4 < len) z.fail(at + ": an extra field runs past its entry");
      if (id == 0x0001) {
        std::uint64_t q = x + 4;
        auto take = [&](std::uint64_t& field) {
          if (field != 0xFFFFFFFF) return;
          if (q + 8 > x + 4 + len) z.fail(at + ": a short ZIP64 extra field");
          field = z.u64(q, at.c_str());
          q += 8;
        };
        take(e.uncompressed);
        take(e.compressed);
        take(e.local);
      }
      x += 4 + len;
    }
    // Names: one top folder, no absolute or parent paths.
    bool parent = false;
    for (std::size_t from = 0; from <= e.name.size();) {
      const std::size_t slash = std::min(e.name.find('/', from), e.name.size());
      parent = parent || e.name.compare(from, slash - from, "..") == 0;
      from = slash + 1;
    }
    if (e.name.empty() || e.name[0] == '/' || parent || e.name.find('\0') != std::string::npos)
      z.fail(at + ": name '" + e.name + "' is not a relative path inside the archive");
    if (!names.insert(e.name).second) z.fail(at + ": '" + e.name + "' appears twice");
    // The local header: same name, data inside the file before the directory.
    if (e.local >= cd_offset || z.u32(e.local, at.c_str()) != kLocalHeader)
      z.fail(at + ": no local header at its offset " + std::to_string(e.local));
    const std::uint64_t local_name = z.u16(e.local + 26, at.c_str()), local_extra = z.u16(e.local + 28, at.c_str());
    if (z.text(e.local + 30, local_name, at.c_str()) != e.name) z.fail(at + ": its local header names another entry");
    e.data = e.local + 30 + local_name + local_extra;
    if (e.data > cd_offset || cd_offset - e.data < e.compressed) z.fail(at + ": '" + e.name + "' runs into the central directory");
    list.push_back(e);
    p += 46 + name_len + extra_len + comment_len;
  }
  const std::string top = list[0].name.substr(0, list[0].name.find('/'));
  for (const Entry& e : list)
    if (e.name.compare(0, top.size() + 1, top + "/") != 0) z.fail("entries under more than one folder ('" + e.name + "')");
  if (!names.count(top + "/data.pkl")) throw InputError(path, "", "not a TorchScript archive (no " + top + "/data.pkl)");
  const Entry* meta = nullptr;
  for (const Entry& e : list)
    if (e.name == top + "/extra/metadata.json") meta = &e;
  if (!meta) throw InputError(path, "metadata.json", "not a refinery model (no metadata)");
  if (meta->method != 0 || meta->compressed != meta->uncompressed)
    throw InputError(path, "metadata.json", "stored compressed (method " + std::to_string(meta->method) +
                                                "): not written by refinery");
  const std::string text = z.text(meta->data, meta->compressed, "metadata.json");
  if (crc32(text.data(), text.size()) != meta->crc) throw InputError(path, "metadata.json", "fails its CRC-32: a damaged file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    throw InputError(path, "metadata.json", "malformed JSON");
  }
  if (!j.is_object()) throw InputError(path, "metadata.json", "not a JSON object");
  return j;
}

nlohmann::json read_model_archive_metadata_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot be read");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return read_model_archive_metadata(bytes, path);
}

}  // namespace refinery
