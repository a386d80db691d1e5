// An ensemble of multiclassifiers as one multiclassifier (design.md section
// 4): the members' logits averaged per event, so that the raw class
// probabilities are the normalised geometric mean of the members'. The
// members (trained alike on the same events from different seeds: same
// features, preprocessing, layer widths and yields) are laid side by side
// (merge_mlps, models/mlp.h): one network, exported, saved and evaluated
// like any classifier. The calibration is not merged: the merged classifier
// is returned uncalibrated and is calibrated on held-out events as a single
// one is (staged isotonic regression of its fractions), so the frame the
// likelihood reads stays calibrated whatever the mean does to the members'
// calibrations.
#pragma once
#include <vector>

#include "models/multiclassifier.h"

namespace refinery {

// Throws std::invalid_argument for no members or members that differ in
// layout, preprocessing or yields.
MultiClassifier merge_classifier_ensemble(const std::vector<MultiClassifier>& members);

}  // namespace refinery
