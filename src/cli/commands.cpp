// The command registry.
#include "src/cli/command.h"

#include <stdexcept>

namespace refinery::cli {

namespace {

std::vector<Command>& registry() {
  static std::vector<Command> list;
  return list;
}

}  // namespace

void register_command(Command command) {
  for (const auto& c : registry())
    if (c.name == command.name) throw std::logic_error("command '" + command.name + "' registered twice");
  registry().push_back(std::move(command));
}

const std::vector<Command>& commands() { return registry(); }

}  // namespace refinery::cli
