// The `refinery` executable the user runs: a LibTorch-free front end.
//
// The commands over the model interface (fit, scan, yields, gof, impacts,
// hypotest, limit) on a pyhf workspace run here, in a process that loads
// neither LibTorch nor OpenMP: a whole-process HistFactory hypotest costs the
// fit, not LibTorch's 0.35 s start-up. Every other command line (training,
// simulation, experiments, --help, --version) is handed, unchanged, to the
// full executable `refinery-full` (app/main.cpp) by exec: same process, same
// arguments, same exit code and messages.
//
// Before the hand-over the front end sets OMP_WAIT_POLICY=PASSIVE unless the
// user set it: LibTorch's OpenMP threads otherwise spin while they wait, and
// next to a busy process a parallel region then waits for a descheduled
// spinning partner (toys 2.3-2.8x slower here, 4-10x in issue 15's runs);
// passive threads sleep and wake, so a shared machine slows a run in
// proportion to the load (docs/performance.md, bench/bench_threads). libgomp reads the variable when it is loaded, which
// is why it is set here and not in the full executable's main().
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "infer/commands.h"
#include "refinery/build_info.h"
#include "infer/model_source.h"
#include "src/cli/command.h"
#include "src/core/executable_directory.h"

namespace {

// refinery-full next to this executable (build tree) or in
// ../libexec/refinery (installed).
std::string full_executable(std::vector<std::string>* tried) {
  const std::string dir = refinery::executable_directory();
  for (const std::string& candidate : {dir + "/refinery-full", dir + "/../libexec/refinery/refinery-full"}) {
    tried->push_back(candidate);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

int hand_over(char** argv) {
  std::vector<std::string> tried;
  const std::string full = full_executable(&tried);
  if (full.empty()) {
    std::cerr << "refinery: internal error: the full executable is not installed (looked for " << tried[0] << " and "
              << tried[1] << ")\n";
    return 1;
  }
  setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/0);
  // The build this front end belongs to: refinery-full refuses to run for
  // another (app/main.cpp), so a stale executable left next to a copied front
  // end is named instead of giving another build's answers.
  setenv("REFINERY_FRONT_END_BUILD", REFINERY_VERSION " " REFINERY_GIT_COMMIT, /*overwrite=*/1);
  execv(full.c_str(), argv);
  std::cerr << "refinery: internal error: cannot start " << full << ": " << std::strerror(errno) << "\n";
  return 1;
}

// A command (or a group's command, "surrogate eval") the front end holds.
bool runs_here(int argc, char** argv) {
  for (const auto& c : refinery::cli::commands())
    if (c.name == argv[1] || (argc >= 3 && c.name == std::string(argv[1]) + " " + argv[2])) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace refinery::cli;
  register_model_commands();
  if (argc >= 2 && runs_here(argc, argv)) {
    try {
      return dispatch(argc, argv);
    } catch (const NeedsFullProcess&) {
      // an experiment: nothing was written; the full executable runs it
    }
  }
  return hand_over(argv);
}
