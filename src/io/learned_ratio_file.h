// The learned-ratio likelihood file: what the unbinned likelihood of a
// morphing-aware ratio estimator needs (src/stats/learned_ratio_model.h),
// the per-event coefficients cached once, so that fits and scans over the
// theory parameters run through the model interface without the network
// (`refinery eval ratio` writes it; `refinery fit|scan|impacts|hypotest
// FILE.h5` reads it). HDF5 (docs/formats.md, "Learned-ratio likelihoods"):
//   coefficients           float64 [N, n (1 + 2K)]  the observed events'
//   weights                float64 [N]              their weights (1 for data)
//   reference_coefficients float64 [M, n (1 + 2K)]  a sample at (theta_ref, 0)
//   morphing_components    float64 [n, T], morphing_basis float64 [n, T]
//   lower, upper           float64 [T]              the theory parameters' bounds
// Attributes: kind "learned_ratio_likelihood", parameter_names (T theory
// parameters, then K nuisances), nuisances (K), reference_yield (the
// expected events at (theta_ref, 0)), model, events, reference_events.
#pragma once
#include <memory>
#include <string>

#include "src/stats/learned_ratio_model.h"

namespace refinery {

struct LearnedRatioFile {
  std::shared_ptr<const stats::LearnedRatioInputs> inputs;
  Eigen::MatrixXd coefficients;
  Eigen::VectorXd weights;
  std::string model, events, reference_events;  // provenance
};

void write_learned_ratio_file(const std::string& path, const LearnedRatioFile& file);
// InputError naming the file and dataset or attribute.
LearnedRatioFile read_learned_ratio_file(const std::string& path);
// Whether `path` is an HDF5 file whose kind attribute says so (false for
// anything else; InputError only for a file whose metadata crashes libhdf5,
// h5_probe.h).
bool is_learned_ratio_file(const std::string& path);

}  // namespace refinery
