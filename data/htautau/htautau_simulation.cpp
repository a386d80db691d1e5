#include "data/htautau/htautau_simulation.h"
#include "data/systematic_sampling.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>

#include "data/htautau/features.h"
#include "data/htautau/generator.h"
#include "data/htautau/systematics.h"
#include "data/random.h"
#include "src/core/error.h"
#include "src/core/progress.h"
#include "src/core/text.h"
#include "src/io/event_writer.h"

namespace refinery::htautau {

namespace {

constexpr const char* kGeneratorVersion = "1.0";
// Stream ids: (kind, process, block) keeps every random stream distinct.
enum StreamKind : std::uint64_t { kSampleStream = 1, kPseudoCount = 2, kPseudoEvents = 3, kTruth = 4, kThinningStream = 5 };

torch::Tensor nu_rows(const NuVector& nu, int64_t n) {
  torch::Tensor row = torch::empty({kNumNuisances}, torch::kFloat32);
  for (int k = 0; k < kNumNuisances; ++k) row[k] = static_cast<float>(nu[k]);
  return row.unsqueeze(0).expand({n, kNumNuisances}).contiguous();
}

// The preselected events; simulated samples number them by their produced
// event (first_event + row of the block), so that the nominal sample and
// every variation of one seed pair up by number.
EventSet to_events(const ObjectSet& objects, const FeatureResult& fr, const NuVector* nu,
                   int64_t first_event = -1) {
  torch::Tensor idx = fr.selected.nonzero().squeeze(1);
  EventSet e;
  e.features = fr.features.index_select(0, idx);
  e.weights = objects.weight.index_select(0, idx);
  e.process = objects.process.index_select(0, idx);
  if (nu) e.nuisances = nu_rows(*nu, idx.size(0));
  if (first_event >= 0) e.event = idx.to(torch::kInt64) + first_event;
  return e;
}

void book(SampleReport& r, const EventSet& e) {
  auto proc = e.process.accessor<int32_t, 1>();
  auto w = e.weights.accessor<double, 1>();
  for (int64_t i = 0; i < e.size(); ++i) {
    r.events[proc[i]] += 1;
    r.yields[proc[i]] += w[i];
  }
}

// Produced events of process p in block c of `blocks`.
int64_t block_count(int64_t total, int64_t blocks, int64_t c) {
  return total / blocks + (c < total % blocks ? 1 : 0);
}

}  // namespace

const std::vector<double>& process_shares() {
  static const std::vector<double> shares = {0.2, 0.5, 0.2, 0.1};
  return shares;
}

double SimulationOptions::share(int process) const {
  const std::vector<double>& s = shares.empty() ? process_shares() : shares;
  return s.at(static_cast<size_t>(process));
}

std::vector<double> parse_shares(const nlohmann::json& shares, const std::string& file, const std::string& key) {
  if (shares.empty()) return process_shares();
  const auto& names = process_names();
  std::vector<double> out(names.size(), 0.0);
  double total = 0.0;
  for (const auto& [name, value] : shares.items()) {
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end())
      throw ConfigError(file, key + "." + name, "unknown process (the simulator's: " + join(names) + ")");
    const double v = value.get<double>();
    if (!(v > 0.0) || !std::isfinite(v)) throw ConfigError(file, key + "." + name, "a share must be positive");
    out[it - names.begin()] = v;
    total += v;
  }
  for (size_t p = 0; p < names.size(); ++p)
    if (out[p] == 0.0)
      throw ConfigError(file, key, "no share for process '" + names[p] + "' (every process needs simulated events)");
  for (double& v : out) v /= total;
  return out;
}

std::vector<SimulationOptions::Thinning> parse_thinning(const nlohmann::json& list, const std::string& file,
                                                        const std::string& key) {
  std::vector<SimulationOptions::Thinning> out;
  const auto& names = process_names();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const nlohmann::json& t = list[i];
    const std::string at = key + "[" + std::to_string(i) + "]";
    SimulationOptions::Thinning th;
    const std::string process = t.at("process").get<std::string>();
    const auto it = std::find(names.begin(), names.end(), process);
    if (it == names.end())
      throw ConfigError(file, at + ".process", "unknown process '" + process + "' (the simulator's: " + join(names) + ")");
    th.process = static_cast<int>(it - names.begin());
    for (const auto& other : out)
      if (other.process == th.process)
        throw ConfigError(file, at + ".process", "process '" + process + "' is thinned twice (one selection per process)");
    th.keep = t.at("keep").get<double>();
    th.selection = std::make_shared<const Selection>(
        Selection::parse(t.at("selection").get<std::string>(), feature_names(), file + ": " + at + ".selection"));
    if (t.contains("stratify") && !t.at("stratify").is_null()) {
      const auto& features = feature_names();
      const nlohmann::json& list = t.at("stratify");
      if (list.empty() || list.size() > 4)
        throw ConfigError(file, at + ".stratify", "between 1 and 4 features");
      for (std::size_t k = 0; k < list.size(); ++k) {
        const std::string feature = list[k].get<std::string>();
        const auto f = std::find(features.begin(), features.end(), feature);
        if (f == features.end())
          throw ConfigError(file, at + ".stratify[" + std::to_string(k) + "]",
                            "unknown feature '" + feature + "' (the simulator's: " + join(features) + ")");
        th.stratify.push_back(static_cast<int>(f - features.begin()));
      }
    }
    out.push_back(th);
  }
  return out;
}

