// `refinery inspect FILE`: what an event file (yields per process, feature
// statistics), a pyhf workspace, a simplified likelihood or a combination
// holds.
#include <cmath>
#include <iomanip>
#include <iostream>
#include <map>

#include "infer/combination_source.h"
#include "src/cli/options.h"
#include "src/config/schema.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/core/text.h"
#include "src/histfactory/hf_model.h"
#include "src/io/event_summary.h"
#include "src/stats/simplified_likelihood.h"

namespace refinery::cli {

using namespace refinery::histfactory;

namespace {

int inspect_workspace(const std::string& path, const nlohmann::json& doc) {
  Workspace ws = Workspace::from_json(doc, path);
  HistFactoryModel model(ws);
  std::cout << path << ": " << ws.channels.size() << " channels, " << model.samples() << " samples, "
            << model.bins() << " bins, " << model.parameters().size() << " parameters, POI "
            << (model.poi_index() < 0 ? ws.measurement().poi + " (not defined: background-only)"
                                      : model.parameters()[model.poi_index()].name)
            << "\n";
  for (const auto& ch : ws.channels) {
    std::cout << "channel " << ch.name << " (" << ch.bins() << " bins)\n";
    for (const auto& s : ch.samples) {
      std::map<std::string, int> types;
      for (const auto& m : s.modifiers) types[m.type]++;
      std::cout << "  sample " << s.name << ":";
      for (const auto& [t, n] : types) std::cout << " " << n << " " << t;
      std::cout << "\n";
    }
  }
  for (const auto& note : model.notes()) std::cout << "note: " << note << "\n";
  return 0;
}

int inspect_simplified(const std::string& path, const nlohmann::json& doc) {
  const stats::SimplifiedLikelihoodModel m(stats::read_simplified_likelihood(doc, path));
  const auto& spec = m.spec();
  const int n = int(spec.bins.size());
  std::cout << path << ": simplified likelihood, " << n << " bins, "
            << (spec.third_moments.size() ? "skewed" : "Gaussian") << " background, POI " << spec.poi << " in ["
            << spec.poi_lower << ", " << spec.poi_upper << "]\n";
  std::cout << std::left << std::setw(20) << "bin" << std::right << std::setw(10) << "observed" << std::setw(14)
            << "background" << std::setw(10) << "+-" << std::setw(9) << "skew" << std::setw(10) << "signal" << "\n";
  double largest = 0.0;
  for (int i = 0; i < n; ++i) {
    const double sd = std::sqrt(spec.covariance(i, i));
    std::cout << std::left << std::setw(20) << spec.bins[i] << std::right << std::setw(10) << spec.observed[i]
              << std::setw(14) << spec.background[i] << std::setw(10) << sd << std::setw(9)
              << (spec.third_moments.size() ? spec.third_moments[i] / (sd * sd * sd) : 0.0) << std::setw(10)
              << spec.signal[i] << "\n";
    for (int j = 0; j < i; ++j)
      largest = std::max(largest, std::abs(spec.covariance(i, j)) / (sd * std::sqrt(spec.covariance(j, j))));
  }
  if (n > 1) std::cout << "largest correlation between bins: " << largest << "\n";
  return 0;
}

int inspect_combination(const std::string& path, const nlohmann::json& doc) {
  const auto model = cli::load_combination(doc, path);
  std::cout << path << ": " << model->describe() << "\n";
  std::map<std::string, int> per_analysis;
  std::vector<std::string> shared;
  for (const auto& p : model->parameters()) {
    const auto slash = p.name.find('/');
    if (slash == std::string::npos)
      shared.push_back(p.name + (p.poi ? " (POI)" : ""));
    else
      per_analysis[p.name.substr(0, slash)]++;
  }
  for (const auto& [name, count] : per_analysis) std::cout << "analysis " << name << ": " << count << " own parameters\n";
  std::cout << "shared: " << join(shared) << "\n";
  return 0;
}

}  // namespace

int run_inspect(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Summarise an event file (yields per process, feature statistics), a workspace, a simplified likelihood or a combination");
  options.add_options()("file", "Event file (HDF5), or a workspace, simplified likelihood or combination (.json)", cxxopts::value<std::string>())(
      "json", "Print JSON instead of a table");
  add_common_options(options, false, true);
  options.parse_positional({"file"});
  options.positional_help("FILE");
  auto result = parse(options, argc, argv);
  if (!result) return 0;
  CommonOptions common = common_options(*result);
  if (!result->count("file")) throw InputError("", "FILE", "no event file given");
  const std::string file = (*result)["file"].as<std::string>();
  if (file.size() > 5 && file.substr(file.size() - 5) == ".json") {
    const nlohmann::json doc = read_json_file(file);
    if (stats::is_simplified_likelihood(doc)) return inspect_simplified(file, doc);
    if (is_combination(doc)) return inspect_combination(file, doc);
    return inspect_workspace(file, doc);
  }
  EventSummary summary = EventSummary::of_file((*result)["file"].as<std::string>());
  std::string text = result->count("json") ? summary.to_json().dump(2) + "\n" : summary.table();
  if (!common.out.empty())
    write_text_atomically(common.out, summary.to_json().dump(2) + "\n");
  std::cout << text;
  return 0;
}

}  // namespace refinery::cli
