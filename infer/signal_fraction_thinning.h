// Thinning of the expected-yield sample by the classifier's signal fraction
// (`measurement.mc_thinning`): a background's simulated events where the
// signal is absent weigh little in a measurement of the signal strength and
// cost every fit step as much as the others, so where the POI processes'
// summed classifier fraction is below a threshold, a rule's process keeps
// each event with probability `keep` at weight w / keep (unbiased yields).
// The decision is a pure function of the event number (or the row, where
// the file has none) and the rule, so a set-up always keeps the same events.
//
// A stratified rule keeps its events systematically instead (the systematic
// sample of survey sampling, data/systematic_sampling.h): ordered by group
// (the measurement's region), then an order within the group (the variable
// of that region's bins or cells; absent: the signal fraction), then signal
// fraction, then event number, they are kept at every 1/keep-th place from
// a start fixed by the rule and their number. Each is still kept with
// probability `keep` over starts, but the kept count in every group and
// every interval of its order (the regions' bins and cells) is exact to one
// event, so the thinning adds no statistical error to the expected yields
// there. The decision depends on the events' (group, order, fraction,
// number), not their rows.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace refinery {

struct SignalFractionThinning {
  int64_t process = 0;                 // index of the thinned process
  double signal_fraction_below = 0.0;  // thinned where sum_{s in POI} f_s < this
  double keep = 1.0;                   // in (0, 1]
  bool stratified = false;             // systematic along (group, fraction) rather than one by one
  std::vector<std::string> stratify_features;  // with `stratified`: the order spread along these too
  double signal_fraction_above = 0.0;  // ... and not below this: a rule covers [above, below)
  bool covers(double f) const { return f >= signal_fraction_above && f < signal_fraction_below; }
};

// The kept rows (int64 [M], increasing), the weights' factors for them
// (float64 [M], 1 or 1 / keep) and their variance factors (float64 [M]):
// the share of its squared weight that a kept event adds to the variance
// of the yields it makes. Independent draws keep sum w^2 (1 / keep)^2, the
// unthinned sample's sum w^2 plus the draw's (1 - keep) / keep times it:
// factor 1. A systematic sample adds no draw of its own to the yields of
// its strata, so their variance is the unthinned sample's sum w^2, which
// the kept events estimate as sum (w / keep)^2 keep: factor keep.
// `process` int64 [N], `signal_fraction` float64 [N], `event_numbers`
// int64 [N] or undefined (rows then), `group` int64 [N] (a stratified
// rule's strata; undefined: one group), `order` float64 [N] (a stratified
// rule's order within a group, before the signal fraction; undefined: the
// signal fraction alone).
struct ThinningSelection {
  torch::Tensor rows;
  torch::Tensor weight_factor;
  torch::Tensor variance_factor;
};
ThinningSelection select_by_signal_fraction(const torch::Tensor& process, const torch::Tensor& signal_fraction,
                                            const torch::Tensor& event_numbers,
                                            const std::vector<SignalFractionThinning>& rules,
                                            const torch::Tensor& group = {}, const torch::Tensor& order = {});

// A stratified rule's order along several variables (stratify_features):
// where `selected` holds, the Morton order of the ranks of `order` (the
// region's variable) and the columns of `features` [N, 1..3] together
// (data/systematic_sampling.h), so that systematic sampling keeps every
// dyadic cell of their joint ranks exact to one event; `order` elsewhere.
torch::Tensor stratified_order(const torch::Tensor& order, const torch::Tensor& selected, const torch::Tensor& features);

}  // namespace refinery
