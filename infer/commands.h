// The inference stage's commands: inspect, eval, fit, scan, impacts, toys,
// hypotest, limit, report.
#pragma once

namespace refinery::cli {

void register_infer_commands();

}  // namespace refinery::cli
