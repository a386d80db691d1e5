// The `refinery` executable: one binary, many subcommands (src/cli/commands.cpp).
#include "src/cli/command.h"

int main(int argc, char** argv) { return refinery::cli::dispatch(argc, argv); }
