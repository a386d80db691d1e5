#include "src/io/h5_probe.h"

#include <omp.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "src/core/error.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REFINERY_H5_PROBE_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define REFINERY_H5_PROBE_SANITIZED 1
#endif
#ifdef REFINERY_H5_PROBE_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

namespace refinery::h5 {

namespace {

// A reading's time limit: refinery's own files take milliseconds (a
// 240 MB mc.h5's metadata ~10 ms), so this is far above any honest file's.
constexpr double kDefaultSeconds = 20.0;

bool in_probe_child = false;
// Paths whose reading a ProbedScope covers (nested scopes of one path stack).
thread_local std::vector<std::string> probed_paths;
std::atomic<long> forked{0};

[[noreturn]] void run_child(const std::function<void()>& read, double limit) {
  in_probe_child = true;
  // Never outlive the reader: killed with its parent (a parent killed by a
  // harness left children looping in libhdf5), and by the kernel after the
  // time limit's CPU seconds and a margin whatever the parent does.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const rlim_t cpu = static_cast<rlim_t>(limit) + 5;
  const struct rlimit rl = {cpu, cpu};
  ::setrlimit(RLIMIT_CPU, &rl);
  // A crash here is the parent's to report, not a harness's: default
  // dispositions, and no sanitizer death callback (libFuzzer's would record
  // the input as its own crash).
  for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::signal(s, SIG_DFL);
  // Whatever reports a crash here (a sanitizer, glibc's abort) is not the
  // command's output: the parent says it in one line.
  const int null = ::open("/dev/null", O_WRONLY);
  if (null >= 0) {
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
  }
#ifdef REFINERY_H5_PROBE_SANITIZED
  __sanitizer_set_death_callback(nullptr);
#endif
  omp_set_num_threads(1);  // LibTorch's kernels serial (at::set_num_threads would touch dead pools)
  try {
    read();
  } catch (...) {
    // the parent meets it again in-process, and reports it there
  }
  ::_exit(0);  // no atexit handlers, no destructors of the parent's objects
}

double probe_seconds() {
  const char* text = std::getenv("REFINERY_HDF5_PROBE_SECONDS");
  if (text) {
    char* end = nullptr;
    const double v = std::strtod(text, &end);
    if (end != text && *end == '\0' && v > 0 && v < 1e6) return v;
  }
  return kDefaultSeconds;
}

}  // namespace

long forks() { return forked.load(); }

ProbedScope::ProbedScope(std::string path) : path_(std::move(path)) { probed_paths.push_back(path_); }

ProbedScope::~ProbedScope() {
  const auto it = std::find(probed_paths.rbegin(), probed_paths.rend(), path_);
  if (it != probed_paths.rend()) probed_paths.erase(std::next(it).base());
}

void probe(const std::string& path, const std::function<void()>& read) {
  if (in_probe_child) return;
  if (std::find(probed_paths.begin(), probed_paths.end(), path) != probed_paths.end()) return;
  const double limit = probe_seconds();
  const pid_t pid = ::fork();
  if (pid < 0) return;
  if (pid == 0) run_child(read, limit);
  ++forked;
  // Polled, so that a walk libhdf5 never finishes (a damaged global heap
  // makes it loop) is stopped: the in-process read would hang the same way.
  int status = 0;
  const auto start = std::chrono::steady_clock::now();
  auto pause = std::chrono::microseconds(100);
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) return;  // not ours to judge
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > limit) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      char text[64];
      std::snprintf(text, sizeof text, "%g", limit);
      throw InputError(path, "", std::string("damaged HDF5 file: the HDF5 library did not finish reading it in ") +
                                     text + " s (REFINERY_HDF5_PROBE_SECONDS); nothing was read");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(2 * pause, std::chrono::microseconds(20000));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  // The child leaves by _exit(0) alone: another exit code is a sanitizer's
  // or the C library's report of a crash (an ASan build exits 1).
  const std::string how = WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                          : WIFSIGNALED(status) ? std::string(::strsignal(WTERMSIG(status)))
                                                : std::string("stopped");
  throw InputError(path, "", "damaged HDF5 file: the HDF5 library crashed reading it (" + how + "); nothing was read");
}

}  // namespace refinery::h5
