// The commands over the model interface, registered by the LibTorch-free
// front end and by the full executable alike.
#include "infer/commands.h"
#include "src/cli/command.h"

namespace refinery::cli {

int run_fit(int argc, char** argv);  // inference_commands.cpp
int run_scan(int argc, char** argv);
int run_impacts(int argc, char** argv);
int run_hypotest(int argc, char** argv);
int run_limit(int argc, char** argv);
int run_yields(int argc, char** argv);  // yields_command.cpp
int run_gof(int argc, char** argv);     // gof_command.cpp
int run_plot(int argc, char** argv);    // plot_command.cpp
int run_contour(int argc, char** argv); // contour_command.cpp
int run_simplify(int argc, char** argv); // simplify_command.cpp
int run_surrogate_eval(int argc, char** argv);  // surrogate_eval_command.cpp

void register_model_commands() {
  register_command({"fit", "Maximum-likelihood fit with profiled intervals (WORKSPACE.json or --config EXPERIMENT)", run_fit});
  register_command({"scan", "Profile-likelihood scan of the POI, or of two parameters (WORKSPACE.json or --config EXPERIMENT)",
                    run_scan});
  register_command({"yields",
                    "Expected yields per region and process, pre- and post-fit with errors, and the data "
                    "(WORKSPACE.json or --config EXPERIMENT)",
                    run_yields});
  register_command({"gof",
                    "Goodness of fit: saturated-model statistic per region, p-values from toys "
                    "(WORKSPACE.json or --config EXPERIMENT)",
                    run_gof});
  register_command({"impacts", "Ranked nuisance impacts on the POI (WORKSPACE.json or --config EXPERIMENT)", run_impacts});
  register_command({"hypotest", "CLs test of a POI value (q~, q, q0), asymptotic or toy-based (WORKSPACE.json or --config EXPERIMENT)",
                    run_hypotest});
  register_command({"contour",
                    "Exclusion contour over a patchset's signal points: CLs observed and expected, triangulated "
                    "(WORKSPACE.json --patchset P.json)",
                    run_contour});
  register_command({"plot", "Figures of results: distributions, pulls, correlation, impacts, scan, contour, gof, teststat",
                    run_plot});
  register_command({"limit", "95% CLs upper limits on the POI (WORKSPACE.json or --config EXPERIMENT)", run_limit});
  register_command({"simplify",
                    "A simplified likelihood (signal-region counts, background moments) from a workspace (WORKSPACE.json "
                    "--patch SIGNAL.json --out SL.json)",
                    run_simplify});
  register_command({"surrogate eval",
                    "CLs and upper limits from a likelihood surrogate (SURROGATE.onnx --yields S1,... or --workspace "
                    "BKG.json --patchset PS.json [--exact])",
                    run_surrogate_eval});
}

}  // namespace refinery::cli
