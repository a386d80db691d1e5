// DCR training options of the tests: Adam at 3e-3, quiet, the budget given.
#pragma once
#include "train/dcr_training.h"

namespace refinery::testing {

inline DCRTrainOptions dcr_test_options(int epochs, int64_t steps, int64_t batch, double lr_decay) {
  DCRTrainOptions opt;
  opt.train.epochs = epochs;
  opt.train.steps_per_epoch = steps;
  opt.train.learning_rate = 3e-3;
  opt.train.lr_decay = lr_decay;
  opt.train.quiet = true;
  opt.batch_size = batch;
  return opt;
}

}  // namespace refinery::testing
