// Training of a likelihood surrogate (issue 18 item 2): an ensemble of
// multilayer perceptrons (SiLU, smooth enough for Newton fits on the
// surrogate) regressing the two NLL rises f(s) - f(0), observed and
// Asimov, on the labelled points of `refinery surrogate sample`, with the
// one trainer (train/trainer.h): Adam, squared (Huber beyond a threshold) error of the
// standardised targets (weighted towards the rises that decide limits),
// early stopping on a held-out tenth, checkpoints
// and --resume per member. Each member's last bias is then shifted so that
// it returns f(0) exactly at s = 0.
#pragma once
#include <string>
#include <vector>

#include "src/stats/yield_surrogate.h"
#include "train/trainer.h"

namespace refinery {

struct LikelihoodPoints {
  std::string file;
  std::vector<std::string> bins;
  std::string poi, workspace, workspace_hash;
  double background_observed = 0.0, background_asimov = 0.0, reach = 0.0;
  Eigen::MatrixXd yields;  // [N, K]
  Eigen::VectorXd nll_observed, nll_asimov;
  // f to second order at s = 0, observed [0] and Asimov [1] (files of
  // `surrogate sample` since the expansion was stored; absent in older ones).
  bool has_expansion = false;
  Eigen::VectorXd gradient[2];
  Eigen::MatrixXd hessian[2];
};
// Reads a file of `refinery surrogate sample` (InputError naming the file
// and dataset or attribute).
LikelihoodPoints read_likelihood_points(const std::string& path);
// Several files joined (independent runs, e.g. other seeds, of the same
// workspace and template): InputError naming the file whose bins, POI,
// workspace hash or background NLLs differ from the first's.
LikelihoodPoints read_likelihood_points(const std::vector<std::string>& paths);

struct SurrogateTrainingOptions {
  std::vector<int64_t> hidden = {256, 256, 256, 256, 256};
  int members = 3;
  int64_t batch_size = 512;
  double validation_fraction = 0.1;
  // A point of rise r (twice the NLL above the background-only minimum,
  // the larger of observed and Asimov) weighs 1 / (1 + (r / focus)^4) in
  // the loss: CLs and limits are decided at rises below ~15 (the +2 sigma
  // expected limit's Asimov rise is (1.64 + 2)^2 = 13), the far points only
  // bound the region, and an absolute error there would dominate the loss.
  // 0: every point weighs 1.
  double focus = 15.0;
  // Huber loss: residuals beyond `huber` (in NLL units) count linearly, so
  // that the few labels a fit left in a higher local minimum pull the
  // network less. 0: squared error throughout.
  double huber = 0.1;
  TrainOptions train;  // checkpoint: the member's file is checkpoint + ".m<i>"
};

// The trained surrogate; `reports` gets each member's training report. An
// interrupted member (TrainOptions::interrupt_after) ends the training: the
// spec then has fewer members than asked and the last report says so.
stats::YieldSurrogateSpec train_surrogate(const LikelihoodPoints& points, const SurrogateTrainingOptions& options,
                                          std::vector<TrainReport>* reports);

}  // namespace refinery
