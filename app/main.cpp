// `refinery-full`: every command of refinery, LibTorch loaded. Users run
// `refinery` (app/front_end.cpp), which runs the commands on pyhf workspaces
// itself and hands every other command line to this executable. Each stage
// registers its own commands; the core dispatches (src/cli/command.h).
#include <H5Cpp.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "data/commands.h"
#include "infer/commands.h"
#include "src/cli/command.h"
#include "src/core/executable_directory.h"
#include "src/core/memory_reuse.h"
#include "src/core/version.h"
#include "train/commands.h"

int main(int argc, char** argv) {
  using namespace refinery::cli;
  // Started by a front end (app/front_end.cpp) of another build: refuse,
  // naming both, rather than answer for a build the user did not run.
  if (const char* front = std::getenv("REFINERY_FRONT_END_BUILD")) {
    const std::string mine = refinery::version() + " " + refinery::git_commit();
    if (mine != front) {
      std::cerr << "refinery: internal error: " << refinery::executable_directory() << "/refinery-full is refinery " << mine
                << ", the front end that started it refinery " << front << ": install the two together\n";
      return 1;
    }
    unsetenv("REFINERY_FRONT_END_BUILD");
  }
  refinery::keep_freed_memory_for_reuse();
  register_data_commands();
  register_train_commands();
  register_infer_commands();
  register_core_commands();
  // The banner names the libraries this executable links (the front end
  // links neither LibTorch nor HDF5, so it hands --version over).
  if (argc >= 2 && (std::string(argv[1]) == "--version" || std::string(argv[1]) == "version")) {
    std::cout << refinery::version_banner() << std::endl;
    return 0;
  }
  try {
    return dispatch(argc, argv);
  } catch (const H5::Exception& e) {  // HDF5's exceptions are not std::exceptions
    std::cerr << "refinery " << argv[1] << ": HDF5 error: " << e.getDetailMsg() << "\n";
    return 1;
  } catch (...) {
    std::cerr << "refinery " << argv[1] << ": internal error: an exception of unknown type\n";
    return 1;
  }
}
