#pragma once
// Systematic sampling of a subset of events along an order of them.
//
// Thinning a simulated sample by independent draws (keep each event with
// probability k, weight / k) adds (1 - k) / k times the events' own
// statistical variance to every yield of the thinned events. Ordering them
// by a variable and keeping every 1/k-th place from a uniform start (the
// systematic sample of survey sampling; Cochran, "Sampling Techniques",
// 3rd ed., ch. 8) keeps each event with the same probability k, so the
// weighted yields stay unbiased, while the kept count, and the kept count in
// every interval of the variable, is exact to one event: the thinning's
// variance leaves every yield that follows the variable.

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace refinery {

// The places kept along an order of m events: place j is kept where
// floor(start + (j + 1) keep) > floor(start + j keep). `keep` in (0, 1],
// `start` in [0, 1); std::invalid_argument otherwise.
std::vector<char> systematic_places(int64_t m, double keep, double start);

// `selected`: bool [n], the events eligible for thinning; `order_by`: [n],
// the variable they are ordered by (ties in the input order); `keep` in
// (0, 1]; `start`: uniform in [0, 1). Returns bool [n]: true at the
// selected events kept. The j-th selected event in that order is kept where
// floor(start + (j + 1) keep) > floor(start + j keep), which for a uniform
// start happens with probability `keep` for every j; the number kept is
// floor(start + m keep) for m selected events.
torch::Tensor systematic_choice(const torch::Tensor& selected, const torch::Tensor& order_by, double keep,
                                double start);

// An order of the events along several variables at once: each variable's
// rank among the selected events, scaled to 2^b levels (b = 52 / d for d
// variables, at most 20), with the levels' bits interleaved (the Morton or
// Z order). Every dyadic cell of the ranks' grid is one run of that order,
// so systematic sampling along the key (systematic_choice) keeps the share
// of every such cell, in all the variables together, exact to one event.
// `selected`: bool [n]; `columns`: [n, d], 1 <= d <= 4. Returns float64
// [n]: the key at the selected events, 0 elsewhere.
torch::Tensor morton_order_key(const torch::Tensor& selected, const torch::Tensor& columns);

}  // namespace refinery
