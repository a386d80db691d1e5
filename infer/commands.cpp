#include "infer/commands.h"

#include "infer/experiment_source.h"
#include "infer/model_source.h"
#include "src/cli/command.h"
#include "src/core/error.h"
#include "src/io/learned_ratio_file.h"

namespace refinery::cli {

namespace {

// A learned-ratio likelihood file (src/io/learned_ratio_file.h) as a model.
std::unique_ptr<stats::Model> load_learned_ratio_model(const std::string& path, nlohmann::json* header) {
  if (!is_learned_ratio_file(path))
    throw InputError(path, "attribute kind",
                     "an HDF5 file in a workspace's place must be a learned-ratio likelihood (refinery eval ratio writes one)");
  const LearnedRatioFile f = read_learned_ratio_file(path);
  (*header)["kind"] = "learned_ratio";
  (*header)["learned_ratio"] = path;
  (*header)["ratio_model"] = f.model;
  (*header)["events"] = f.events;
  const bool unit = (f.weights.array() == 1.0).all();
  return std::make_unique<stats::LearnedRatioModel>(f.inputs, f.coefficients, unit ? Eigen::VectorXd() : f.weights, path);
}

}  // namespace

int run_eval(int argc, char** argv);      // eval_command.cpp
int run_inspect(int argc, char** argv);   // workspace_commands.cpp
int run_toys(int argc, char** argv);      // toys_command.cpp
int run_report(int argc, char** argv);    // report_command.cpp
int run_surrogate_sample(int argc, char** argv);  // surrogate_sample_command.cpp
int run_export(int argc, char** argv);    // export_command.cpp

void register_infer_commands() {
  register_command({"eval", "Evaluate a trained network on events (classifier, sannt, dcr: the outputs of its ONNX export; ratio: a learned-ratio likelihood)", run_eval});
  register_command({"export", "A trained network as ONNX with its whole evaluation path (MODEL.pt --out MODEL.onnx)",
                    run_export});
  register_command({"inspect", "Summarise an event file or a HistFactory workspace", run_inspect});
  register_model_commands();
  register_command({"surrogate sample",
                    "Points in signal-yield space labelled with a workspace's exact NLLs: a surrogate's training set "
                    "(BKG.json --patchset PS.json --out POINTS.h5)",
                    run_surrogate_sample});
  register_command({"toys",
                    "Pseudo-experiments: coverage, width, bias, pulls; --shard i/N, --merge (WORKSPACE.json or --config "
                    "EXPERIMENT)",
                    run_toys});
  register_command({"report", "Summary table of the measurement results in the output directory (--config EXPERIMENT)",
                    run_report});
  set_experiment_loader(load_experiment_source);
  set_event_file_model_loader(load_learned_ratio_model);
}

}  // namespace refinery::cli
