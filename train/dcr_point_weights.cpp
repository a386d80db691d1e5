#include "train/dcr_point_weights.h"

#include <cmath>
#include <random>
#include <sstream>

#include "src/core/error.h"

namespace refinery {

double NuisancePrior::scale() const { return constraint == stats::Constraint::kLogNormal ? centre * width : width; }

torch::Tensor dcr_prior_point_weights(const torch::Tensor& nu_points, const std::vector<NuisancePrior>& priors,
                                      std::uint64_t seed, std::int64_t draws, const std::string& source) {
  const int64_t P = nu_points.size(0), K = nu_points.size(1);
  if (static_cast<int64_t>(priors.size()) != K)
    throw InputError(source, "nuisances", "one prior per nuisance of the ansatz");
  if (P == 0 || draws <= 0) throw InputError(source, "nu-points", "no training points to weigh");
  for (const auto& p : priors)
    if (!(p.scale() > 0.0)) throw InputError(source, p.name, "the prior's width must be positive");
  // Candidates: the training points and the nominal point (index P).
  const torch::Tensor pts = nu_points.to(torch::kFloat64).contiguous();
  auto a = pts.accessor<double, 2>();
  std::vector<double> scaled((P + 1) * K, 0.0);
  for (int64_t p = 0; p < P; ++p)
    for (int64_t k = 0; k < K; ++k) scaled[p * K + k] = a[p][k] / priors[k].scale();
  std::vector<int64_t> count(P + 1, 0);
  std::mt19937_64 rng(seed);
  std::vector<double> nu(K);
  for (int64_t i = 0; i < draws; ++i) {
    for (int64_t k = 0; k < K; ++k) {
      const auto& pr = priors[k];
      const double v = stats::sample_aux(pr.constraint, pr.centre, pr.width, rng);
      nu[k] = std::min(std::max(v, pr.lower), pr.upper) / pr.scale();
    }
    int64_t best = 0;
    double best_d = INFINITY;
    for (int64_t p = 0; p <= P; ++p) {
      double d = 0.0;
      for (int64_t k = 0; k < K; ++k) d += (nu[k] - scaled[p * K + k]) * (nu[k] - scaled[p * K + k]);
      if (d < best_d) best_d = d, best = p;  // ties: the first point
    }
    ++count[best];
  }
  int64_t total = 0;
  for (int64_t p = 0; p < P; ++p) {
    if (count[p] == 0) {
      std::ostringstream where;
      for (int64_t k = 0; k < K; ++k) where << (k ? "," : "") << priors[k].name << "=" << a[p][k];
      throw InputError(source, "nu-point " + where.str(), "no prior probability near it: it would not be trained");
    }
    total += count[p];
  }
  torch::Tensor w = torch::empty({P}, torch::kFloat64);
  for (int64_t p = 0; p < P; ++p) w[p] = static_cast<double>(count[p]) * static_cast<double>(P) / static_cast<double>(total);
  return w;
}

}  // namespace refinery
