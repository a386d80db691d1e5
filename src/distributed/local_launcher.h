// Starts the ranks of a data-parallel run as processes on this machine: the
// same executable with the same arguments plus `--rank R --master
// 127.0.0.1:PORT` (a free port), one per rank. Rank 0 keeps this terminal;
// the others' output goes to a log each (OUT_DIR/rank-R.log given by the
// caller, or discarded), shown only when that rank fails. When a rank fails
// the others are stopped, so no rank waits on a dead peer.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace refinery::distributed {

// Starts the executable args[0] with `args` in a child process (fork, then
// exec: safe after threads have started), its output to `log` when given;
// the child's pid, or -1 when it could not be started. On Linux the child
// receives SIGTERM when this process ends, however it ends.
pid_t start_process(std::vector<std::string> args, const std::string& log = "");

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_local_port();

// Runs `command` (argv[0] replaced by this executable) once per rank with the
// rank flags appended, waits for all; returns 0 when every rank exited 0,
// else the first failing rank's exit code (a signal: 1). `log_dir` empty:
// the other ranks' output is discarded unless they fail.
int launch_local(int world_size, const std::vector<std::string>& command, const std::string& log_dir);

}  // namespace refinery::distributed
