// The 28 features of the FAIR Universe HiggsML Uncertainty Challenge,
// computed from an ObjectSet after the final thresholds, and the inverse map
// (objects rebuilt from features) so systematics can act on any event file.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "data/htautau/objects.h"
#include "data/random.h"

namespace refinery::htautau {

enum Feature {
  PRI_lep_pt = 0, PRI_lep_eta, PRI_lep_phi, PRI_had_pt, PRI_had_eta, PRI_had_phi,
  PRI_jet_leading_pt, PRI_jet_leading_eta, PRI_jet_leading_phi,
  PRI_jet_subleading_pt, PRI_jet_subleading_eta, PRI_jet_subleading_phi,
  PRI_jet_num, PRI_jet_all_pt, PRI_met, PRI_met_phi,
  DER_mass_transverse_met_lep, DER_mass_vis, DER_pt_h, DER_deltaeta_jet_jet,
  DER_mass_jet_jet, DER_prodeta_jet_jet, DER_deltar_had_lep, DER_pt_tot, DER_sum_pt,
  DER_pt_ratio_lep_had, DER_met_phi_centrality, DER_lep_eta_centrality,
  kNumFeatures
};

const std::vector<std::string>& feature_names();

struct FeatureResult {
  torch::Tensor features;  // float32 [N,28], kUndefined where not defined
  torch::Tensor selected;  // bool [N]: passes the final preselection
};

// Applies the final thresholds (lepton, hadronic tau; jets below kJetPtMin
// are not counted) and computes the features of every event; events failing
// the preselection are flagged in `selected`, never dropped here.
FeatureResult compute_features(const ObjectSet& objects);

// Rebuilds objects from features. The third jet (PRI_jet_num == 3) gets its
// pT from PRI_jet_all_pt and an unknown direction; soft_x/soft_y are drawn
// from `gen`.
ObjectSet objects_from_features(const torch::Tensor& features, const torch::Tensor& weights,
                                const torch::Tensor& process, RandomStream& gen);

}  // namespace refinery::htautau
