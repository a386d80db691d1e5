#include "data/htautau/systematics.h"

#include <torch/torch.h>

#include <cmath>

namespace refinery::htautau {

const std::vector<std::string>& process_names() {
  static const std::vector<std::string> names = {"htautau", "ztautau", "ttbar", "diboson"};
  return names;
}

double normalisation_factor(int process, double mu, const NuVector& nu) {
  const auto& s = nuisance_specs();
  if (process == kHtautau) return mu;
  // Accumulate in logs: N_p = exp(sum_k nu_k log(1 + a_pk)).
  double log_n = nu[kBkgNorm] * std::log1p(s[kBkgNorm].size);
  if (process == kTtbar) log_n += nu[kTtbarNorm] * std::log1p(s[kTtbarNorm].size);
  if (process == kDiboson) log_n += nu[kDibosonNorm] * std::log1p(s[kDibosonNorm].size);
  return std::exp(log_n);
}

ObjectSet apply_systematics(const ObjectSet& in, const NuVector& nu, double mu) {
  if (is_nominal(nu) && mu == 1.0) return in;
  const auto& s = nuisance_specs();
  ObjectSet o = in;
  torch::Tensor dmx = torch::zeros_like(in.met_x), dmy = torch::zeros_like(in.met_y);
  if (nu[kTes] != 0.0) {
    const double scale = 1.0 + s[kTes].size * nu[kTes];
    o.had_pt = in.had_pt * scale;
    torch::Tensor d = o.had_pt - in.had_pt;
    dmx -= d * torch::cos(in.had_phi);
    dmy -= d * torch::sin(in.had_phi);
  }
  if (nu[kJes] != 0.0) {
    const double scale = 1.0 + s[kJes].size * nu[kJes];
    o.jet_pt = in.jet_pt * scale;
    // MET absorbs the change of every jet whose direction is known (also of
    // jets that now fall below threshold: their energy stays measured).
    torch::Tensor d = torch::where(in.jet_dir_known, o.jet_pt - in.jet_pt,
                                   torch::zeros_like(in.jet_pt));
    dmx -= (d * torch::cos(in.jet_phi)).sum(1);
    dmy -= (d * torch::sin(in.jet_phi)).sum(1);
  }
  if (nu[kTes] != 0.0 || nu[kJes] != 0.0) {
    o.met_x = in.met_x + dmx;
    o.met_y = in.met_y + dmy;
  }
  if (nu[kSoftMet] != 0.0) {
    o.met_x = o.met_x + nu[kSoftMet] * in.soft_x;
    o.met_y = o.met_y + nu[kSoftMet] * in.soft_y;
  }
  // Normalisation: one factor per process.
  torch::Tensor factors = torch::empty({kNumProcesses}, torch::kFloat64);
  bool any = false;
  for (int p = 0; p < kNumProcesses; ++p) {
    double f = normalisation_factor(p, mu, nu);
    factors[p] = f;
    any = any || f != 1.0;
  }
  if (any) o.weight = in.weight * factors.index_select(0, in.process.to(torch::kLong));
  return o;
}

}  // namespace refinery::htautau
