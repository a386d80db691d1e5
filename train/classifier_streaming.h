// Streaming training of the multiclassifier over an event file larger than
// memory (docs/cluster.md): the file is read in blocks, never whole.
//
//   - Three passes over the blocks give what training on the whole sample
//     needs first: the class totals (balanced weights) and the indicator
//     columns, then the standardisation's means and variances over the
//     training rows (the same hash split of rows as in memory).
//   - The held-out rows are kept in memory up to `held_out_rows` each
//     (validation: early stopping and the calibration fit; test: the
//     reliability report), the first ones in file order.
//   - Training rows are drawn from a buffer of at most `buffer_rows`: each
//     epoch visits the blocks in an order shuffled from the seed, grouped
//     into buffers, and gives each buffer a share of the epoch's steps in
//     proportion to its training weight, so that an epoch's expected loss is
//     the whole sample's. Within a buffer the draws are those of in-memory
//     training (weighted, with replacement).
//
// When the training rows fit in one buffer, it is loaded once in file order
// and the draws are exactly those of in-memory training: the two agree to
// rounding (the balanced weights' normalisation is summed by blocks).
#pragma once
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/io/event_reader.h"
#include "train/classifier_training.h"

namespace refinery {

struct ClassifierStreamOptions {
  int64_t buffer_rows = 2'000'000;    // training rows in memory at once (~260 MB for 28 features)
  int64_t held_out_rows = 1'000'000;  // validation rows kept, and as many test rows
  int64_t block_rows = 0;             // rows per read (0: the file's chunk, at least 65536)
};

// First pass: what the network's construction needs (n_indicators) and the
// class totals; checks every row (finite features and weights, weights >= 0,
// labels in range, every class present) with errors naming the file and row.
struct ClassifierFileScan {
  int64_t rows = 0;
  std::vector<double> class_totals;
  int64_t indicator_columns = 0;
};
ClassifierFileScan scan_classifier_file(const EventReader& reader, int64_t n_classes, int64_t block_rows);

struct ClassifierStreamReport {
  int64_t block_rows = 0, buffer_rows = 0, training_rows = 0, buffers_per_epoch = 0;
  int64_t validation_rows = 0, validation_rows_kept = 0, test_rows = 0, test_rows_kept = 0;
  double peak_memory_mib = 0;  // of the process (VmHWM), at the end of training
  nlohmann::json to_json() const;
};

ClassifierTrainResult train_classifier_streaming(MultiClassifier& clf, const EventReader& reader,
                                                 const ClassifierFileScan& scan, const ClassifierTrainOptions& options,
                                                 const ClassifierStreamOptions& stream, ClassifierStreamReport* report);

// The process's peak resident memory so far (VmHWM), MiB; 0 if unknown.
double peak_memory_mib();

}  // namespace refinery
