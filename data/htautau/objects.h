// ObjectSet: the reconstructed primary objects of H->tautau (lep-had) events,
// before the final thresholds. Systematics act on these objects; the 28
// features are then recomputed from them (features.h). All tensors float64,
// one row per event; GeV and radians.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

namespace refinery::htautau {

// Final (analysis) thresholds; the generator keeps objects down to looser
// ones so that upward shifts can migrate events and jets into the selection.
constexpr double kLepPtMin = 20.0, kHadPtMin = 26.0, kJetPtMin = 26.0;
constexpr double kLepEtaMax = 2.5, kHadEtaMax = 2.5, kJetEtaMax = 4.7;
constexpr double kLooseHadPtMin = 18.0, kLooseJetPtMin = 18.0;
constexpr int kMaxJets = 3;
// The value of undefined features (as in the HiggsML challenge).
constexpr float kUndefined = -25.0f;

struct ObjectSet {
  torch::Tensor lep_pt, lep_eta, lep_phi;  // [N]
  torch::Tensor had_pt, had_eta, had_phi;  // [N]
  torch::Tensor jet_pt, jet_eta, jet_phi;  // [N,3], pt-ordered, pt = 0: no jet
  // Whether a jet's direction is known: false only for third jets rebuilt
  // from features (their pT is known from PRI_jet_all_pt, not their phi).
  torch::Tensor jet_dir_known;             // [N,3] bool
  torch::Tensor met_x, met_y;              // measured missing transverse momentum
  torch::Tensor soft_x, soft_y;            // N(0,1) per event: soft_met smearing direction
  torch::Tensor weight;                    // [N]
  torch::Tensor process;                   // [N] int32

  std::int64_t size() const { return lep_pt.size(0); }
  ObjectSet select(const torch::Tensor& mask) const;
  static ObjectSet concat(const std::vector<ObjectSet>& parts);
};

}  // namespace refinery::htautau
