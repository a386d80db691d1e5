#include "train/commands.h"

#include "src/cli/command.h"

namespace refinery::cli {

int run_train_classifier(int argc, char** argv);  // classifier_command.cpp
int run_train_dcr(int argc, char** argv);         // train_command.cpp
int run_train_sannt(int argc, char** argv);       // sannt_command.cpp
int run_closure(int argc, char** argv);           // closure_command.cpp
int run_surrogate_train(int argc, char** argv);   // surrogate_command.cpp
int run_fisher(int argc, char** argv);            // fisher_command.cpp
int run_train_ratio(int argc, char** argv);       // estimator_commands.cpp
int run_train_sally(int argc, char** argv);       // estimator_commands.cpp

void register_train_commands() {
  register_command({"train classifier", "Train the calibrated multiclassifier", run_train_classifier});
  register_command({"train dcr", "Train parametric DCR networks (one file, a toy, or every process of --config)",
                    run_train_dcr});
  register_command({"train sannt", "Systematic-aware training (INFERNO benchmarks, the binned H->tautau analysis)",
                    run_train_sannt});
  register_command({"train ratio", "A likelihood-ratio estimator (CARL, ROLR, RASCAL, ALICES, CASCAL) from an augmented sample",
                    run_train_ratio});
  register_command({"train sally", "SALLY (the score at a point) from an augmented sample", run_train_sally});
  register_command({"closure", "Shape closure of a DCR network on paired samples (chi2/ndf per nu-point and feature)",
                    run_closure});
  register_command({"surrogate train", "A likelihood surrogate (ONNX) from labelled points (POINTS.h5 --out SURROGATE.onnx)",
                    run_surrogate_train});
  register_command({"fisher", "Fisher information of the theory simulator's observables from every source, side by side",
                    run_fisher});
}

}  // namespace refinery::cli
