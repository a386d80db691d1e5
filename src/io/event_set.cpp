#include "src/io/event_set.h"

#include <torch/torch.h>

#include "src/core/error.h"

namespace refinery {

namespace {

void require(bool ok, const std::string& source, const std::string& dataset,
             const std::string& what) {
  if (!ok) throw InputError(source, dataset, what);
}

std::string shape_of(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "," : "") + std::to_string(t.size(i));
  return s + "]";
}

// First row of a [N] or [N,F] tensor holding a non-finite value, or -1.
int64_t first_nonfinite_row(const torch::Tensor& t) {
  torch::Tensor bad = torch::logical_not(torch::isfinite(t));
  if (t.dim() == 2) bad = bad.any(1);
  if (!bad.any().item<bool>()) return -1;
  return bad.nonzero().index({0, 0}).item<int64_t>();
}

}  // namespace

void EventSet::validate(const EventMeta& meta, const std::string& source,
                        int64_t first_row) const {
  require(features.defined(), source, "features", "missing");
  require(weights.defined(), source, "weights", "missing");
  require(process.defined(), source, "process", "missing");
  require(features.scalar_type() == torch::kFloat32, source, "features", "dtype must be float32");
  require(weights.scalar_type() == torch::kFloat64, source, "weights", "dtype must be float64");
  require(process.scalar_type() == torch::kInt32, source, "process", "dtype must be int32");
  require(features.dim() == 2, source, "features", "must have shape [N,F], got " + shape_of(features));
  require(weights.dim() == 1, source, "weights", "must have shape [N], got " + shape_of(weights));
  require(process.dim() == 1, source, "process", "must have shape [N], got " + shape_of(process));
  const int64_t n = weights.size(0);
  require(features.size(0) == n, source, "features",
          std::to_string(features.size(0)) + " rows but weights has " + std::to_string(n));
  require(process.size(0) == n, source, "process",
          std::to_string(process.size(0)) + " rows but weights has " + std::to_string(n));
  require(features.size(1) == static_cast<int64_t>(meta.feature_names.size()), source, "features",
          std::to_string(features.size(1)) + " columns but " +
              std::to_string(meta.feature_names.size()) + " feature names");
  if (nuisances.defined()) {
    require(nuisances.scalar_type() == torch::kFloat32, source, "nuisances",
            "dtype must be float32");
    require(nuisances.dim() == 2 && nuisances.size(0) == n, source, "nuisances",
            "must have shape [N,K] with N = " + std::to_string(n) + ", got " + shape_of(nuisances));
    require(nuisances.size(1) == static_cast<int64_t>(meta.nuisance_names.size()), source,
            "nuisances",
            std::to_string(nuisances.size(1)) + " columns but " +
                std::to_string(meta.nuisance_names.size()) + " nuisance names");
  } else {
    require(meta.nuisance_names.empty(), source, "nuisances",
            "missing although nuisance names are given");
  }
  if (event.defined()) {
    require(event.scalar_type() == torch::kInt64, source, "event", "dtype must be int64");
    require(event.dim() == 1 && event.size(0) == n, source, "event",
            "must have shape [N] with N = " + std::to_string(n) + ", got " + shape_of(event));
  }
  if (n == 0) return;
  int64_t row = first_nonfinite_row(features);
  if (row >= 0)
    throw InputError(source, "features",
                     "non-finite value (NaN or inf) in row " + std::to_string(first_row + row));
  row = first_nonfinite_row(weights);
  if (row >= 0)
    throw InputError(source, "weights",
                     "non-finite value (NaN or inf) in row " + std::to_string(first_row + row));
  if (nuisances.defined()) {
    row = first_nonfinite_row(nuisances);
    if (row >= 0)
      throw InputError(source, "nuisances",
                       "non-finite value (NaN or inf) in row " + std::to_string(first_row + row));
  }
  const int64_t n_proc = static_cast<int64_t>(meta.process_names.size());
  torch::Tensor bad = (process < 0).logical_or(process >= n_proc);
  if (bad.any().item<bool>()) {
    int64_t r = bad.nonzero().index({0, 0}).item<int64_t>();
    throw InputError(source, "process",
                     "index " + std::to_string(process[r].item<int>()) + " in row " +
                         std::to_string(first_row + r) + " outside [0, " + std::to_string(n_proc) +
                         ")");
  }
}

EventSet EventSet::slice(int64_t start, int64_t count) const {
  EventSet out;
  out.features = features.narrow(0, start, count);
  out.weights = weights.narrow(0, start, count);
  out.process = process.narrow(0, start, count);
  if (nuisances.defined()) out.nuisances = nuisances.narrow(0, start, count);
  if (event.defined()) out.event = event.narrow(0, start, count);
  return out;
}

EventSet EventSet::select(const torch::Tensor& mask) const {
  const torch::Tensor rows = mask.nonzero().squeeze(1);
  EventSet out;
  out.features = features.index_select(0, rows);
  out.weights = weights.index_select(0, rows);
  out.process = process.index_select(0, rows);
  if (nuisances.defined()) out.nuisances = nuisances.index_select(0, rows);
  if (event.defined()) out.event = event.index_select(0, rows);
  return out;
}

EventSet EventSet::concat(const std::vector<EventSet>& parts) {
  if (parts.empty()) return {};
  std::vector<torch::Tensor> f, w, p, nu, ev;
  for (const auto& part : parts) {
    f.push_back(part.features);
    w.push_back(part.weights);
    p.push_back(part.process);
    if (part.nuisances.defined()) nu.push_back(part.nuisances);
    if (part.event.defined()) ev.push_back(part.event);
  }
  EventSet out;
  out.features = torch::cat(f);
  out.weights = torch::cat(w);
  out.process = torch::cat(p);
  if (!nu.empty()) {
    if (nu.size() != parts.size())
      throw std::invalid_argument("EventSet::concat: some parts lack nuisances");
    out.nuisances = torch::cat(nu);
  }
  if (!ev.empty()) {
    if (ev.size() != parts.size())
      throw std::invalid_argument("EventSet::concat: some parts lack event numbers");
    out.event = torch::cat(ev);
  }
  return out;
}

}  // namespace refinery
