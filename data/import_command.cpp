// `refinery import --config C [--out DIR]`: events from other programs'
// files. The config's `inputs` section names, per sample (nominal,
// variations, mc, toys, data) and process, an HDF5 file and its datasets
// (features as one 2D dataset or one 1D dataset each, weights with a scale,
// event numbers, the nuisance values of a variation sample); import writes
// refinery's event files OUTPUT_DIR/<sample>.h5 (docs/formats.md) with the
// config's hash, so every later stage reads them as it reads a simulation's.
// The sources are read in blocks of rows (any numeric dtype, converted), so
// files larger than memory import; the outputs appear together at the end or
// not at all.
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include <torch/torch.h>

#include "src/cli/options.h"
#include "src/core/error.h"
#include "src/core/output_directory.h"
#include "src/io/event_writer.h"
#include "src/io/h5_table.h"

namespace refinery::cli {

namespace {

constexpr int64_t kBlockRows = 1 << 18;
const std::vector<std::string> kSamples = {"nominal", "variations", "mc", "toys", "data"};

struct Entry {
  size_t index = 0;  // in inputs.samples
  std::string sample, process, file, features, group, weights, event;
  double scale = 1.0;
  std::map<std::string, double> nuisances;
  std::string key(const std::string& k) const { return "inputs.samples[" + std::to_string(index) + "]." + k; }
};

struct Imported {
  std::string sample, process, nu;
  int64_t events = 0;
  double sum_w = 0.0;
};

// One entry's rows appended to `writer`.
Imported import_entry(const ExperimentConfig& config, const Entry& e, const std::string& path, const EventMeta& meta,
                      int process, EventWriter* writer) {
  H5Table table(path);
  const int64_t F = int64_t(meta.feature_names.size());
  std::vector<std::string> columns;  // the datasets holding the features
  int64_t rows = -1;
  std::string first;  // the dataset that set `rows`
  auto check_rows = [&](const std::string& dataset) {
    const H5Table::Shape s = table.shape(dataset);
    if (rows < 0) {
      rows = s.rows;
      first = dataset;
    } else if (s.rows != rows) {
      throw InputError(path, dataset,
                       "has " + std::to_string(s.rows) + " rows where " + first + " has " + std::to_string(rows) +
                           " (" + config.file + ": " + e.key("file") + ")");
    }
    return s;
  };
  if (!e.features.empty()) {
    const H5Table::Shape s = check_rows(e.features);
    if (s.width != F)
      throw InputError(path, e.features,
                       "has " + std::to_string(s.width) + " columns, inputs.features names " + std::to_string(F) +
                           " (" + config.file + ": " + e.key("features") + ")");
  } else {
    for (const auto& f : meta.feature_names) {
      columns.push_back(e.group.empty() ? f : e.group + "/" + f);
      if (check_rows(columns.back()).width != 1)
        throw InputError(path, columns.back(), "must be one column (rank 1) when " + e.key("features") + " is empty");
    }
  }
  for (const std::string* d : {&e.weights, &e.event})
    if (!d->empty() && check_rows(*d).width != 1) throw InputError(path, *d, "must be one column (rank 1)");
  const int64_t K = int64_t(meta.nuisance_names.size());
  std::vector<float> nu(K, 0.0f);
  for (int64_t k = 0; k < K; ++k) {
    auto it = e.nuisances.find(meta.nuisance_names[k]);
    if (it != e.nuisances.end()) nu[k] = float(it->second);
  }
  Imported out{e.sample, e.process, "", 0, 0.0};
  for (const auto& [name, value] : e.nuisances) {
    std::ostringstream v;
    v << (out.nu.empty() ? "" : ",") << name << "=" << value;
    out.nu += v.str();
  }
  for (int64_t start = 0; start < rows; start += kBlockRows) {
    const int64_t n = std::min(kBlockRows, rows - start);
    EventSet block;
    if (!e.features.empty()) {
      block.features = table.read(e.features, start, n).to(torch::kFloat32);
    } else {
      std::vector<torch::Tensor> cols;
      for (const auto& c : columns) cols.push_back(table.read(c, start, n));
      block.features = torch::cat(cols, 1).to(torch::kFloat32).contiguous();
    }
    block.weights =
        ((e.weights.empty() ? torch::ones({n}, torch::kFloat64) : table.read(e.weights, start, n).view({n})) * e.scale)
            .contiguous();
    block.process = torch::full({n}, process, torch::kInt32);
    if (K > 0) block.nuisances = torch::tensor(nu).view({1, K}).expand({n, K}).contiguous();
    if (!e.event.empty()) {
      torch::Tensor ev = table.read(e.event, start, n).view({n});
      if (!(ev == ev.round()).all().item<bool>() || !(ev.abs() < 9007199254740992.0).all().item<bool>())
        throw InputError(path, e.event, "event numbers must be integers (below 2^53 in magnitude)");
      block.event = ev.to(torch::kInt64).contiguous();
    }
    // Non-finite values name the source file and its row.
    block.validate(meta, path, start);
    writer->append(block);
    out.events += n;
    out.sum_w += block.weights.sum().item<double>();
  }
  return out;
}

}  // namespace

int run_import(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Import events from other programs' HDF5 files (the config's `inputs`) into refinery's "
                           "event files OUTPUT_DIR/<sample>.h5");
  add_common_options(options);
  auto result = parse(options, argc, argv);
  if (!result) return 0;
  CommonOptions common = common_options(*result);
  if (common.config_path.empty()) throw InputError("", "--config", "import needs an experiment config with `inputs`");
  ExperimentConfig config = setup_experiment(common);
  const nlohmann::json& in = config.section("inputs");
  const std::string out_dir = common.out.empty() ? config.document.at("output_dir").get<std::string>() : common.out;

  // Everything is checked against the config before a file is opened.
  const auto features = in.at("features").get<std::vector<std::string>>();
  const auto processes = in.at("processes").get<std::vector<std::string>>();
  const nlohmann::json& list = in.at("samples");
  if (list.empty())
    throw ConfigError(config.file, "inputs.samples", "no samples declared: name each sample's file per process");
  if (features.empty()) throw ConfigError(config.file, "inputs.features", "no features named");
  if (processes.empty()) throw ConfigError(config.file, "inputs.processes", "no processes named");
  for (const auto* names : {&features, &processes})
    for (size_t i = 0; i < names->size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if ((*names)[i] == (*names)[j])
          throw ConfigError(config.file, names == &features ? "inputs.features" : "inputs.processes",
                            "'" + (*names)[i] + "' is named twice");
  std::filesystem::path base = std::filesystem::path(config.file).parent_path();
  if (const std::string d = in.at("directory").get<std::string>(); !d.empty())
    base = std::filesystem::path(d).is_absolute() ? std::filesystem::path(d) : base / d;
  std::vector<Entry> entries;
  for (size_t i = 0; i < list.size(); ++i) {
    const nlohmann::json& j = list[i];
    Entry e;
    e.index = i;
    e.sample = j.at("sample").get<std::string>();
    e.process = j.at("process").get<std::string>();
    e.file = j.at("file").get<std::string>();
    e.features = j.at("features").get<std::string>();
    for (const auto& [field, value] : {std::pair{"group", &e.group}, {"weights", &e.weights}, {"event", &e.event}})
      *value = (j.contains(field) ? j : in).at(field).get<std::string>();
    e.scale = j.at("scale").get<double>();
    e.nuisances = j.at("nuisances").get<std::map<std::string, double>>();
    if (e.process.empty() && e.sample != "data")
      throw ConfigError(config.file, e.key("process"), "a " + e.sample + " sample needs its process");
    if (!e.process.empty() && std::find(processes.begin(), processes.end(), e.process) == processes.end())
      throw ConfigError(config.file, e.key("process"), "unknown process '" + e.process + "' (inputs.processes)");
    if (e.weights.empty() && e.sample != "data")
      throw ConfigError(config.file, e.key("weights"), "a simulated sample needs its weights dataset");
    if (!e.nuisances.empty() && e.sample != "variations")
      throw ConfigError(config.file, e.key("nuisances"), "only variation samples are simulated away from the nominal point");
    if (e.sample == "variations" && e.nuisances.empty())
      throw ConfigError(config.file, e.key("nuisances"), "a variation sample names the nuisance values it was simulated at");
    entries.push_back(e);
  }

  OutputDirectory dir(out_dir, "--out");
  std::vector<std::pair<std::string, std::string>> written;  // part file, final file
  std::vector<Imported> summary;
  try {
    for (const std::string& sample : kSamples) {
      std::vector<const Entry*> mine;
      for (const auto& e : entries)
        if (e.sample == sample) mine.push_back(&e);
      if (mine.empty()) continue;
      EventMeta meta;
      meta.feature_names = features;
      meta.process_names = processes;
      meta.luminosity = config.section("simulation").at("luminosity").get<double>();
      meta.generator = "refinery import";
      meta.seed = config.document.at("seed").get<uint64_t>();
      meta.config_hash = config.hash;
      for (const Entry* e : mine)
        for (const auto& [name, value] : e->nuisances)
          if (std::find(meta.nuisance_names.begin(), meta.nuisance_names.end(), name) == meta.nuisance_names.end())
            meta.nuisance_names.push_back(name);
      for (const Entry* e : mine)
        if (e->event.empty() != mine.front()->event.empty())
          throw ConfigError(config.file, e->key("event"),
                            "every file of the " + sample + " sample gives event numbers, or none does");
      const std::string final_path = out_dir + "/" + sample + ".h5";
      const std::string part = out_dir + "/." + sample + ".h5.importing";
      EventWriter writer(part, meta);
      for (const Entry* e : mine) {
        const std::filesystem::path file = std::filesystem::path(e->file).is_absolute() ? std::filesystem::path(e->file) : base / e->file;
        const int process = e->process.empty()
                                ? 0
                                : int(std::find(processes.begin(), processes.end(), e->process) - processes.begin());
        summary.push_back(import_entry(config, *e, file.string(), meta, process, &writer));
      }
      writer.close();
      written.push_back({part, final_path});
    }
  } catch (...) {
    for (const auto& [part, final_path] : written) std::filesystem::remove(part);
    throw;
  }
  for (const auto& [part, final_path] : written) std::filesystem::rename(part, final_path);
  dir.commit();
  if (!common.quiet) {
    std::ostringstream t;
    size_t wide = 2;
    for (const auto& s : summary) wide = std::max(wide, s.nu.size());
    t << std::left << std::setw(12) << "sample" << std::setw(16) << "process" << std::setw(int(wide) + 2) << "nu"
      << std::right << std::setw(12) << "events" << std::setw(16) << "sum of weights" << "\n";
    for (const auto& s : summary)
      t << std::left << std::setw(12) << s.sample << std::setw(16) << (s.process.empty() ? "-" : s.process)
        << std::setw(int(wide) + 2) << (s.nu.empty() ? "-" : s.nu) << std::right << std::setw(12) << s.events
        << std::setw(16) << std::setprecision(6) << s.sum_w << "\n";
    std::cout << t.str();
    for (const auto& [part, final_path] : written) std::cout << "wrote " << final_path << "\n";
  }
  return 0;
}

}  // namespace refinery::cli
