// Measurement::calibrate_binned_yields (measurement.yield_calibration): the
// binned regions' yield response to the calibration nuisances brought to the
// simulator's on the DCR networks' paired sample (INPUTS/nominal.h5 and
// INPUTS/variations.h5, the same events at nu = 0 and at the training
// points), by src/likelihood/paired_yield_calibration.h. Every binned
// region's bins (the control regions; with --reference also the signal
// regions' bins of the reference variable; `regions`, where given, chooses
// among them) and process get a correction of
// the ansatz's coefficients, which prepare_regions adds to the simulated
// events' coefficients there. Unbinned regions are left as they are.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "infer/measurement.h"
#include "src/core/error.h"
#include "src/core/text.h"
#include "src/io/event_reader.h"
#include "src/likelihood/fused_kernel.h"
#include "src/likelihood/paired_yield_calibration.h"

namespace refinery {

using namespace likelihood;

void Measurement::require_paired_file(const std::string& path) {
  if (!std::filesystem::exists(path))
    throw InputError(path, "file",
                     "missing: measurement.yield_calibration needs the DCR networks' paired sample "
                     "(refinery simulate --config ... with simulation.variations or variation_grid)");
}

void Measurement::calibrate_binned_yields(const std::string& dir, int64_t min_events, const std::vector<bool>& calibrated) {
  const int64_t P = int64_t(processes_.size());
  binned_offset_.assign(regions_.size(), -1);
  int64_t n_bins = 0;
  bool needs_prob = false;
  for (size_t i = 0; i < regions_.size(); ++i) {
    if (!regions_[i].binned || !calibrated[i]) continue;
    binned_offset_[i] = n_bins;
    n_bins += int64_t(regions_[i].edges.size()) - 1;
    needs_prob = needs_prob || regions_[i].variable.rfind("p_", 0) == 0;
  }
  if (n_bins == 0) return;

  const std::string nominal_path = dir + "/nominal.h5", variations_path = dir + "/variations.h5";
  for (const auto& path : {nominal_path, variations_path}) require_paired_file(path);
  EventMeta mn, mv;
  const EventSet nominal = read_events(nominal_path, &mn);
  const EventSet varied = read_events(variations_path, &mv);
  for (const auto& [meta, path] : {std::pair{&mn, nominal_path}, std::pair{&mv, variations_path}}) {
    classifier_->check_features(meta->feature_names, path);
    if (meta->process_names != processes_)
      throw InputError(path, "attribute process_names", "[" + join(meta->process_names) + "] differ from the classifier's [" +
                                                            join(processes_) + "]");
  }
  if (!nominal.has_event_numbers()) throw InputError(nominal_path, "event", "no event numbers: the pairs cannot be matched");
  if (!varied.has_event_numbers()) throw InputError(variations_path, "event", "no event numbers: the pairs cannot be matched");
  if (!varied.has_nuisances()) throw InputError(variations_path, "nuisances", "the rows carry no nu (dataset missing)");
  if (nominal.has_nuisances() && nominal.nuisances.ne(0.0).any().item<bool>())
    throw InputError(nominal_path, "nuisances", "the nominal sample must be simulated at nu = 0, the networks' reference point");
  {
    const double paired = torch::isin(varied.event, nominal.event).to(torch::kFloat64).mean().item<double>();
    if (varied.size() > 0 && paired < 0.5)
      throw InputError(variations_path, "event", "only " + std::to_string(paired) + " of its events are in " + nominal_path +
                                                     ": not the same events (a paired sample)");
  }

  // The points: the variations' nuisance columns in the networks' order.
  const int64_t K = int64_t(dcr_nuisances_.size());
  const torch::Tensor nu = in_networks_order(varied.nuisances, mv.nuisance_names, variations_path, "");
  auto [points, point_of_row, unused_counts] = torch::unique_dim(nu, 0, /*sorted=*/true, /*return_inverse=*/true);
  const int64_t n_points = points.size(0);
  const Ansatz ansatz(int(spec_.calibration.size()), 2, spec_.calibration_power);
  torch::Tensor phi = torch::zeros({n_points, int64_t(ansatz.C)}, torch::kFloat64);
  {
    std::vector<double> point(spec_.calibration.size(), 0.0), row(size_t(ansatz.C));
    for (int64_t p = 0; p < n_points; ++p) {
      for (int64_t k = 0; k < K; ++k) point[size_t(k)] = points[p][k].item<double>();
      ansatz.phi(point.data(), row.data());
      for (int64_t c = 0; c < ansatz.C; ++c) phi[p][c] = row[size_t(c)];
    }
  }

  // Cells: (the region's first bin + bin) * P + process; -1 outside the
  // binned regions.
  auto cells_of = [&](const EvaluatedEvents& e) {
    torch::Tensor cell = torch::full({e.x.size(0)}, int64_t(-1), torch::kInt64);
    for (size_t i = 0; i < regions_.size(); ++i) {
      if (binned_offset_[i] < 0) continue;
      auto [mask, bin] = assign(regions_[i], e);
      const torch::Tensor here = mask & (bin >= 0) & (cell < 0);
      cell = torch::where(here, (binned_offset_[i] + bin) * P + e.process, cell);
    }
    return cell;
  };
  const EvaluatedEvents en = evaluate(nominal, nominal_path);
  const torch::Tensor own = en.coef.gather(1, en.process.view({-1, 1, 1}).expand({-1, 1, en.coef.size(2)})).squeeze(1);
  PairedYieldSample sample;
  sample.n_cells = n_bins * P;
  sample.nominal_event = nominal.event.to(torch::kInt64);
  sample.nominal_cell = cells_of(en);
  sample.nominal_weight = en.weight;
  sample.nominal_log_r = own.to(torch::kFloat64).matmul(phi.t());
  EvaluatedEvents ev;
  ev.x = varied.features.to(torch::kFloat32).contiguous();
  ev.process = varied.process.to(torch::kInt64);
  if (needs_prob) ev.prob = classifier_->probabilities(ev.x);
  sample.varied_event = varied.event.to(torch::kInt64);
  sample.varied_cell = cells_of(ev);
  sample.varied_weight = varied.weights.to(torch::kFloat64);
  sample.varied_point = point_of_row;
  sample.phi = phi;
  const PairedYieldCorrection c = paired_yield_correction(sample, min_events);
  yield_correction_ = c.correction;
  {
    const torch::Tensor fitted = c.ndf > 0;
    const int64_t n_fitted = fitted.sum().item<int64_t>();
    const double mean_shrink = n_fitted ? c.shrink.masked_select(fitted).mean().item<double>() : 0.0;
    std::fprintf(stderr, "yield calibration on the paired sample (%lld points): %lld of %lld (bin, process) cells fitted, "
                 "mean shrinkage factor %.3f\n", (long long)n_points, (long long)n_fitted, (long long)sample.n_cells, mean_shrink);
  }
}

torch::Tensor Measurement::yield_correction(size_t region, const torch::Tensor& bin) const {
  if (!yield_correction_.defined() || binned_offset_.empty() || binned_offset_[region] < 0) return {};
  const int64_t P = int64_t(processes_.size()), C = yield_correction_.size(1);
  const torch::Tensor cell = ((binned_offset_[region] + bin).unsqueeze(1) * P + torch::arange(P, torch::kInt64)).reshape(-1);
  return yield_correction_.index_select(0, cell).view({bin.size(0), P, C}).to(torch::kFloat32);
}

}  // namespace refinery