std::vector<PtEnhancement> parse_enhancement(const nlohmann::json& list, const std::string& file,
                                             const std::string& key) {
  const auto& names = process_names();
  std::vector<PtEnhancement> out(names.size());
  std::vector<bool> seen(names.size(), false);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const nlohmann::json& e = list[i];
    const std::string at = key + "[" + std::to_string(i) + "]";
    const std::string process = e.at("process").get<std::string>();
    const auto it = std::find(names.begin(), names.end(), process);
    if (it == names.end())
      throw ConfigError(file, at + ".process", "unknown process '" + process + "' (the simulator's: " + join(names) + ")");
    const auto p = static_cast<std::size_t>(it - names.begin());
    if (seen[p]) throw ConfigError(file, at + ".process", "process '" + process + "' is enhanced twice");
    seen[p] = true;
    out[p].fraction = e.at("fraction").get<double>();
    out[p].scale = e.at("pt_scale").get<double>();
  }
  return out;
}

EventMeta event_meta(const SimulationOptions& options, bool with_nuisances) {
  EventMeta meta;
  meta.feature_names = feature_names();
  meta.process_names = process_names();
  if (with_nuisances) meta.nuisance_names = nuisance_names();
  meta.luminosity = options.luminosity;
  meta.generator = "htautau";
  meta.generator_version = kGeneratorVersion;
  meta.seed = options.seed;
  meta.config_hash = options.config_hash;
  return meta;
}

nlohmann::json SampleReport::to_json() const {
  nlohmann::json j;
  j["nu"] = nlohmann::json::object();
  for (int k = 0; k < kNumNuisances; ++k) j["nu"][nuisance_specs()[k].name] = nu[k];
  for (int p = 0; p < kNumProcesses; ++p)
    j["processes"][process_names()[p]] = {{"events", events[p]}, {"yield", yields[p]}};
  j["migrated_out"] = migrated_out;
  j["migrated_in"] = migrated_in;
  return j;
}

nlohmann::json SimulationReport::to_json() const {
  nlohmann::json j;
  j["produced"] = produced;
  j["seconds"] = seconds;
  j["nominal"] = nominal.to_json();
  j["variations"] = nlohmann::json::array();
  for (const auto& v : variations) j["variations"].push_back(v.to_json());
  return j;
}

std::string SimulationReport::table() const {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-36s %10s %10s %10s %10s %9s %9s\n", "sample", "htautau",
                "ztautau", "ttbar", "diboson", "mig.out", "mig.in");
  out += line;
  auto row = [&](const SampleReport& r) {
    std::snprintf(line, sizeof line, "%-36s %10.1f %10.1f %10.1f %10.1f %9lld %9lld\n",
                  format_nu(r.nu).c_str(), r.yields[0], r.yields[1], r.yields[2], r.yields[3],
                  static_cast<long long>(r.migrated_out), static_cast<long long>(r.migrated_in));
    out += line;
  };
  row(nominal);
  for (const auto& v : variations) row(v);
  return out;
}

