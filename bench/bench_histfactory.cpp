// Benchmark of HistFactory inference against pyhf's recorded wall times
// (tests/data/pyhf/refs.json, "best of 3 in a warm process"): for every
// reference case, model building, fit, hypotest and upper limits, best of
// `repeats` in-process calls. Prints a Markdown table for docs/performance.md.
// Usage: bench_histfactory [pyhf_dir=tests/data/pyhf] [repeats=3] [threads=2]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "src/config/schema.h"
#include "src/core/threads.h"
#include "src/histfactory/hf_model.h"
#include "src/stats/fit.h"
#include "src/stats/hypotest.h"
#include "src/stats/workspace_model.h"

#include "bench/bench_timing.h"

using namespace refinery;
using namespace refinery::histfactory;

using bench::best_seconds;

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "tests/data/pyhf";
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  set_threads(argc > 3 ? std::atoi(argv[3]) : 2);
  nlohmann::json refs = read_json_file(dir + "/refs.json");
  std::printf("| case | build (s) | fit (s) | pyhf fit (s) | ratio | hypotest (s) | pyhf hypotest (s) | ratio | limit (s) | pyhf limit (s) | ratio |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& [name, c] : refs["cases"].items()) {
    std::vector<std::string> patches;
    for (const auto& p : c["patches"]) patches.push_back(dir + "/" + p.get<std::string>());
    const std::string ws_file = dir + "/" + c["workspace"].get<std::string>();
    // Model building from parsed JSON (file reading excluded: pyhf's numbers
    // exclude it too); the parse is timed separately for the ATLAS case.
    nlohmann::json doc = read_json_file(ws_file);
    for (const auto& p : patches) doc = apply_patch(doc, read_json_file(p), p);
    double t_build = best_seconds(repeats, [&] { HistFactoryModel m(Workspace::from_json(doc, ws_file)); });
    HistFactoryModel model(Workspace::from_json(doc, ws_file));
    const stats::WorkspaceModel ws_model(model);
    double t_fit = best_seconds(repeats, [&] { stats::fit(ws_model); });
    double t_hypo = best_seconds(repeats, [&] {
      stats::AsymptoticCalculator calc(ws_model, ws_model.poi());
      calc.hypotest(1.0);
    });
    const auto& ps = c["pyhf_seconds"];
    double t_lim = -1;
    if (ps.contains("upper_limit"))
      t_lim = best_seconds(1, [&] {
        stats::AsymptoticCalculator calc(ws_model, ws_model.poi());
        calc.upper_limits();
      });
    std::printf("| %s | %.5f | %.5f | %.4f | %.0fx | %.5f | %.4f | %.0fx |", name.c_str(), t_build, t_fit,
                ps["mle_fit"].get<double>(), ps["mle_fit"].get<double>() / t_fit, t_hypo,
                ps["hypotest"].get<double>(), ps["hypotest"].get<double>() / t_hypo);
    if (t_lim >= 0)
      std::printf(" %.4f | %.1f | %.0fx |\n", t_lim, ps["upper_limit"].get<double>(), ps["upper_limit"].get<double>() / t_lim);
    else
      std::printf(" - | - | - |\n");
  }
  double t_parse = best_seconds(repeats, [&] {
    Workspace ws = Workspace::load(dir + "/atlas-susy-2018-04/BkgOnly.json", {dir + "/atlas-susy-2018-04/patch.DS_200_1_Staus.json"});
    HistFactoryModel m(ws);
  });
  std::printf("\nATLAS model from the JSON files (read, parse, patch, validate, build): %.4f s\n", t_parse);
  return 0;
}
