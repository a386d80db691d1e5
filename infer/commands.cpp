#include "infer/commands.h"

#include "src/cli/command.h"

namespace refinery::cli {

int run_eval(int argc, char** argv);      // eval_command.cpp
int run_inspect(int argc, char** argv);   // workspace_commands.cpp
int run_fit(int argc, char** argv);       // inference_commands.cpp
int run_scan(int argc, char** argv);
int run_impacts(int argc, char** argv);
int run_hypotest(int argc, char** argv);
int run_limit(int argc, char** argv);
int run_toys(int argc, char** argv);      // toys_command.cpp
int run_report(int argc, char** argv);    // report_command.cpp
int run_yields(int argc, char** argv);    // yields_command.cpp

void register_infer_commands() {
  register_command({"eval", "Evaluate a trained model on events (classifier: probabilities and fractions)", run_eval});
  register_command({"inspect", "Summarise an event file or a HistFactory workspace", run_inspect});
  register_command({"fit", "Maximum-likelihood fit with profiled intervals (WORKSPACE.json or --config EXPERIMENT)", run_fit});
  register_command({"scan", "Profile-likelihood scan of the POI, or of two parameters (WORKSPACE.json or --config EXPERIMENT)",
                    run_scan});
  register_command({"yields",
                    "Expected yields per region and process, pre- and post-fit with errors, and the data "
                    "(WORKSPACE.json or --config EXPERIMENT)",
                    run_yields});
  register_command({"impacts", "Ranked nuisance impacts on the POI (WORKSPACE.json or --config EXPERIMENT)", run_impacts});
  register_command({"toys",
                    "Pseudo-experiments: coverage, width, bias, pulls; --shard i/N, --merge (WORKSPACE.json or --config "
                    "EXPERIMENT)",
                    run_toys});
  register_command({"hypotest", "Asymptotic CLs test of a POI value (q~, q, q0) (WORKSPACE.json or --config EXPERIMENT)",
                    run_hypotest});
  register_command({"limit", "95% CLs upper limits on the POI (WORKSPACE.json or --config EXPERIMENT)", run_limit});
  register_command({"report", "Summary table of the measurement results in the output directory (--config EXPERIMENT)",
                    run_report});
}

}  // namespace refinery::cli
