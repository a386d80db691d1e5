// Training of the multiclassifier (design.md section 4): weighted cross
// entropy with class-balanced weights (every class the same total weight),
// Adam through the shared trainer (schedule, early stopping on the
// validation loss, checkpoints, --resume), then the staged isotonic
// calibration of the process fractions on held-out events
// (models/multiclassifier.h) and the reliability report on events used for
// neither.
//
// Rows are split by a hash of their index: `validation_fraction` of them
// (early stopping and the calibration fit), `test_fraction` (the reported
// ECE and reliability), the rest for training. Mini-batches draw training
// rows with probability proportional to their balanced weight and weight
// them equally: the same expected loss as weighting every row, with less
// variance when simulation weights differ by orders of magnitude.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/multiclassifier.h"
#include "src/calibration/reliability.h"
#include "train/trainer.h"

namespace refinery {

// The events of a training; with a data-parallel group, this rank's shard:
// rows first_row .. first_row + N - 1 of the whole sample.
struct ClassifierData {
  torch::Tensor x;  // float32 [N,F]
  torch::Tensor y;  // int64 [N], class index
  torch::Tensor w;  // float64 [N], simulation weights (luminosity-normalised)
  std::vector<std::string> class_names;
  int64_t first_row = 0;
  // Shapes, finite values, labels in range, every class present (in some
  // rank's shard); errors name `source`.
  void validate(const std::string& source,
                distributed::Collective& group = distributed::single_process()) const;
};

// Weights rescaled so that every class has the same total and the mean is 1
// (totals and mean over all ranks' rows).
torch::Tensor class_balanced_weights(const torch::Tensor& y, const torch::Tensor& w, int64_t n_classes,
                                     distributed::Collective& group = distributed::single_process());

// Draws row indices with probability proportional to non-negative weights
// (inverse CDF on a RandomStream's uniforms). With a group, the rows are
// the ranks' shards in rank order and every rank draws the same global
// rows, returning (as indices into its shard) those that fall in its own:
// the ranks' draws together are one process's draw, row for row.
class WeightedRowSampler {
 public:
  explicit WeightedRowSampler(const torch::Tensor& w,
                              distributed::Collective& group = distributed::single_process());
  torch::Tensor operator()(int64_t n, RandomStream& rng) const;

 private:
  torch::Tensor cdf_;           // this rank's rows
  double own_ = 0.0;            // total weight of this rank's rows
  double offset_ = 0.0;         // total weight of the ranks before this one
  double total_ = 0.0;          // of all ranks
  bool alone_ = true;           // a group of one: every draw is this rank's
};

struct DataSplit {
  torch::Tensor train, validation, test;  // row indices (int64)
};
// Row i goes to validation when splitmix64(salt + i) falls below the
// validation fraction, to test below validation + test, else to training;
// i counts from first_row (a shard's rows split as in the whole sample).
DataSplit split_by_hash(int64_t n, double validation_fraction, double test_fraction,
                        uint64_t salt = 0xc1a55000ULL, int64_t first_row = 0);

struct ClassifierTrainOptions {
  TrainOptions train;
  int64_t batch_size = 1024;
  double validation_fraction = 0.2;
  double test_fraction = 0.2;
  int64_t calibration_bins = 200;  // equal-weight groups before the isotonic fit
  int reliability_bins = 20;
  // An ensemble of this many networks, trained alike on the same events from
  // their own seeds (member 0 from train.seed, member m > 0 from a stream of
  // it, its checkpoint train.checkpoint + ".m"), merged into one
  // (merge_classifier_ensemble: logits averaged) and calibrated as one.
  int members = 1;
};

// What an ensemble's members say about each other (ClassifierTrainOptions::
// members > 1), on the test events (validation events where there are none):
// per process the members' standard deviation of the raw fraction f_p per
// event, its root mean square with simulation weights (the ensemble mean's
// own error is about this over sqrt(M)); and each member's and the merged
// network's validation loss.
struct ClassifierEnsembleReport {
  int members = 1;
  std::vector<std::uint64_t> seeds;
  std::vector<double> member_validation_loss;
  double validation_loss = 0;  // of the merged network (logits averaged)
  std::vector<double> fraction_sd;  // per process
  nlohmann::json to_json(const std::vector<std::string>& class_names) const;
};

struct ClassifierTrainResult {
  TrainReport report;
  std::vector<double> yields;                     // sigma_p of the training sample
  Reliability validation_before, validation_after;  // on the calibration events
  Reliability test_before, test_after;              // on events used for neither
  double test_ece_floor = 0;  // expected ECE of an exactly calibrated model on the test events
  // The fractions f against the class frequencies with simulation weights.
  Reliability test_fractions_before, test_fractions_after;
  ClassifierEnsembleReport ensemble;  // members > 1
  nlohmann::json to_json(const std::vector<std::string>& class_names) const;
};

// Trains, calibrates and sets the process yields of `clf` (with
// options.members > 1, `clf` becomes the merged ensemble; its options give
// the members' layout and member 0's starting weights). Data-parallel
// (options.train.group): `data` is the rank's shard; the calibration and the
// reports are fitted on all ranks' held-out events, so every rank ends with
// the same calibrated model.
ClassifierTrainResult train_classifier(MultiClassifier& clf, const ClassifierData& data,
                                       const ClassifierTrainOptions& options);

// The held-out events of a training (this rank's): validation (calibration
// fit, early stopping) and test (reported reliability); weights balanced (w)
// and simulation (w_sim).
struct ClassifierHeldOut {
  torch::Tensor xv, yv, wv, wv_sim, xs, ys, ws, ws_sim;
};
// Fits the staged isotonic calibration on the validation events (all
// ranks') and fills the reliability reports of `result`.
void calibrate_classifier(MultiClassifier& clf, const ClassifierHeldOut& held_out, const ClassifierTrainOptions& options,
                          distributed::Collective& group, ClassifierTrainResult& result);

// The loss terms both trainings (in memory, streamed) take a step and the
// validation from: the cross entropy of the rows `idx` of (x, y) summed and
// divided by the global batch size B (a rank's or a buffer's part of the
// batch mean); and the weighted cross entropy summed over (x, y, w).
torch::Tensor batch_cross_entropy(MultiClassifier& clf, const torch::Tensor& x, const torch::Tensor& y,
                                  const torch::Tensor& idx, int64_t B);
double weighted_cross_entropy_sum(MultiClassifier& clf, const torch::Tensor& x, const torch::Tensor& y,
                                  const torch::Tensor& w32);

// Raw probabilities of many events (parallel blocks, no gradients).
torch::Tensor classifier_raw_probabilities(MultiClassifier& clf, const torch::Tensor& x);

}  // namespace refinery
