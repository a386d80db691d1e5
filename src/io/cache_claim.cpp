#include "src/io/cache_claim.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <set>

namespace refinery {

namespace {

// The claims this process holds: taking one of them again would wait on
// itself (open-file-description locks conflict within a process too).
std::mutex g_mutex;
std::set<std::string> g_held;

// A write lock on the whole file, not waiting; -1 with errno where refused.
int lock_whole_file(int fd) {
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = 0;
  lock.l_len = 0;
#ifdef F_OFD_SETLK
  return fcntl(fd, F_OFD_SETLK, &lock);
#else
  return fcntl(fd, F_SETLK, &lock);
#endif
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "an unnamed host";
  return name;
}

}  // namespace

CacheClaim::CacheClaim(std::string path) : path_(std::move(path)) {
  {
    std::lock_guard<std::mutex> guard(g_mutex);
    if (g_held.count(path_)) return;  // unavailable: this process computes it already
  }
  fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) return;  // unavailable
  if (lock_whole_file(fd_) == 0) {
    state_ = State::held;
    std::lock_guard<std::mutex> guard(g_mutex);
    g_held.insert(path_);
    // Who holds it, for the messages of those who wait.
    const std::string me = "process " + std::to_string(getpid()) + " on host " + host_name();
    if (ftruncate(fd_, 0) == 0) {
      const ssize_t written = pwrite(fd_, me.data(), me.size(), 0);
      (void)written;  // the description serves messages only
    }
    return;
  }
  const int error = errno;
  if (error == EAGAIN || error == EACCES) {
    state_ = State::held_elsewhere;
    char text[512] = {};
    const ssize_t n = pread(fd_, text, sizeof(text) - 1, 0);
    holder_ = n > 0 ? std::string(text, size_t(n)) : "another process";
  }
  close(fd_);  // held elsewhere, or no locks here (unavailable)
  fd_ = -1;
}

CacheClaim::~CacheClaim() {
  if (state_ != State::held) return;
  // The file goes first, then the lock with the descriptor. A process that
  // opened the file before the unlink may then lock the unlinked file while
  // another creates a new one: both compute the entry, which stays correct
  // (entries are written atomically); it only repeats work in that race.
  unlink(path_.c_str());
  close(fd_);
  std::lock_guard<std::mutex> guard(g_mutex);
  g_held.erase(path_);
}

}  // namespace refinery
