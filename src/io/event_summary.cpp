#include "src/io/event_summary.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <limits>

namespace refinery {

namespace {
struct Kahan {
  double sum = 0, c = 0;
  void add(double x) {
    double y = x - c;
    double t = sum + y;
    c = (t - sum) - y;
    sum = t;
  }
};
}  // namespace

EventSummary EventSummary::of_file(const std::string& path, float sentinel) {
  EventReader reader(path);
  EventSummary s;
  s.meta = reader.meta();
  const size_t nf = s.meta.feature_names.size(), np = s.meta.process_names.size();
  s.process_events.assign(np, 0);
  s.process_yield.assign(np, 0.0);
  std::vector<Kahan> yield(np), sum(nf), sum2(nf);
  s.min.assign(nf, std::numeric_limits<double>::infinity());
  s.max.assign(nf, -std::numeric_limits<double>::infinity());
  s.defined.assign(nf, 0);
  reader.for_each_block(reader.chunk_rows() * 8, [&](const EventSet& block, int64_t) {
    s.events += block.size();
    auto proc = block.process.accessor<int32_t, 1>();
    auto w = block.weights.accessor<double, 1>();
    for (int64_t i = 0; i < block.size(); ++i) {
      s.process_events[proc[i]] += 1;
      yield[proc[i]].add(w[i]);
    }
    torch::Tensor x = block.features.to(torch::kFloat64);
    torch::Tensor ok = block.features != sentinel;
    torch::Tensor xs = torch::where(ok, x, torch::zeros_like(x));
    torch::Tensor cnt = ok.sum(0), s1 = xs.sum(0), s2 = (xs * xs).sum(0);
    torch::Tensor big = torch::full_like(x, std::numeric_limits<double>::infinity());
    torch::Tensor mn = torch::where(ok, x, big).amin(0), mx = torch::where(ok, x, -big).amax(0);
    for (size_t f = 0; f < nf; ++f) {
      s.defined[f] += cnt[f].item<int64_t>();
      sum[f].add(s1[f].item<double>());
      sum2[f].add(s2[f].item<double>());
      s.min[f] = std::min(s.min[f], mn[f].item<double>());
      s.max[f] = std::max(s.max[f], mx[f].item<double>());
    }
  });
  for (size_t p = 0; p < np; ++p) s.process_yield[p] = yield[p].sum;
  s.mean.assign(nf, 0.0);
  s.stddev.assign(nf, 0.0);
  for (size_t f = 0; f < nf; ++f) {
    if (s.defined[f] == 0) continue;
    double n = static_cast<double>(s.defined[f]);
    s.mean[f] = sum[f].sum / n;
    s.stddev[f] = std::sqrt(std::max(0.0, sum2[f].sum / n - s.mean[f] * s.mean[f]));
  }
  return s;
}

std::string EventSummary::table() const {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%lld events, %zu features, generator %s %s, seed %llu, %.3g fb^-1\n",
                static_cast<long long>(events), meta.feature_names.size(), meta.generator.c_str(),
                meta.generator_version.c_str(), static_cast<unsigned long long>(meta.seed),
                meta.luminosity);
  out += line;
  out += "process          events        yield\n";
  for (size_t p = 0; p < meta.process_names.size(); ++p) {
    std::snprintf(line, sizeof line, "%-14s %8lld %12.2f\n", meta.process_names[p].c_str(),
                  static_cast<long long>(process_events[p]), process_yield[p]);
    out += line;
  }
  out += "feature                          defined        mean         std         min         max\n";
  for (size_t f = 0; f < meta.feature_names.size(); ++f) {
    std::snprintf(line, sizeof line, "%-30s %9lld %11.4g %11.4g %11.4g %11.4g\n",
                  meta.feature_names[f].c_str(), static_cast<long long>(defined[f]), mean[f],
                  stddev[f], defined[f] ? min[f] : 0.0, defined[f] ? max[f] : 0.0);
    out += line;
  }
  return out;
}

nlohmann::json EventSummary::to_json() const {
  nlohmann::json j;
  j["events"] = events;
  j["generator"] = meta.generator;
  j["generator_version"] = meta.generator_version;
  j["seed"] = meta.seed;
  j["luminosity"] = meta.luminosity;
  j["config_hash"] = meta.config_hash;
  for (size_t p = 0; p < meta.process_names.size(); ++p)
    j["processes"][meta.process_names[p]] = {{"events", process_events[p]},
                                             {"yield", process_yield[p]}};
  for (size_t f = 0; f < meta.feature_names.size(); ++f)
    j["features"][meta.feature_names[f]] = {{"defined", defined[f]}, {"mean", mean[f]},
                                            {"std", stddev[f]}};
  return j;
}

}  // namespace refinery
