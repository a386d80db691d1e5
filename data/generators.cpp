#include "data/generators.h"

#include <algorithm>

#include "data/htautau/htautau_simulation.h"
#include "data/htautau/nuisances.h"
#include "src/core/error.h"
#include "src/core/text.h"

namespace refinery::generators {

const std::vector<std::string>& names() {
  static const std::vector<std::string> list = {"htautau", "inferno", "dcr_toy_1d", "dcr_toy_3d", "gaussian_latent"};
  return list;
}

void check(const std::string& generator, const std::string& file, const std::string& where) {
  if (std::find(names().begin(), names().end(), generator) != names().end()) return;
  const std::string known = join(names());
  throw InputError(file, where,
                   generator.empty() ? "no generator set (built in: " + known + "; or write the event files yourself, docs/formats.md)"
                                     : "unknown generator '" + generator + "' (built in: " + known + ")");
}

bool has_pseudo_data(const std::string& generator) { return generator == "htautau"; }

EventSet pseudo_data(const std::string& generator, double mu, const std::map<std::string, double>& nuisances,
                     double luminosity, std::uint64_t seed, std::uint64_t index, const std::string& where) {
  if (!has_pseudo_data(generator))
    throw InputError("", where, "generator '" + generator + "' draws no pseudo-experiments at a truth point");
  const htautau::NuVector nu = htautau::nu_from_map(nuisances, where);
  return htautau::pseudo_experiment(mu, nu, luminosity, seed, index).events;
}

std::map<std::string, std::pair<double, double>> truth_ranges(const std::string& generator) {
  std::map<std::string, std::pair<double, double>> ranges;
  if (generator == "htautau")
    for (const auto& spec : htautau::nuisance_specs()) ranges[spec.name] = {spec.min, spec.max};
  return ranges;
}

}  // namespace refinery::generators
