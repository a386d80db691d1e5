#include "data/htautau/systematics.h"

#include <ATen/Parallel.h>
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
  const int64_t n = in.size();
  const double tes = 1.0 + s[kTes].size * nu[kTes], jes = 1.0 + s[kJes].size * nu[kJes];
  const double soft = nu[kSoftMet];
  double factor[kNumProcesses];
  for (int p = 0; p < kNumProcesses; ++p) factor[p] = normalisation_factor(p, mu, nu);

  auto c = [](const torch::Tensor& t) { return t.contiguous(); };
  const torch::Tensor hpt = c(in.had_pt), hphi = c(in.had_phi), jpt = c(in.jet_pt),
                      jphi = c(in.jet_phi), known = c(in.jet_dir_known), mx = c(in.met_x),
                      my = c(in.met_y), sx = c(in.soft_x), sy = c(in.soft_y), w = c(in.weight),
                      proc = c(in.process);
  ObjectSet o = in;
  o.had_pt = torch::empty_like(hpt);
  o.jet_pt = torch::empty_like(jpt);
  o.met_x = torch::empty_like(mx);
  o.met_y = torch::empty_like(my);
  o.weight = torch::empty_like(w);
  const double *HPT = hpt.data_ptr<double>(), *HPHI = hphi.data_ptr<double>(),
               *JPT = jpt.data_ptr<double>(), *JPHI = jphi.data_ptr<double>(),
               *MX = mx.data_ptr<double>(), *MY = my.data_ptr<double>(),
               *SX = sx.data_ptr<double>(), *SY = sy.data_ptr<double>(), *W = w.data_ptr<double>();
  const bool* KNOWN = known.data_ptr<bool>();
  const int32_t* P = proc.data_ptr<int32_t>();
  double *OH = o.had_pt.data_ptr<double>(), *OJ = o.jet_pt.data_ptr<double>(),
         *OX = o.met_x.data_ptr<double>(), *OY = o.met_y.data_ptr<double>(),
         *OW = o.weight.data_ptr<double>();
  const bool do_tes = nu[kTes] != 0.0, do_jes = nu[kJes] != 0.0, do_soft = soft != 0.0;
  // One pass per event. Each shift is skipped when its nu is 0, so that
  // nu = 0 reproduces the input bit for bit.
  at::parallel_for(0, n, 8192, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      double met_x = MX[i], met_y = MY[i];
      OH[i] = HPT[i];
      if (do_tes) {
        OH[i] = HPT[i] * tes;
        const double d = OH[i] - HPT[i];
        met_x -= d * std::cos(HPHI[i]);
        met_y -= d * std::sin(HPHI[i]);
      }
      for (int j = 0; j < kMaxJets; ++j) {
        const int64_t k = i * kMaxJets + j;
        OJ[k] = JPT[k];
        if (do_jes) {
          OJ[k] = JPT[k] * jes;
          // The MET absorbs the change of every jet whose direction is known,
          // also of jets that now fall below threshold (still measured).
          if (KNOWN[k]) {
            const double d = OJ[k] - JPT[k];
            met_x -= d * std::cos(JPHI[k]);
            met_y -= d * std::sin(JPHI[k]);
          }
        }
      }
      if (do_soft) {
        met_x += soft * SX[i];
        met_y += soft * SY[i];
      }
      OX[i] = met_x;
      OY[i] = met_y;
      OW[i] = W[i] * factor[P[i]];
    }
  });
  return o;
}

}  // namespace refinery::htautau
