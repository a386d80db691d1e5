// `refinery inspect WORKSPACE.json`: what a pyhf workspace holds.
#include <iostream>
#include <map>

#include "src/histfactory/hf_model.h"

namespace refinery::cli {

using namespace refinery::histfactory;

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

}  // namespace refinery::cli
