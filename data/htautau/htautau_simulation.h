// Sample production with the H->tautau simulator: the nominal weighted
// sample, systematic-variation samples derived from the same base events,
// and Poisson pseudo-experiments (design.md section 12).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/htautau/generator.h"
#include "data/htautau/nuisances.h"
#include "src/config/selection.h"
#include "src/io/event_set.h"

namespace refinery::htautau {

struct SimulationOptions {
  std::uint64_t seed = 1;
  double luminosity = 10.0;           // fb^-1
  std::int64_t events = 1000000;      // produced events, all processes together
  std::int64_t chunk_events = 262144; // produced events per block
  std::string config_hash;
  bool quiet = false;
  // Deflate level of the files written (simulation.compression): 0 stores
  // them uncompressed, 1-9 byte-shuffles and deflates each chunk.
  int compression = 0;
  // Share of the produced events per process (process_names() order,
  // normalised to sum 1); empty: process_shares().
  std::vector<double> shares;
  double share(int process) const;
  // Thinning of the samples written (simulation.mc_thinning, mc.h5 only):
  // a process's events that pass `selection` are kept with probability
  // `keep`, their weight divided by it (the expected yields unchanged; fewer
  // stored events where a sample produced large for its sparse regions is
  // dense).
  // With `stratify` (features' columns; empty: none) the kept events are
  // not drawn one by one but systematically along them: the selected events
  // of a block, ordered by the feature (by the Morton order of their ranks
  // for several, data/systematic_sampling.h), are kept at every 1/keep-th
  // place from a uniform start, so each is still kept with probability
  // `keep` while the kept count, and the kept share of every interval of
  // the feature (of every dyadic cell of the ranks for several), is exact
  // to one event per block. The yields' statistical error from the
  // thinning then falls wherever they follow those features.
  struct Thinning {
    int process = 0;
    std::shared_ptr<const Selection> selection;
    double keep = 1.0;
    std::vector<int> stratify;
  };
  std::vector<Thinning> thinning;
  // Biased production of the system pT per process (simulation.mc_enhancement,
  // mc.h5 only; generator.h's PtEnhancement): empty or one per process.
  std::vector<PtEnhancement> enhancement;
};

// simulation.mc_thinning of a config: [{process, selection, keep[, stratify]}], the
// selections parsed against the simulator's features; ConfigError naming
// `file` and `key[i].field` otherwise.
std::vector<SimulationOptions::Thinning> parse_thinning(const nlohmann::json& list, const std::string& file,
                                                        const std::string& key);

// simulation.mc_enhancement of a config: [{process, fraction, pt_scale}],
// one entry per process at most; ConfigError naming `file` and
// `key[i].field` otherwise. Returns one PtEnhancement per process.
std::vector<PtEnhancement> parse_enhancement(const nlohmann::json& list, const std::string& file,
                                             const std::string& key);

// Share of the produced events given to each process by default (the
// weights undo it).
const std::vector<double>& process_shares();
// The shares of a config's {process: share} object (simulation.mc_shares):
// every process named once, shares > 0, normalised; ConfigError naming
// `file` and `key` otherwise. An empty object gives the defaults.
std::vector<double> parse_shares(const nlohmann::json& shares, const std::string& file, const std::string& key);

// Metadata of an htautau event file (names, luminosity, provenance).
EventMeta event_meta(const SimulationOptions& options, bool with_nuisances);

// Bookkeeping of one sample: events and yields per process after the final
// preselection, and the base events that migrated out of / into the
// selection relative to nominal.
struct SampleReport {
  NuVector nu{};
  std::vector<std::int64_t> events = std::vector<std::int64_t>(4, 0);
  std::vector<double> yields = std::vector<double>(4, 0.0);
  std::int64_t migrated_out = 0, migrated_in = 0;
  nlohmann::json to_json() const;
};

struct SimulationReport {
  SampleReport nominal;
  std::vector<SampleReport> variations;
  double seconds = 0.0;
  std::int64_t produced = 0;
  nlohmann::json to_json() const;
  std::string table() const;
};

// Streams the nominal sample to `nominal_path` (unless empty) and, when
// `variations` is not empty, all variation samples (rows tagged with their
// nu) to `variations_path`. Files are written atomically. The report books
// the nominal sample either way.
SimulationReport simulate_samples(const SimulationOptions& options,
                                  const std::vector<NuVector>& variations,
                                  const std::string& nominal_path,
                                  const std::string& variations_path);

// Generates one block of the nominal sample in memory (tests, benchmarks).
EventSet simulate_in_memory(const SimulationOptions& options, const NuVector& nu = {});

// The grid of points with sum_k |nu_k| <= max_l1 on a step grid over the
// named nuisances (soft_met only at nu >= 0), nominal excluded.
std::vector<NuVector> variation_grid(const std::vector<std::string>& nuisances, double step,
                                     double max_l1);

// A pseudo-experiment: produced counts Poisson around sigma_p L N_p(mu, nu),
// events generated afresh, calibration systematics applied at nu, weight 1.
// Reproducible from (seed, index).
struct PseudoExperiment {
  double mu = 1.0;
  NuVector nu{};
  std::uint64_t seed = 0, index = 0;
  EventSet events;
  std::vector<std::int64_t> events_per_process = std::vector<std::int64_t>(4, 0);
  nlohmann::json truth() const;
};
PseudoExperiment pseudo_experiment(double mu, const NuVector& nu, double luminosity,
                                   std::uint64_t seed, std::uint64_t index);
// mu ~ U(0.1, 3), tes, jes and the normalisations ~ N(0,1), soft_met ~
// LogNormal(0,1) clipped to [0,5]; drawn from (seed, index).
std::pair<double, NuVector> draw_truth(std::uint64_t seed, std::uint64_t index);
// The nuisances of a --nu-true option: "nominal" (soft_met at its prior's
// centre 1, the rest 0), "from-priors" (draw_truth of toy `index` under
// stream (seed, 0x7ea)) or NAME=VALUE,... (InputError naming --nu-true).
NuVector truth_option(const std::string& spec, std::uint64_t seed, std::uint64_t index);

}  // namespace refinery::htautau
