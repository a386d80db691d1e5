// EventSummary: per-process yields and per-feature statistics of an event
// file, accumulated block by block (files larger than memory are fine).
// Sums are in double with Kahan compensation.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/io/event_reader.h"

namespace refinery {

struct EventSummary {
  EventMeta meta;
  std::int64_t events = 0;
  std::vector<std::int64_t> process_events;  // raw events per process
  std::vector<double> process_yield;         // sum of weights per process
  // Per feature, over events where it is defined (!= sentinel):
  std::vector<double> mean, stddev, min, max;
  std::vector<std::int64_t> defined;

  static EventSummary of_file(const std::string& path, float sentinel = -25.0f);
  std::string table() const;
  nlohmann::json to_json() const;
};

}  // namespace refinery
