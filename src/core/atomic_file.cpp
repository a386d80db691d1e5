#include "src/core/atomic_file.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "src/core/error.h"

namespace refinery {
namespace fs = std::filesystem;

namespace {
std::atomic<unsigned> g_counter{0};

// Temporary files of the live AtomicFiles, for the signal handler: fixed
// storage, since a handler may only call async-signal-safe functions
// (unlink, signal, raise).
constexpr int kSlots = 64;
constexpr std::size_t kPathMax = 4096;
char g_paths[kSlots][kPathMax];
std::atomic<bool> g_claimed[kSlots];  // slot owned by an AtomicFile
std::atomic<bool> g_used[kSlots];     // slot's path complete: the handler removes it

extern "C" void remove_temporaries_and_reraise(int sig) {
  for (int i = 0; i < kSlots; ++i)
    if (g_used[i].load()) unlink(g_paths[i]);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void install_handlers_once() {
  static const bool installed = [] {
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
      struct sigaction old {};
      sigaction(sig, nullptr, &old);
      // Leave a signal the caller chose to ignore (nohup) ignored.
      if (old.sa_handler == SIG_IGN) continue;
      std::signal(sig, remove_temporaries_and_reraise);
    }
    return true;
  }();
  (void)installed;
}

int register_temporary(const std::string& path) {
  if (path.size() >= kPathMax) return -1;
  for (int i = 0; i < kSlots; ++i) {
    bool expected = false;
    if (g_claimed[i].compare_exchange_strong(expected, true)) {
      std::memcpy(g_paths[i], path.c_str(), path.size() + 1);
      g_used[i].store(true);
      return i;
    }
  }
  return -1;  // more than kSlots at once: still removed by the destructor
}

void release_slot(int slot) {
  if (slot < 0) return;
  g_used[slot].store(false);
  g_claimed[slot].store(false);
}

// Removes temporary files of `name` in `dir` left by processes that no
// longer run (killed with SIGKILL, or a power cut): ".<name>.tmp.<pid>.<n>".
void remove_stale_temporaries(const fs::path& dir, const std::string& name) {
  const std::string prefix = "." + name + ".tmp.";
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string f = it->path().filename().string();
    if (f.rfind(prefix, 0) != 0) continue;
    const std::string rest = f.substr(prefix.size());
    const std::size_t dot = rest.find('.');
    if (dot == std::string::npos || dot == 0) continue;
    char* stop = nullptr;
    const long pid = std::strtol(rest.c_str(), &stop, 10);
    if (stop != rest.c_str() + dot || pid <= 0) continue;
    if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove(it->path(), ec);
  }
}
}  // namespace

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
  remove_stale_temporaries(dir, p.filename().string());
  temp_path_ = (dir / ("." + p.filename().string() + ".tmp." + std::to_string(getpid()) + "." +
                       std::to_string(g_counter++)))
                   .string();
  install_handlers_once();
  slot_ = register_temporary(temp_path_);
}

AtomicFile::~AtomicFile() {
  if (!committed_) std::remove(temp_path_.c_str());
  release_slot(slot_);
}

void AtomicFile::commit() {
  if (committed_) return;
  if (std::rename(temp_path_.c_str(), final_path_.c_str()) != 0)
    throw InputError(final_path_, "", std::string("cannot rename temporary file into place: ") +
                                          std::strerror(errno));
  committed_ = true;
  release_slot(slot_);
  slot_ = -1;
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
