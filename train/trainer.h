// One training loop for every network (classifier, DCR, SANNT), parameterised
// by the problem: a mini-batch loss and a validation loss. Adam with an
// exponential learning-rate schedule, optionally a running average of the
// weights (TrainOptions::average_steps), early stopping on the validation
// loss (the best weights are restored at the end), progress per epoch, and a
// checkpoint after every epoch (atomic) from which --resume continues to
// exactly the weights of an uninterrupted run: batches are drawn from random
// streams keyed by (seed, epoch, step), and the optimiser state is saved.
// A non-finite mini-batch loss stops the training with an InputError naming
// the epoch and step; the checkpoint of the last completed epoch stays.
//
// Data-parallel (TrainOptions::group with several ranks): every rank holds
// its shard of the events and the same network (rank 0's weights at the
// start); a step's `batch_loss` is the rank's part of the global mini-batch
// loss (its events' terms divided by the global batch's normalisation), the
// gradients are summed over the ranks before Adam's step, so every rank
// takes the same step, that of one process on the whole batch. The problem's
// validation loss sums over the ranks itself. Rank 0 alone writes
// checkpoints and shows progress; each epoch records every rank's seconds.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/random.h"
#include "src/distributed/collective.h"

namespace refinery {

struct TrainOptions {
  int epochs = 30;
  int64_t steps_per_epoch = 100;
  double learning_rate = 1e-3;
  // Learning rate of epoch e: learning_rate * lr_decay^e.
  double lr_decay = 0.95;
  // Stop after this many epochs without a better validation loss (0: never).
  int patience = 8;
  // Running average of the weights (Polyak averaging; an exponential moving
  // average with this time constant in steps, 0: none). After step t (counted
  // over the whole training from 1) the average moves towards the weights by
  // max(1/t, 1/average_steps): the plain mean of the steps so far, then
  // exponential, so the starting weights fade like any other step's. The
  // average, not the weights Adam moves, is validated at each epoch's end and
  // is the candidate for the best: the mini-batches' noise in the final
  // weights falls by about sqrt(average_steps) steps' worth. Buffers are the
  // trained module's.
  int64_t average_steps = 0;
  std::uint64_t seed = 1;
  std::string checkpoint;  // file written after every epoch ("" : none)
  bool resume = false;     // continue from `checkpoint`
  // End the run after this many epochs as if it had been killed (the
  // checkpoint stays; for tests of --resume). 0: run to the end.
  int interrupt_after = 0;
  bool quiet = false;
  // Count the starting weights as a candidate for the best (validation loss
  // evaluated before the first epoch): a fine-tuning stage never ends worse
  // than it started. Ignored on resume (the checkpoint knows the best).
  bool validate_initial = false;
  std::string label = "train";
  // The processes of a data-parallel training (null: this one alone).
  std::shared_ptr<distributed::Collective> group;
  bool IsValid(std::string* error) const;
};

struct EpochRecord {
  int epoch;
  double train_loss, val_loss, learning_rate, seconds;
  std::vector<double> rank_seconds;  // data-parallel: each rank's seconds for the epoch (else empty)
};

struct TrainReport {
  std::vector<EpochRecord> epochs;
  int best_epoch = -1;
  double best_val_loss = 0.0;
  std::string stop_reason;
  double seconds = 0.0;
  int64_t samples = 0;  // training samples processed (a resumed run counts the interrupted part too)
  bool interrupted = false;
  int ranks = 1;  // processes of a data-parallel training
  int64_t average_steps = 0;  // TrainOptions::average_steps of the training (0: the last weights kept)
  // Set by trainings with a normalisation step (train_dcr): RMS of the log
  // inclusive-ratio error at the training points before and after (-1: none).
  double normalisation_rms_before = -1, normalisation_rms_after = -1;
  // train_dcr with paired samples: the fraction of variation events whose
  // nominal event is in the sample (-1: unpaired training).
  double paired_fraction = -1;
  nlohmann::json to_json() const;
  // The inverse of to_json (a job's report read back to be merged, e.g. an
  // ensemble member trained in its own job); nlohmann's exceptions on a bad
  // document.
  static TrainReport from_json(const nlohmann::json& j);
};

struct TrainingProblem {
  // Loss of one mini-batch; `rng` is the step's own random stream.
  std::function<torch::Tensor(RandomStream& rng)> batch_loss;
  // Validation loss (called under NoGradGuard).
  std::function<double()> validation_loss;
  // Called before each epoch's first step with the epoch (0-based; a resumed
  // run starts at its checkpoint's): problems that stream their events load
  // the epoch's first buffer here. May be empty.
  std::function<void(int epoch)> begin_epoch;
  int64_t samples_per_step = 0;
};

// Member m of an ensemble of M networks trained alike with `o`'s settings
// (train dcr --ensemble, train classifier --ensemble): member 0 is the
// training itself; member m > 0 has its own seed, a stream of o.seed keyed by
// `seed_tag` and m, and its own checkpoint (member_checkpoint), from which it
// resumes only where that exists (a member an interrupted run never reached
// starts afresh) unless `checkpoint_required` (a job of an array that trains
// its member alone). With M > 1 the label counts the members.
TrainOptions ensemble_member_options(const TrainOptions& o, int m, int M, std::uint64_t seed_tag,
                                     bool checkpoint_required = false);
// Member m's checkpoint: `checkpoint` itself for member 0, else checkpoint.m.
std::string member_checkpoint(const std::string& checkpoint, int m);

TrainReport train(torch::nn::Module& module, const TrainingProblem& problem,
                  const TrainOptions& options);

}  // namespace refinery
