// Progress of long work. On a terminal: one line rewritten in place with the
// fraction done, rate and ETA. Otherwise (logs, CI): plain lines at most every
// `log_interval` seconds and at the end. Silent when quiet.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace refinery {

class Progress {
 public:
  Progress(std::string label, std::int64_t total, bool quiet = false,
           double log_interval_seconds = 10.0);
  ~Progress();
  // Reports that `done` units of `total` are complete; `detail` is appended
  // (e.g. "loss 0.412").
  void update(std::int64_t done, const std::string& detail = "");
  void finish(const std::string& detail = "");
  double elapsed_seconds() const;

 private:
  void print(std::int64_t done, const std::string& detail, bool final);
  std::string label_;
  std::int64_t total_;
  bool quiet_;
  bool terminal_;
  double interval_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_print_;
};

// Whether stderr is a terminal and CI is not set.
bool stderr_is_terminal();

}  // namespace refinery
