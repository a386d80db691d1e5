// Bin edges of a histogram: at least two, strictly increasing (a NaN fails).
// One rule for every place that takes edges (a config region's `edges`,
// `--edges`, the binned view of `--variable`); each names its own file and field.
#pragma once
#include <string>
#include <vector>

namespace refinery {

// Why `edges` cannot bin a variable, or "" when they can.
inline std::string bin_edges_problem(const std::vector<double>& edges) {
  if (edges.size() < 2) return "needs at least two bin edges";
  for (std::size_t b = 1; b < edges.size(); ++b)
    if (!(edges[b] > edges[b - 1])) return "bin edges must increase";
  return "";
}

}  // namespace refinery
