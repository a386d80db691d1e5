// `refinery inspect FILE`: what an event file (yields per process, feature
// statistics) or a pyhf workspace holds.
#include <iostream>
#include <map>

#include "src/cli/options.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/histfactory/hf_model.h"
#include "src/io/event_summary.h"

namespace refinery::cli {

using namespace refinery::histfactory;

namespace {

int inspect_workspace(const std::string& path) {
  Workspace ws = Workspace::load(path);
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

}  // namespace

int run_inspect(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Summarise an event file: yields per process, feature statistics");
  options.add_options()("file", "Event file (HDF5) or HistFactory workspace (.json)", cxxopts::value<std::string>())(
      "json", "Print JSON instead of a table");
  add_common_options(options, false, true);
  options.parse_positional({"file"});
  options.positional_help("FILE");
  auto result = parse(options, argc, argv);
  if (!result) return 0;
  CommonOptions common = common_options(*result);
  if (!result->count("file")) throw InputError("", "FILE", "no event file given");
  const std::string file = (*result)["file"].as<std::string>();
  if (file.size() > 5 && file.substr(file.size() - 5) == ".json") return inspect_workspace(file);
  EventSummary summary = EventSummary::of_file((*result)["file"].as<std::string>());
  std::string text = result->count("json") ? summary.to_json().dump(2) + "\n" : summary.table();
  if (!common.out.empty())
    write_text_atomically(common.out, summary.to_json().dump(2) + "\n");
  std::cout << text;
  return 0;
}

}  // namespace refinery::cli
