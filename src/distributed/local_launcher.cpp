#include "src/distributed/local_launcher.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>

namespace refinery::distributed {

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("no socket for a free port");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("could not bind a port on 127.0.0.1");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

pid_t start_process(std::vector<std::string> args, const std::string& log) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
#ifdef __linux__
  // The child ends with its parent: a job killed by its scheduler (SIGTERM,
  // SIGKILL to the main process alone) leaves no worker training on.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(1);  // the parent died before the request
#endif
  if (!log.empty()) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(args[0].c_str(), argv.data());
  std::perror("execv");
  ::_exit(127);
}

int launch_local(int world_size, const std::vector<std::string>& command, const std::string& log_dir) {
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string master = "127.0.0.1:" + std::to_string(free_local_port());
  std::vector<pid_t> pids(world_size, -1);
  std::vector<std::string> logs(world_size);
  std::cout.flush();
  std::cerr.flush();
  for (int r = 0; r < world_size; ++r) {
    std::vector<std::string> args = command;
    args[0] = exe;
    args.insert(args.end(), {"--rank", std::to_string(r), "--master", master});
    if (r > 0) {
      logs[r] = log_dir.empty() ? std::filesystem::temp_directory_path() /
                                      ("refinery-rank-" + std::to_string(::getpid()) + "-" + std::to_string(r) + ".log")
                                : std::filesystem::path(log_dir) / ("rank-" + std::to_string(r) + ".log");
    }
    const pid_t pid = start_process(args, logs[r]);
    if (pid < 0) throw std::runtime_error("fork failed starting rank " + std::to_string(r));
    pids[r] = pid;
  }
  // Waits for the ranks; the first failure stops the others. Rank 0 speaks
  // for the group: when another rank fails first (bad input fails every
  // rank alike), rank 0 gets a moment to fail with its own message before
  // it is stopped and the failing rank's log is shown instead.
  int result = 0, failed_rank = -1, running = world_size;
  auto reap = [&](pid_t pid, int status, bool record) {
    int r = 0;
    while (r < world_size && pids[r] != pid) ++r;
    if (r == world_size) return;
    pids[r] = -1;
    --running;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    if (record && code != 0 && (failed_rank < 0 || (r == 0 && failed_rank > 0))) {
      failed_rank = r;
      result = code;
    }
  };
  while (running > 0 && failed_rank < 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) break;
    reap(pid, status, true);
  }
  if (failed_rank > 0 && pids[0] > 0) {
    for (int tick = 0; tick < 40 && pids[0] > 0; ++tick) {  // up to 2 s
      int status = 0;
      const pid_t pid = ::waitpid(pids[0], &status, WNOHANG);
      if (pid == pids[0]) reap(pid, status, true);
      else ::usleep(50000);
    }
  }
  for (pid_t other : pids)
    if (other > 0) ::kill(other, SIGTERM);
  while (running > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) break;
    reap(pid, status, false);  // stopped here: not a failure of their own
  }
  if (failed_rank > 0) {
    std::ifstream in(logs[failed_rank]);
    bool any = false;
    for (std::string line; std::getline(in, line); any = true) std::cerr << "rank " << failed_rank << ": " << line << "\n";
    if (!any) std::cerr << "rank " << failed_rank << " of " << world_size << " failed (exit " << result << ")\n";
  }
  if (log_dir.empty())
    for (const auto& l : logs)
      if (!l.empty()) std::filesystem::remove(l);
  return result;
}

}  // namespace refinery::distributed
