// The networks' outputs on a set of events: what a measurement keeps of the
// simulated events behind its expected yields and of each observed data set.
#pragma once
#include <torch/torch.h>

namespace refinery {

struct EvaluatedEvents {
  torch::Tensor x;          // features [N,F] float32
  torch::Tensor weight;     // [N] float64
  torch::Tensor process;    // [N] int64 (truth labels, -1 if unknown)
  torch::Tensor fractions;  // [N,P] float64
  torch::Tensor prob;       // [N,P] float32 calibrated class probabilities
  torch::Tensor coef;       // [N,P,C] float32
  // [N] float64 or undefined (1 for every event): an event's share of its
  // squared weight in the variance of the yields it makes (below 1 where
  // the simulated sample was thinned systematically, signal_fraction_thinning.h).
  torch::Tensor variance_factor;
};

}  // namespace refinery
