// The augmented training sample of the likelihood-ratio and score
// estimators (issue 17 item 3; MadMiner's "gold mining", arXiv:1805.12244):
// simulated events with what the simulator knows about each of them, the
// joint log ratio and the joint score of its latent history, written by
// `refinery simulate theory` and read by `refinery train ratio|sally`
// (docs/formats.md, "Augmented training samples"). HDF5:
//   x                 float32 [N, F]  observables
//   theta             float64 [N, P]  the parameters each event is paired with
//                                     (theory parameters, then nuisances)
//   theta_denominator float64 [N, P]  optional: theta_1 where it was drawn
//   joint_log_ratio   float64 [N]     log r(x,z|theta, theta_1 or reference)
//   joint_score       float64 [N, P]  t(x,z|theta)
//   label             float64 [N]     0: drawn at theta, 1: at the denominator
//   reference         float64 [P]     theta_ref (kind ratio) or the point (kind score)
//   prior_lower, prior_upper float64 [T]   the box theta was drawn from (kind ratio)
//   morphing_components float64 [n, T], morphing_basis float64 [n, T],
//   basis_cross_sections float64 [n]  optional: the morphing structure
// Attributes: kind ("ratio" or "score"), feature_names, parameter_names,
// theory_parameters (T), generator, seed, cross_section (sigma at the point;
// kind score) with cross_section_gradient as a dataset [T].
// Kind score has only x, joint_score and reference (no label, no ratio).
#pragma once
#include <torch/types.h>

#include <Eigen/Dense>

#include <cstdint>
#include <string>
#include <vector>

namespace refinery {

struct AugmentedSample {
  std::string kind = "ratio";  // or "score"
  std::vector<std::string> feature_names, parameter_names;
  int theory_parameters = 0;  // T; parameters after them are nuisances
  torch::Tensor x, theta, theta_denominator, joint_log_ratio, joint_score, label;
  Eigen::VectorXd reference, prior_lower, prior_upper;
  // The morphing structure of the theory parameters (empty: none).
  std::vector<std::vector<int>> morphing_components;
  Eigen::MatrixXd morphing_basis;
  Eigen::VectorXd basis_cross_sections;
  double cross_section = 0.0;             // kind score: sigma at the point
  Eigen::VectorXd cross_section_gradient;  // [T]
  std::string generator;
  std::uint64_t seed = 0;

  std::int64_t size() const { return x.defined() ? x.size(0) : 0; }
  bool has_morphing() const { return !morphing_components.empty(); }
};

// Writes atomically (nothing under `path` on failure).
void write_augmented_sample(const std::string& path, const AugmentedSample& sample);
// Reads and checks shapes, finiteness and labels; InputError naming the
// file and the dataset or attribute.
AugmentedSample read_augmented_sample(const std::string& path);

}  // namespace refinery
