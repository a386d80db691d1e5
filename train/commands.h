// The training stage's commands: `refinery train classifier|dcr|sannt`.
#pragma once

namespace refinery::cli {

void register_train_commands();

}  // namespace refinery::cli
