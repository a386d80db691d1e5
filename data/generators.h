// The built-in simulators by name (the config's simulation.generator): the
// one place that maps a name to a simulator, so that infer/ and the config
// schema name none. A simulator that can draw pseudo-experiments at a truth
// point serves `refinery toys --config` and `fit --toy I`.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "src/io/event_set.h"

namespace refinery::generators {

// Every built-in simulator ("htautau", the analytic toys).
const std::vector<std::string>& names();
// InputError naming `file` (may be empty) and `where` for a name that is not built in.
void check(const std::string& generator, const std::string& file, const std::string& where);
// Whether `generator` draws pseudo-experiments at a truth point.
bool has_pseudo_data(const std::string& generator);

// One Poisson pseudo-experiment (weights 1) at signal strength `mu` and the
// nuisances by name (every name must be one of the simulator's; the others
// stay nominal), seeded by (seed, index). InputError at `where` for an
// unknown name or a value outside the simulator's range.
EventSet pseudo_data(const std::string& generator, double mu, const std::map<std::string, double>& nuisances,
                     double luminosity, std::uint64_t seed, std::uint64_t index, const std::string& where);

// The values of each nuisance that `generator`'s pseudo_data accepts, by
// name, [min, max] (e.g. a width >= 0, a prior's clip): truths drawn from a
// constraint are clipped to them, as the simulator's own priors are.
std::map<std::string, std::pair<double, double>> truth_ranges(const std::string& generator);

}  // namespace refinery::generators
