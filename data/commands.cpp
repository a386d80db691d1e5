#include "data/commands.h"

#include "src/cli/command.h"

namespace refinery::cli {

int run_simulate(int argc, char** argv);  // simulate_command.cpp
int run_import(int argc, char** argv);    // import_command.cpp

void register_data_commands() {
  register_command({"simulate", "Generate events with a built-in simulator into HDF5 files", run_simulate});
  register_command({"import", "Import events from other programs' HDF5 files (the config's inputs)", run_import});
}

}  // namespace refinery::cli
