// The data stage's commands: `refinery simulate`.
#pragma once

namespace refinery::cli {

void register_data_commands();

}  // namespace refinery::cli
