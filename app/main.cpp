// The `refinery` executable: one binary, many subcommands. Each stage
// registers its own commands; the core dispatches (src/cli/command.h).
#include "data/commands.h"
#include "infer/commands.h"
#include "src/cli/command.h"
#include "train/commands.h"

int main(int argc, char** argv) {
  using namespace refinery::cli;
  register_data_commands();
  register_train_commands();
  register_infer_commands();
  register_core_commands();
  return dispatch(argc, argv);
}
