// EventSet: a block of simulated or observed events in memory, and its
// metadata (design.md section 10).
//   features   float32 [N,F]  the per-event features x
//   weights    float64 [N]    simulation weights, normalised to the luminosity
//   process    int32   [N]    index into EventMeta::process_names
//   nuisances  float32 [N,K]  optional: the nu each event was simulated at
//   event      int64   [N]    optional: the simulated event's number; rows of
//                             a nominal and a variation sample with the same
//                             number are one event before and after the
//                             systematic shift (paired samples)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace refinery {

struct EventMeta {
  std::vector<std::string> feature_names;
  std::vector<std::string> process_names;
  std::vector<std::string> nuisance_names;  // empty: no nuisances dataset
  double luminosity = 0.0;                  // fb^-1
  std::string generator;                    // the simulator that wrote the events
  std::string generator_version;
  std::uint64_t seed = 0;
  std::string config_hash;  // hash of the experiment config that produced the file
};

struct EventSet {
  torch::Tensor features;
  torch::Tensor weights;
  torch::Tensor process;
  torch::Tensor nuisances;  // undefined when the file has none
  torch::Tensor event;      // undefined when the file has none

  std::int64_t size() const { return weights.defined() ? weights.size(0) : 0; }
  bool has_nuisances() const { return nuisances.defined(); }
  bool has_event_numbers() const { return event.defined(); }

  // Checks dtypes, shapes and lengths against `meta`, finite features and
  // weights, process indices in range. `source` (a file name) and
  // `first_row` (global index of row 0) make the error message precise.
  void validate(const EventMeta& meta, const std::string& source,
                std::int64_t first_row = 0) const;

  // Rows [start, start+count) as views.
  EventSet slice(std::int64_t start, std::int64_t count) const;
  // The rows where `mask` (bool [N]) is true, in order (copies).
  EventSet select(const torch::Tensor& mask) const;
  // Concatenates sets with identical layouts.
  static EventSet concat(const std::vector<EventSet>& parts);
};

}  // namespace refinery
