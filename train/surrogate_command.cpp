// `refinery surrogate train POINTS.h5 [MORE.h5 ...] --out SURROGATE.onnx`: a likelihood
// surrogate (train/surrogate_training.h) from the labelled points of
// `refinery surrogate sample`, written as one ONNX file with its metadata
// (src/stats/yield_surrogate.h) and a JSON report beside it.
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "src/cli/command.h"
#include "src/cli/options.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/core/text.h"
#include "src/core/threads.h"
#include "train/surrogate_training.h"
#include "train/training_flags.h"

namespace refinery::cli {

int run_surrogate_train(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "A likelihood surrogate (ONNX) from labelled points: refinery surrogate train POINTS.h5 --out "
                           "SURROGATE.onnx");
  options.add_options()("what", "train", cxxopts::value<std::string>())("points", "Labelled points (refinery surrogate sample; several files of the same workspace and template, e.g. runs with different --seed, are joined)",
      cxxopts::value<std::vector<std::string>>())(
      "hidden", "Hidden layer sizes", cxxopts::value<std::string>()->default_value("256,256,256,256,256"))(
      "members", "Networks in the ensemble", cxxopts::value<int>()->default_value("3"))(
      "epochs", "Maximum epochs per member", cxxopts::value<int>()->default_value("60"))(
      "steps", "Mini-batches per epoch", cxxopts::value<int64_t>()->default_value("400"))(
      "batch", "Points per mini-batch", cxxopts::value<int64_t>()->default_value("512"))(
      "lr", "Initial learning rate", cxxopts::value<double>()->default_value("0.002"))(
      "lr-decay", "Learning-rate factor per epoch", cxxopts::value<double>()->default_value("0.93"))(
      "focus", "A point of rise r (twice the NLL above the background-only minimum) weighs 1 / (1 + (r / focus)^4) in the "
      "loss; 0: all alike", cxxopts::value<double>()->default_value("15"))(
      "huber", "Residuals beyond this many NLL units count linearly (Huber); 0: squared error",
      cxxopts::value<double>()->default_value("0.1"))(
      "patience", "Early stopping patience in epochs (0: never)", cxxopts::value<int>()->default_value("10"))(
      "checkpoint", "Checkpoint file prefix (default: OUT.ckpt; one file per member)", cxxopts::value<std::string>())(
      "resume", "Continue from the checkpoints");
  add_common_options(options, false, true);
  options.parse_positional({"what", "points"});
  options.positional_help("POINTS.h5 [MORE.h5 ...]");
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  if (!r->count("points")) throw InputError("", "POINTS.h5", "the labelled points to train on (refinery surrogate sample)");
  if (common.out.empty()) throw InputError("", "--out", "where to write the surrogate (ONNX)");
  SurrogateTrainingOptions o;
  o.hidden = parse_layer_sizes((*r)["hidden"].as<std::string>(), "--hidden");
  if (o.hidden.empty()) throw InputError("", "--hidden", "at least one hidden layer");
  o.members = (*r)["members"].as<int>();
  if (o.members < 1 || o.members > 64) throw InputError("", "--members", "must lie in [1, 64]");
  o.batch_size = (*r)["batch"].as<int64_t>();
  if (o.batch_size < 1 || o.batch_size > 10000000) throw InputError("", "--batch", "must lie in [1, 1e7]");
  o.focus = (*r)["focus"].as<double>();
  if (!(o.focus >= 0 && o.focus <= 1e6)) throw InputError("", "--focus", "must lie in [0, 1e6]");
  o.huber = (*r)["huber"].as<double>();
  if (!(o.huber >= 0 && o.huber <= 1e6)) throw InputError("", "--huber", "must lie in [0, 1e6]");
  o.train.epochs = (*r)["epochs"].as<int>();
  o.train.steps_per_epoch = (*r)["steps"].as<int64_t>();
  o.train.learning_rate = (*r)["lr"].as<double>();
  o.train.lr_decay = (*r)["lr-decay"].as<double>();
  o.train.patience = (*r)["patience"].as<int>();
  o.train.seed = common.seed.value_or(1);
  o.train.quiet = common.quiet;
  o.train.checkpoint = r->count("checkpoint") ? (*r)["checkpoint"].as<std::string>() : common.out + ".ckpt";
  o.train.resume = r->count("resume") > 0;
  check_training_flags(o.train, *r, "", "");
  set_threads(common.threads);
  AtomicFile probe(common.out);  // the destination is checked before the training

  const LikelihoodPoints points = read_likelihood_points((*r)["points"].as<std::vector<std::string>>());
  if (!common.quiet)
    std::cerr << "surrogate train: " << points.yields.rows() << " points, " << points.bins.size() << " bins ("
              << join(points.bins) << "), " << o.members << " x " << (*r)["hidden"].as<std::string>() << "\n";
  std::vector<TrainReport> reports;
  const stats::YieldSurrogateSpec spec = train_surrogate(points, o, &reports);
  if (!reports.empty() && reports.back().interrupted) return 0;
  onnx::write_file(common.out, stats::surrogate_to_onnx(spec));
  nlohmann::json report = spec.training;
  report["bins"] = spec.bins;
  report["out"] = common.out;
  write_text_atomically(common.out + ".json", report.dump(2) + "\n");
  std::error_code ignored;
  for (int m = 0; m < o.members; ++m) std::filesystem::remove(o.train.checkpoint + ".m" + std::to_string(m), ignored);
  if (!common.quiet) {
    for (std::size_t m = 0; m < reports.size(); ++m)
      std::cerr << "member " << m << ": best validation loss (standardised) " << std::setprecision(4)
                << reports[m].best_val_loss << " at epoch " << reports[m].best_epoch << ", " << reports[m].seconds
                << " s; RMS error of the NLL where the rise is below the focus: observed "
                << spec.training["member_reports"][m]["validation_rms_nll_near"][0].get<double>() << ", Asimov "
                << spec.training["member_reports"][m]["validation_rms_nll_near"][1].get<double>() << "\n";
    std::cerr << (spec.has_origin() ? "surrogate train: exact to second order at s = 0 (origin terms from the points' expansion)\n"
                                     : "surrogate train: note: the points carry no expansion at s = 0 (made by an older refinery): "
                                       "no origin terms, CLs near 1 less accurate\n");
    std::cerr << "surrogate train: -> " << common.out << "\n";
  }
  return 0;
}

}  // namespace refinery::cli
