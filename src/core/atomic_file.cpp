#include "src/core/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "src/core/error.h"

namespace refinery {
namespace fs = std::filesystem;

namespace {
std::atomic<unsigned> g_counter{0};
}

AtomicFile::AtomicFile(std::string final_path) : final_path_(std::move(final_path)) {
  if (final_path_.empty()) throw InputError("", "--out", "empty output path");
  fs::path p(final_path_);
  fs::path dir = p.parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw InputError(final_path_, "", "output directory '" + dir.string() + "' does not exist");
  if (fs::is_directory(p, ec))
    throw InputError(final_path_, "", "output path is a directory");
  if (access(dir.c_str(), W_OK) != 0)
    throw InputError(final_path_, "", "output directory '" + dir.string() + "' is not writable");
  temp_path_ = (dir / ("." + p.filename().string() + ".tmp." + std::to_string(getpid()) + "." +
                       std::to_string(g_counter++)))
                   .string();
}

AtomicFile::~AtomicFile() {
  if (!committed_) std::remove(temp_path_.c_str());
}

void AtomicFile::commit() {
  if (committed_) return;
  if (std::rename(temp_path_.c_str(), final_path_.c_str()) != 0)
    throw InputError(final_path_, "", std::string("cannot rename temporary file into place: ") +
                                          std::strerror(errno));
  committed_ = true;
}

void write_text_atomically(const std::string& path, const std::string& text) {
  AtomicFile file(path);
  {
    std::ofstream out(file.temp_path(), std::ios::binary);
    if (!out) throw InputError(path, "", "cannot open for writing");
    out << text;
    out.flush();
    if (!out) throw InputError(path, "", "write failed");
  }
  file.commit();
}

}  // namespace refinery
