// Subcommands of the `refinery` executable. Each command parses its own
// arguments (cxxopts) and returns an exit code; errors are thrown as
// exceptions and turned into one line by the dispatcher:
//   0 success, 2 usage or input error (InputError, bad option), 1 internal.
#pragma once
#include <string>
#include <vector>

namespace refinery::cli {

struct Command {
  const char* name;     // "simulate", "train", ...
  const char* summary;  // one line for `refinery --help`
  int (*run)(int argc, char** argv);  // argv[0] is "refinery <name>"
};

// All commands, in the order `refinery --help` lists them.
const std::vector<Command>& commands();

// Runs the executable: dispatches argv[1] to a command. Never throws.
int dispatch(int argc, char** argv);

}  // namespace refinery::cli
