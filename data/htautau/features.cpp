#include "data/htautau/features.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "data/four_vector.h"

namespace refinery::htautau {

using torch::indexing::Slice;

const std::vector<std::string>& feature_names() {
  static const std::vector<std::string> names = {
      "PRI_lep_pt", "PRI_lep_eta", "PRI_lep_phi", "PRI_had_pt", "PRI_had_eta", "PRI_had_phi",
      "PRI_jet_leading_pt", "PRI_jet_leading_eta", "PRI_jet_leading_phi",
      "PRI_jet_subleading_pt", "PRI_jet_subleading_eta", "PRI_jet_subleading_phi",
      "PRI_jet_num", "PRI_jet_all_pt", "PRI_met", "PRI_met_phi",
      "DER_mass_transverse_met_lep", "DER_mass_vis", "DER_pt_h", "DER_deltaeta_jet_jet",
      "DER_mass_jet_jet", "DER_prodeta_jet_jet", "DER_deltar_had_lep", "DER_pt_tot",
      "DER_sum_pt", "DER_pt_ratio_lep_had", "DER_met_phi_centrality",
      "DER_lep_eta_centrality"};
  return names;
}

namespace {

struct Vec4 {
  double e, x, y, z;
};
Vec4 massless(double px, double py, double pz) {
  return {std::sqrt(px * px + py * py + pz * pz), px, py, pz};
}
double pair_mass(const Vec4& a, const Vec4& b) {
  const double e = a.e + b.e, x = a.x + b.x, y = a.y + b.y, z = a.z + b.z;
  return std::sqrt(std::max(0.0, e * e - x * x - y * y - z * z));
}
double wrap(double phi) { return phi - 2.0 * M_PI * std::floor((phi + M_PI) / (2.0 * M_PI)); }
double sign(double v) { return (v > 0) - (v < 0); }

}  // namespace

FeatureResult compute_features(const ObjectSet& o) {
  const int64_t n = o.size();
  FeatureResult r;
  r.features = torch::empty({n, kNumFeatures}, torch::kFloat32);
  r.selected = torch::empty({n}, torch::kBool);
  auto c = [](const torch::Tensor& t) { return t.to(torch::kFloat64).contiguous(); };
  const torch::Tensor lpt = c(o.lep_pt), leta = c(o.lep_eta), lphi = c(o.lep_phi);
  const torch::Tensor hpt = c(o.had_pt), heta = c(o.had_eta), hphi = c(o.had_phi);
  const torch::Tensor jpt = c(o.jet_pt), jeta = c(o.jet_eta), jphi = c(o.jet_phi);
  const torch::Tensor mx = c(o.met_x), my = c(o.met_y);
  const double *LPT = lpt.data_ptr<double>(), *LETA = leta.data_ptr<double>(),
               *LPHI = lphi.data_ptr<double>(), *HPT = hpt.data_ptr<double>(),
               *HETA = heta.data_ptr<double>(), *HPHI = hphi.data_ptr<double>(),
               *JPT = jpt.data_ptr<double>(), *JETA = jeta.data_ptr<double>(),
               *JPHI = jphi.data_ptr<double>(), *MX = mx.data_ptr<double>(),
               *MY = my.data_ptr<double>();
  float* out = r.features.data_ptr<float>();
  bool* sel = r.selected.data_ptr<bool>();
  const float U = kUndefined;
  // One fused pass per event: the final thresholds, then the 28 features.
  at::parallel_for(0, n, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float* f = out + i * kNumFeatures;
      // Jets counted: pT > 26 GeV within |eta| < 4.7, in decreasing pT.
      double pt[kMaxJets], eta[kMaxJets], phi[kMaxJets];
      int nj = 0;
      for (int j = 0; j < kMaxJets; ++j) {
        const double p = JPT[i * kMaxJets + j], e = JETA[i * kMaxJets + j];
        if (p > kJetPtMin && std::abs(e) < kJetEtaMax) {
          int k = nj++;
          while (k > 0 && pt[k - 1] < p) {  // keep decreasing order
            pt[k] = pt[k - 1], eta[k] = eta[k - 1], phi[k] = phi[k - 1];
            --k;
          }
          pt[k] = p, eta[k] = e, phi[k] = JPHI[i * kMaxJets + j];
        }
      }
      double jet_all = 0.0;
      for (int j = 0; j < nj; ++j) jet_all += pt[j];
      const double lp = LPT[i], le = LETA[i], lf = LPHI[i];
      const double hp = HPT[i], he = HETA[i], hf = HPHI[i];
      // Trigonometry once per object; angle differences by addition theorems.
      const double cl = std::cos(lf), sl = std::sin(lf), ch = std::cos(hf), sh = std::sin(hf);
      const double met = std::sqrt(MX[i] * MX[i] + MY[i] * MY[i]);
      const double met_phi = std::atan2(MY[i], MX[i]);
      const double cm = met > 0 ? MX[i] / met : 1.0, sm = met > 0 ? MY[i] / met : 0.0;
      const double lx = lp * cl, ly = lp * sl, hx = hp * ch, hy = hp * sh;
      const Vec4 lep = massless(lx, ly, lp * std::sinh(le)), had = massless(hx, hy, hp * std::sinh(he));
      f[PRI_lep_pt] = lp, f[PRI_lep_eta] = le, f[PRI_lep_phi] = lf;
      f[PRI_had_pt] = hp, f[PRI_had_eta] = he, f[PRI_had_phi] = hf;
      f[PRI_jet_leading_pt] = nj >= 1 ? pt[0] : U;
      f[PRI_jet_leading_eta] = nj >= 1 ? eta[0] : U;
      f[PRI_jet_leading_phi] = nj >= 1 ? phi[0] : U;
      f[PRI_jet_subleading_pt] = nj >= 2 ? pt[1] : U;
      f[PRI_jet_subleading_eta] = nj >= 2 ? eta[1] : U;
      f[PRI_jet_subleading_phi] = nj >= 2 ? phi[1] : U;
      f[PRI_jet_num] = nj;
      f[PRI_jet_all_pt] = jet_all;
      f[PRI_met] = met;
      f[PRI_met_phi] = met_phi;
      // mT = sqrt(2 pT_lep MET (1 - cos(phi_lep - phi_met)))
      f[DER_mass_transverse_met_lep] = std::sqrt(std::max(0.0, 2.0 * lp * met * (1.0 - (cl * cm + sl * sm))));
      f[DER_mass_vis] = pair_mass(lep, had);
      double tx = lx + hx + MX[i], ty = ly + hy + MY[i];
      f[DER_pt_h] = std::sqrt(tx * tx + ty * ty);
      Vec4 jet[2];
      for (int j = 0; j < std::min(nj, 2); ++j) {
        const double jx = pt[j] * std::cos(phi[j]), jy = pt[j] * std::sin(phi[j]);
        jet[j] = massless(jx, jy, pt[j] * std::sinh(eta[j]));
        tx += jx;
        ty += jy;
      }
      f[DER_pt_tot] = std::sqrt(tx * tx + ty * ty);
      if (nj >= 2) {
        const double deta = std::abs(eta[0] - eta[1]);
        f[DER_deltaeta_jet_jet] = deta;
        f[DER_mass_jet_jet] = pair_mass(jet[0], jet[1]);
        f[DER_prodeta_jet_jet] = eta[0] * eta[1];
        const double mid = 0.5 * (eta[0] + eta[1]);
        // Lepton eta centrality: 1 midway between the jets, 1/e at a jet.
        f[DER_lep_eta_centrality] =
            std::exp(-4.0 / std::max(deta * deta, 1e-12) * (le - mid) * (le - mid));
      } else {
        f[DER_deltaeta_jet_jet] = f[DER_mass_jet_jet] = f[DER_prodeta_jet_jet] =
            f[DER_lep_eta_centrality] = U;
      }
      const double dphi = wrap(hf - lf);
      f[DER_deltar_had_lep] = std::sqrt((he - le) * (he - le) + dphi * dphi);
      f[DER_sum_pt] = lp + hp + jet_all;
      f[DER_pt_ratio_lep_had] = lp / std::max(hp, 1e-9);
      // MET phi centrality (HiggsML definition): sqrt(2) when the MET lies
      // on the bisector between lepton and tau, 1 at either, less outside.
      const double s = sign(sh * cl - ch * sl);        // sign(sin(phi_had - phi_lep))
      const double a = (sm * cl - cm * sl) * s;        // sin(phi_met - phi_lep)
      const double b = (sh * cm - ch * sm) * s;        // sin(phi_had - phi_met)
      const double ab = std::sqrt(a * a + b * b);
      f[DER_met_phi_centrality] = ab > 0 ? (a + b) / ab : 0.0;
      sel[i] = lp > kLepPtMin && std::abs(le) < kLepEtaMax && hp > kHadPtMin &&
               std::abs(he) < kHadEtaMax;
    }
  });
  return r;
}

