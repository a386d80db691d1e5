// Threading on a shared machine (docs/performance.md, "Next to a busy
// process"): the same work run idle and next to a CPU-bound neighbour (one
// process spinning on one core, as on a batch node), with
//   spin      LibTorch's OpenMP threads at libgomp's default wait policy (they
//             spin while waiting: the behaviour before the front end),
//   passive   OMP_WAIT_POLICY=PASSIVE (what `refinery` sets for the commands
//             it hands to refinery-full),
// each at 1 and at N threads. The work is a command line with {threads} in it,
// run through /bin/sh; by default the profile-likelihood benchmark next to
// this executable (a measurement-sized unbinned fit and profiled interval,
// what one pseudo-experiment costs after its network evaluation). A
// configuration is run `repeats` times; the median wall time is reported,
// and the slowdown next to the neighbour.
// Usage: bench_threads [threads=2] [repeats=3] [command]
//   e.g. bench_threads 2 3 'build/refinery-full toys --config C --n 4 --threads {threads} --quiet --out /tmp/t.csv'
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "src/core/executable_directory.h"

namespace {

std::string with_threads(std::string command, int threads) {
  const std::string key = "{threads}";
  for (std::size_t at; (at = command.find(key)) != std::string::npos;)
    command.replace(at, key.size(), std::to_string(threads));
  return command;
}

// Wall seconds of `command` under /bin/sh with OMP_WAIT_POLICY set as given
// ("" unsets it); negative when it fails.
double run(const std::string& command, const std::string& policy) {
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    if (policy.empty()) unsetenv("OMP_WAIT_POLICY");
    else setenv("OMP_WAIT_POLICY", policy.c_str(), 1);
    execl("/bin/sh", "sh", "-c", (command + " > /dev/null").c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? seconds : -1.0;
}

double median_seconds(const std::string& command, const std::string& policy, int repeats) {
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    const double s = run(command, policy);
    if (s < 0) {
      std::fprintf(stderr, "bench_threads: the command failed: %s\n", command.c_str());
      std::exit(1);
    }
    t.push_back(s);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// A process spinning on one core until killed.
pid_t start_neighbour() {
  const pid_t pid = fork();
  if (pid == 0) {
    volatile unsigned long x = 0;
    for (;;) x = x + 1;
  }
  return pid;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  const std::string command =
      argc > 3 ? argv[3] : refinery::executable_directory() + "/bench_profile 100000 1000000 {threads} 3";
  if (threads < 1 || repeats < 1) {
    std::fprintf(stderr, "usage: bench_threads [threads>=1] [repeats>=1] [command with {threads}]\n");
    return 2;
  }
  std::printf("command: %s\n%ld cores, %d repeats each, median wall seconds\n", command.c_str(),
              sysconf(_SC_NPROCESSORS_ONLN), repeats);
  std::printf("%-8s %7s %9s %14s %9s\n", "policy", "threads", "idle", "next to 1 busy", "slowdown");
  struct Config {
    const char* name;
    const char* policy;
    int threads;
  };
  std::vector<Config> configs = {{"spin", "", 1}, {"passive", "PASSIVE", 1}};
  if (threads > 1) {
    configs.push_back({"spin", "", threads});
    configs.push_back({"passive", "PASSIVE", threads});
  }
  for (const Config& c : configs) {
    const std::string cmd = with_threads(command, c.threads);
    const double idle = median_seconds(cmd, c.policy, repeats);
    const pid_t neighbour = start_neighbour();
    const double busy = median_seconds(cmd, c.policy, repeats);
    kill(neighbour, SIGKILL);
    waitpid(neighbour, nullptr, 0);
    std::printf("%-8s %7d %9.2f %14.2f %8.2fx\n", c.name, c.threads, idle, busy, busy / idle);
    std::fflush(stdout);
  }
  return 0;
}
