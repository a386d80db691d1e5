#include "src/core/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace refinery {

bool stderr_is_terminal() {
  const char* ci = std::getenv("CI");
  if (ci && *ci && std::string(ci) != "false") return false;
  return isatty(fileno(stderr)) != 0;
}

Progress::Progress(std::string label, std::int64_t total, bool quiet, double log_interval_seconds)
    : label_(std::move(label)),
      total_(total),
      quiet_(quiet),
      terminal_(stderr_is_terminal()),
      interval_(terminal_ ? 0.2 : log_interval_seconds),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

Progress::~Progress() {
  if (!finished_ && terminal_ && !quiet_) std::fprintf(stderr, "\n");
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(std::int64_t done, const std::string& detail) {
  if (quiet_) return;
  auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_print_).count() < interval_) return;
  last_print_ = now;
  print(done, detail, false);
}

void Progress::finish(const std::string& detail) {
  if (finished_) return;
  finished_ = true;
  if (quiet_) return;
  print(total_, detail, true);
}

void Progress::print(std::int64_t done, const std::string& detail, bool final) {
  double t = elapsed_seconds();
  double frac = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  double eta = (frac > 0 && !final) ? t * (1.0 - frac) / frac : 0.0;
  char line[256];
  if (final)
    std::snprintf(line, sizeof line, "%s: %lld/%lld done in %.1f s", label_.c_str(),
                  static_cast<long long>(done), static_cast<long long>(total_), t);
  else
    std::snprintf(line, sizeof line, "%s: %lld/%lld (%.0f%%) %.1f s, ETA %.1f s", label_.c_str(),
                  static_cast<long long>(done), static_cast<long long>(total_), 100.0 * frac, t,
                  eta);
  std::string text = line;
  if (!detail.empty()) text += "  " + detail;
  if (terminal_)
    std::fprintf(stderr, "\r\033[K%s%s", text.c_str(), final ? "\n" : "");
  else
    std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

}  // namespace refinery