ObjectSet objects_from_features(const torch::Tensor& features, const torch::Tensor& weights,
                                const torch::Tensor& process, RandomStream& gen) {
  torch::Tensor x = features.to(torch::kFloat64);
  auto col = [&](int f) { return x.select(1, f); };
  const int64_t n = x.size(0);
  ObjectSet o;
  o.lep_pt = col(PRI_lep_pt);
  o.lep_eta = col(PRI_lep_eta);
  o.lep_phi = col(PRI_lep_phi);
  o.had_pt = col(PRI_had_pt);
  o.had_eta = col(PRI_had_eta);
  o.had_phi = col(PRI_had_phi);
  torch::Tensor njet = col(PRI_jet_num);
  torch::Tensor zero = torch::zeros({n}, torch::kFloat64);
  torch::Tensor has1 = njet >= 1, has2 = njet >= 2, has3 = njet >= 3;
  torch::Tensor j1 = torch::where(has1, col(PRI_jet_leading_pt), zero);
  torch::Tensor j2 = torch::where(has2, col(PRI_jet_subleading_pt), zero);
  torch::Tensor j3 = torch::where(has3, (col(PRI_jet_all_pt) - j1 - j2).clamp_min(0.0), zero);
  o.jet_pt = torch::stack({j1, j2, j3}, 1);
  o.jet_eta = torch::stack({torch::where(has1, col(PRI_jet_leading_eta), zero),
                            torch::where(has2, col(PRI_jet_subleading_eta), zero), zero},
                           1);
  o.jet_phi = torch::stack({torch::where(has1, col(PRI_jet_leading_phi), zero),
                            torch::where(has2, col(PRI_jet_subleading_phi), zero), zero},
                           1);
  o.jet_dir_known = torch::stack(
      {torch::ones({n}, torch::kBool), torch::ones({n}, torch::kBool), torch::zeros({n}, torch::kBool)}, 1);
  o.met_x = col(PRI_met) * torch::cos(col(PRI_met_phi));
  o.met_y = col(PRI_met) * torch::sin(col(PRI_met_phi));
  o.soft_x = gen.normal(n);
  o.soft_y = gen.normal(n);
  o.weight = weights.to(torch::kFloat64);
  o.process = process.to(torch::kInt32);
  return o;
}

}  // namespace refinery::htautau