SimulationReport simulate_samples(const SimulationOptions& opt, const std::vector<NuVector>& variations,
                                  const std::string& nominal_path,
                                  const std::string& variations_path) {
  if (opt.events <= 0) throw InputError("", "events", "must be positive");
  SimulationReport report;
  report.variations.resize(variations.size());
  for (size_t v = 0; v < variations.size(); ++v) report.variations[v].nu = variations[v];
  std::unique_ptr<EventWriter> nominal, varied;
  EventWriterOptions writing;
  writing.deflate_level = opt.compression;
  writing.shuffle = opt.compression > 0;
  if (!nominal_path.empty())
    nominal = std::make_unique<EventWriter>(nominal_path, event_meta(opt, true), writing);
  if (!variations.empty())
    varied = std::make_unique<EventWriter>(variations_path, event_meta(opt, true), writing);
  const int64_t blocks = (opt.events + opt.chunk_events - 1) / opt.chunk_events;
  std::vector<int64_t> totals(kNumProcesses);
  for (int p = 0; p < kNumProcesses; ++p)
    totals[p] = std::llround(opt.events * opt.share(p));
  Progress progress("simulate htautau", opt.events, opt.quiet);
  int64_t done = 0;
  for (int64_t c = 0; c < blocks; ++c) {
    for (int p = 0; p < kNumProcesses; ++p) {
      const int64_t n = block_count(totals[p], blocks, c);
      if (n == 0) continue;
      RandomStream gen(stream_seed(opt.seed, {kSampleStream, (uint64_t)p, (uint64_t)c}));
      const double weight = cross_section_fb(p) * opt.luminosity / static_cast<double>(totals[p]);
      ObjectSet base = generate_process(p, n, weight, gen, nullptr,
                                        opt.enhancement.empty() ? PtEnhancement{} : opt.enhancement[p]);
      FeatureResult fr = compute_features(base);
      // Thinning (opt.thinning) of sample `sample` (0 nominal, v + 1 the
      // variation v): a stream of its own, so every kept event is as it was.
      auto thin = [&](EventSet& events, uint64_t sample) {
        for (const auto& t : opt.thinning) {
          if (t.process != p) continue;
          RandomStream draw(sample == 0 ? stream_seed(opt.seed, {kThinningStream, (uint64_t)p, (uint64_t)c})
                                        : stream_seed(opt.seed, {kThinningStream, (uint64_t)p, (uint64_t)c, sample}));
          const torch::Tensor in = t.selection->evaluate(events.features);
          events.weights = torch::where(in, events.weights / t.keep, events.weights);
          if (t.stratify.empty()) {
            const torch::Tensor u = draw.uniform(events.size()).to(torch::kFloat64);
            events = events.select(in.logical_not().logical_or(u < t.keep));
          } else {
            const torch::Tensor columns = events.features.index_select(1, torch::tensor(std::vector<int64_t>(t.stratify.begin(), t.stratify.end())));
            const torch::Tensor order_by = t.stratify.size() == 1 ? columns.select(1, 0) : morton_order_key(in, columns);
            events = events.select(in.logical_not().logical_or(systematic_choice(in, order_by, t.keep, draw.uniform(1).item<double>())));
          }
        }
      };
      EventSet events = to_events(base, fr, &report.nominal.nu, done);
      thin(events, 0);
      book(report.nominal, events);
      if (nominal) nominal->append(events);
      for (size_t v = 0; v < variations.size(); ++v) {
        ObjectSet shifted = apply_systematics(base, variations[v]);
        FeatureResult fv = compute_features(shifted);
        EventSet ev = to_events(shifted, fv, &variations[v], done);
        thin(ev, v + 1);
        book(report.variations[v], ev);
        report.variations[v].migrated_out += fr.selected.logical_and(fv.selected.logical_not()).sum().item<int64_t>();
        report.variations[v].migrated_in += fv.selected.logical_and(fr.selected.logical_not()).sum().item<int64_t>();
        varied->append(ev);
      }
      done += n;
      report.produced += n;
    }
    progress.update(done);
  }
  if (nominal) nominal->close();
  if (varied) varied->close();
  progress.finish();
  report.seconds = progress.elapsed_seconds();
  return report;
}

EventSet simulate_in_memory(const SimulationOptions& opt, const NuVector& nu) {
  std::vector<EventSet> parts;
  const int64_t blocks = (opt.events + opt.chunk_events - 1) / opt.chunk_events;
  int64_t done = 0;
  for (int64_t c = 0; c < blocks; ++c)
    for (int p = 0; p < kNumProcesses; ++p) {
      const int64_t total = std::llround(opt.events * opt.share(p));
      const int64_t n = block_count(total, blocks, c);
      if (n == 0) continue;
      RandomStream gen(stream_seed(opt.seed, {kSampleStream, (uint64_t)p, (uint64_t)c}));
      ObjectSet base = apply_systematics(
          generate_process(p, n, cross_section_fb(p) * opt.luminosity / total, gen), nu);
      parts.push_back(to_events(base, compute_features(base), &nu, done));
      done += n;
    }
  return EventSet::concat(parts);
}

