// The inference stage's commands: inspect, eval, fit, scan, yields, impacts,
// toys, hypotest, limit, report.
#pragma once

namespace refinery::cli {

// Every inference command, and the experiment loader of the model commands
// (infer/experiment_source.h).
void register_infer_commands();
// The commands over the model interface (fit, scan, yields, impacts,
// hypotest, limit), LibTorch-free: on a pyhf workspace they run in the
// `refinery` front end (infer/model_commands.cpp).
void register_model_commands();

}  // namespace refinery::cli
