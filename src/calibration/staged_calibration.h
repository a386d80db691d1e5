// Staged isotonic calibration of class probabilities (design.md section 4):
// class by class, an isotonic map of the current probability of class c onto
// the observed frequency of c; the row is then renormalised by scaling the
// *other* classes to share 1 - p_c, so the stage's calibrated p_c is kept
// exactly (scaling the whole row instead moved the signal yield of the
// H->tautau fractions by 2.5% after its own, exact, stage). The stages run from
// the class with the largest total weight to the smallest: a later stage
// rescales the earlier classes by (1 - p_c') / (1 - p_c), which is closest to
// one when the later class is rare. A module whose buffers are the tables
// (padded to a common length, `counts` holding each class's), so it is saved
// with the classifier and exported to TorchScript unchanged.
#pragma once
#include <torch/torch.h>

namespace refinery {

// Calibrated probabilities never fall below this floor (the row is then
// renormalised as a whole, a change of at most C times the floor): an isotonic map reaching 0 would make a process impossible
// where the uncalibrated network said it is merely rare, and log R = -inf.
constexpr double kCalibrationFloor = 1e-7;

class StagedCalibrationImpl : public torch::nn::Module {
 public:
  explicit StagedCalibrationImpl(int64_t n_classes = 1, int64_t n_knots = 1);
  // Fits the stages on held-out probabilities p [N,C], labels y [N] (int64)
  // and weights w [N]. Resizes the tables.
  void fit(const torch::Tensor& p, const torch::Tensor& y, const torch::Tensor& w, int64_t max_bins = 2000);
  // Calibrated probabilities, same dtype as p.
  torch::Tensor forward(const torch::Tensor& p);
  bool fitted() const { return fitted_flag.item<bool>(); }
  int64_t n_classes() const { return counts.size(0); }

  // [C,K] f64, [C,K] f64, [C] i64 (knots per class), [C] i64 (classes in stage order), [] bool
  torch::Tensor knots_x, knots_y, counts, stage_order, fitted_flag;
};
TORCH_MODULE(StagedCalibration);

}  // namespace refinery