std::vector<NuVector> variation_grid(const std::vector<std::string>& names, double step,
                                     double max_l1) {
  std::vector<NuVector> points;
  if (max_l1 <= 0) return points;
  std::vector<int> ks;
  for (const auto& name : names) {
    NuVector probe = nu_from_map({{name, 0.0}}, "variation_grid.nuisances");
    (void)probe;
    for (int k = 0; k < kNumNuisances; ++k)
      if (name == nuisance_specs()[k].name) ks.push_back(k);
  }
  const int m = static_cast<int>(std::floor(max_l1 / step + 1e-9));
  std::vector<int> idx(ks.size(), -m);
  std::function<void(size_t, int)> rec = [&](size_t i, int used) {
    if (i == ks.size()) {
      NuVector nu{};
      bool zero = true;
      for (size_t j = 0; j < ks.size(); ++j) {
        nu[ks[j]] = idx[j] * step;
        zero = zero && idx[j] == 0;
      }
      if (!zero) points.push_back(nu);
      return;
    }
    const auto& spec = nuisance_specs()[ks[i]];
    for (int v = -m; v <= m; ++v) {
      if (std::abs(v) + used > m) continue;
      double value = v * step;
      if (value < spec.min || value > spec.max) continue;
      idx[i] = v;
      rec(i + 1, used + std::abs(v));
    }
  };
  rec(0, 0);
  return points;
}

nlohmann::json PseudoExperiment::truth() const {
  nlohmann::json j;
  j["mu"] = mu;
  for (int k = 0; k < kNumNuisances; ++k) j["nu"][nuisance_specs()[k].name] = nu[k];
  j["seed"] = seed;
  j["index"] = index;
  j["events"] = events.size();
  for (int p = 0; p < kNumProcesses; ++p) j["events_per_process"][process_names()[p]] = events_per_process[p];
  return j;
}

PseudoExperiment pseudo_experiment(double mu, const NuVector& nu, double luminosity,
                                   std::uint64_t seed, std::uint64_t index) {
  if (!(mu >= 0.0) || !std::isfinite(mu)) throw InputError("", "mu", "must be finite and >= 0");
  PseudoExperiment pe;
  pe.mu = mu;
  pe.nu = nu;
  pe.seed = seed;
  pe.index = index;
  NuVector calibration = nu;
  calibration[kBkgNorm] = calibration[kTtbarNorm] = calibration[kDibosonNorm] = 0.0;
  constexpr int64_t kBlock = 1 << 18;
  std::vector<EventSet> parts;
  for (int p = 0; p < kNumProcesses; ++p) {
    // Produced count ~ Poisson(sigma_p L N_p(mu, nu)).
    std::mt19937_64 rng(stream_seed(seed, {kPseudoCount, index, (uint64_t)p}));
    const double expected = cross_section_fb(p) * luminosity * normalisation_factor(p, mu, nu);
    const int64_t produced = expected > 0 ? std::poisson_distribution<int64_t>(expected)(rng) : 0;
    for (int64_t start = 0, c = 0; start < produced; start += kBlock, ++c) {
      const int64_t n = std::min<int64_t>(kBlock, produced - start);
      RandomStream gen(stream_seed(seed, {kPseudoEvents, index, (uint64_t)p, (uint64_t)c}));
      ObjectSet base = apply_systematics(generate_process(p, n, 1.0, gen), calibration);
      EventSet e = to_events(base, compute_features(base), nullptr);
      pe.events_per_process[p] += e.size();
      parts.push_back(std::move(e));
    }
  }
  pe.events = EventSet::concat(parts);
  return pe;
}

std::pair<double, NuVector> draw_truth(std::uint64_t seed, std::uint64_t index) {
  std::mt19937_64 rng(stream_seed(seed, {kTruth, index}));
  std::normal_distribution<double> gauss(0.0, 1.0);
  double mu = std::uniform_real_distribution<double>(0.1, 3.0)(rng);
  NuVector nu{};
  nu[kTes] = gauss(rng);
  nu[kJes] = gauss(rng);
  nu[kSoftMet] = std::clamp(std::exp(gauss(rng)), 0.0, 5.0);
  nu[kBkgNorm] = gauss(rng);
  nu[kTtbarNorm] = gauss(rng);
  nu[kDibosonNorm] = gauss(rng);
  return {mu, nu};
}

NuVector truth_option(const std::string& spec, std::uint64_t seed, std::uint64_t index) {
  if (spec == "nominal" || spec.empty()) {
    NuVector nu{};
    nu[kSoftMet] = 1.0;  // the constraint's centre: the measurement's nominal point
    return nu;
  }
  if (spec == "from-priors") return draw_truth(stream_seed(seed, {0x7ea}), index).second;
  return parse_nu(spec, "--nu-true");
}

}  // namespace refinery::htautau
