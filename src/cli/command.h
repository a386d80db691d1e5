// Subcommands of the `refinery` executable. Each stage registers its own
// commands (data/commands.h, train/commands.h, infer/commands.h; the core's
// in src/cli/commands.cpp); the executable (app/main.cpp) registers them all
// and dispatches, so the core names no stage's command. Each command parses
// its own arguments (cxxopts) and returns an exit code; errors are thrown as
// exceptions and turned into one line by the dispatcher:
//   0 success, 2 usage or input error (InputError, bad option), 1 internal.
#pragma once
#include <string>
#include <vector>

namespace refinery::cli {

struct Command {
  // "simulate", or "GROUP SUB" ("train dcr"): a group's command is run as
  // `refinery GROUP SUB ...` and gets argv = {"refinery GROUP", SUB, ...}.
  std::string name;
  std::string summary;                // one line for `refinery --help`
  int (*run)(int argc, char** argv);  // argv[0] is "refinery <name>" (or "refinery GROUP")
};

// Adds a command (InputError-free: a duplicate name is a programming error,
// std::logic_error). `refinery --help` lists them in registration order.
void register_command(Command command);
// All registered commands.
const std::vector<Command>& commands();

// The core's own command: config (src/cli/config_command.cpp).
void register_core_commands();

// Runs the executable: dispatches argv[1] (and argv[2] for a group) to a
// registered command. Turns InputError, option errors and every other
// std::exception into one line and an exit code; exceptions of other types
// (a library's own, such as HDF5's, or NeedsFullProcess) reach the caller.
int dispatch(int argc, char** argv);

}  // namespace refinery::cli
