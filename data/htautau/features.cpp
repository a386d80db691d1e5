#include "data/htautau/features.h"

#include <torch/torch.h>

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

FeatureResult compute_features(const ObjectSet& o) {
  const int64_t n = o.size();
  auto undef = [&](const torch::Tensor& defined, const torch::Tensor& value) {
    return torch::where(defined, value, torch::full_like(value, kUndefined));
  };
  torch::Tensor jet_ok = (o.jet_pt > kJetPtMin).logical_and(o.jet_eta.abs() < kJetEtaMax);
  // Jets are pt-ordered and one scale acts on all of them, so the counted jets
  // are a prefix; still, compact defensively by sorting on the passing pT.
  torch::Tensor pt_pass = torch::where(jet_ok, o.jet_pt, torch::zeros_like(o.jet_pt));
  auto sorted = pt_pass.sort(1, /*descending=*/true);
  torch::Tensor order = std::get<1>(sorted);
  torch::Tensor jpt = std::get<0>(sorted);
  torch::Tensor jeta = o.jet_eta.gather(1, order), jphi = o.jet_phi.gather(1, order);
  torch::Tensor njet = (jpt > 0).sum(1);
  torch::Tensor has1 = njet >= 1, has2 = njet >= 2;
  torch::Tensor j1pt = jpt.select(1, 0), j1eta = jeta.select(1, 0), j1phi = jphi.select(1, 0);
  torch::Tensor j2pt = jpt.select(1, 1), j2eta = jeta.select(1, 1), j2phi = jphi.select(1, 1);
  torch::Tensor jet_all = jpt.sum(1);

  torch::Tensor met = torch::hypot(o.met_x, o.met_y), met_phi = torch::atan2(o.met_y, o.met_x);
  torch::Tensor lx = o.lep_pt * torch::cos(o.lep_phi), ly = o.lep_pt * torch::sin(o.lep_phi);
  torch::Tensor hx = o.had_pt * torch::cos(o.had_phi), hy = o.had_pt * torch::sin(o.had_phi);
  torch::Tensor zeros = torch::zeros_like(o.lep_pt);
  torch::Tensor lep = kin::from_pt_eta_phi_m(o.lep_pt, o.lep_eta, o.lep_phi, zeros);
  torch::Tensor had = kin::from_pt_eta_phi_m(o.had_pt, o.had_eta, o.had_phi, zeros);
  torch::Tensor j1 = kin::from_pt_eta_phi_m(j1pt, j1eta, j1phi, zeros);
  torch::Tensor j2 = kin::from_pt_eta_phi_m(j2pt, j2eta, j2phi, zeros);

  torch::Tensor mt = torch::sqrt((2.0 * o.lep_pt * met * (1.0 - torch::cos(o.lep_phi - met_phi)))
                                     .clamp_min(0.0));
  torch::Tensor mvis = kin::mass(lep + had);
  torch::Tensor pth = torch::hypot(lx + hx + o.met_x, ly + hy + o.met_y);
  torch::Tensor j1x = torch::where(has1, j1pt * torch::cos(j1phi), zeros);
  torch::Tensor j1y = torch::where(has1, j1pt * torch::sin(j1phi), zeros);
  torch::Tensor j2x = torch::where(has2, j2pt * torch::cos(j2phi), zeros);
  torch::Tensor j2y = torch::where(has2, j2pt * torch::sin(j2phi), zeros);
  torch::Tensor pttot = torch::hypot(lx + hx + o.met_x + j1x + j2x, ly + hy + o.met_y + j1y + j2y);
  torch::Tensor deta = (j1eta - j2eta).abs();
  torch::Tensor mjj = kin::mass(j1 + j2);
  torch::Tensor prodeta = j1eta * j2eta;
  torch::Tensor dphi_lh = kin::wrap_phi(o.had_phi - o.lep_phi);
  torch::Tensor dr = torch::sqrt((o.had_eta - o.lep_eta).pow(2) + dphi_lh.pow(2));
  torch::Tensor sum_pt = o.lep_pt + o.had_pt + jet_all;
  torch::Tensor ratio = o.lep_pt / o.had_pt.clamp_min(1e-9);
  // MET phi centrality (HiggsML definition): sqrt(2) where MET lies on the
  // bisector between lepton and tau, 1 at either object, less outside.
  torch::Tensor sgn = torch::sign(torch::sin(o.had_phi - o.lep_phi));
  torch::Tensor a = torch::sin(met_phi - o.lep_phi) * sgn;
  torch::Tensor b = torch::sin(o.had_phi - met_phi) * sgn;
  torch::Tensor ab = torch::sqrt(a * a + b * b);
  torch::Tensor cent = torch::where(ab > 0, (a + b) / ab.clamp_min(1e-300), zeros);
  // Lepton eta centrality between the two leading jets.
  torch::Tensor mid = 0.5 * (j1eta + j2eta);
  torch::Tensor lep_cent = torch::exp(-4.0 / (deta * deta).clamp_min(1e-12) *
                                      (o.lep_eta - mid).pow(2));

  std::vector<torch::Tensor> cols(kNumFeatures);
  cols[PRI_lep_pt] = o.lep_pt;
  cols[PRI_lep_eta] = o.lep_eta;
  cols[PRI_lep_phi] = o.lep_phi;
  cols[PRI_had_pt] = o.had_pt;
  cols[PRI_had_eta] = o.had_eta;
  cols[PRI_had_phi] = o.had_phi;
  cols[PRI_jet_leading_pt] = undef(has1, j1pt);
  cols[PRI_jet_leading_eta] = undef(has1, j1eta);
  cols[PRI_jet_leading_phi] = undef(has1, j1phi);
  cols[PRI_jet_subleading_pt] = undef(has2, j2pt);
  cols[PRI_jet_subleading_eta] = undef(has2, j2eta);
  cols[PRI_jet_subleading_phi] = undef(has2, j2phi);
  cols[PRI_jet_num] = njet.to(torch::kFloat64);
  cols[PRI_jet_all_pt] = jet_all;
  cols[PRI_met] = met;
  cols[PRI_met_phi] = met_phi;
  cols[DER_mass_transverse_met_lep] = mt;
  cols[DER_mass_vis] = mvis;
  cols[DER_pt_h] = pth;
  cols[DER_deltaeta_jet_jet] = undef(has2, deta);
  cols[DER_mass_jet_jet] = undef(has2, mjj);
  cols[DER_prodeta_jet_jet] = undef(has2, prodeta);
  cols[DER_deltar_had_lep] = dr;
  cols[DER_pt_tot] = pttot;
  cols[DER_sum_pt] = sum_pt;
  cols[DER_pt_ratio_lep_had] = ratio;
  cols[DER_met_phi_centrality] = cent;
  cols[DER_lep_eta_centrality] = undef(has2, lep_cent);

  FeatureResult r;
  r.features = torch::stack(cols, 1).to(torch::kFloat32);
  r.selected = (o.lep_pt > kLepPtMin)
                   .logical_and(o.lep_eta.abs() < kLepEtaMax)
                   .logical_and(o.had_pt > kHadPtMin)
                   .logical_and(o.had_eta.abs() < kHadEtaMax);
  (void)n;
  return r;
}

ObjectSet objects_from_features(const torch::Tensor& features, const torch::Tensor& weights,
                                const torch::Tensor& process, torch::Generator& gen) {
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
  o.soft_x = torch::randn({n}, gen, torch::kFloat64);
  o.soft_y = torch::randn({n}, gen, torch::kFloat64);
  o.weight = weights.to(torch::kFloat64);
  o.process = process.to(torch::kInt32);
  return o;
}

}  // namespace refinery::htautau
