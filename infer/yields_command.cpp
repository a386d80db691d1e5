// `refinery yields`: expected yields per region and process, pre-fit (at the
// initial values, errors from the constraints) and post-fit (at the best fit,
// errors through its full covariance), with each region's total and the
// observed data (src/stats/yields.h). For a pyhf workspace (WORKSPACE.json)
// or an experiment (--config), with the data options of `fit`.
#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "infer/model_source.h"
#include "src/cli/options.h"
#include "src/core/bin_edges.h"
#include "src/core/error.h"
#include "src/stats/fit.h"
#include "src/stats/yields.h"

namespace refinery::cli {

using nlohmann::json;

namespace {

std::string yields_text(const ModelSource& s, const std::vector<stats::YieldWithError>& pre,
                        const std::vector<stats::YieldWithError>* post, const std::vector<stats::ProcessYields>& data) {
  std::ostringstream os;
  os << s.description << "\n";
  size_t w = 12;
  for (const auto& y : pre) w = std::max({w, y.region.size() + 2, y.process.size() + 2});
  os << std::left << std::setw(int(w)) << "region" << std::setw(int(w)) << "process" << std::right << std::setw(26)
     << "pre-fit" << std::setw(26) << (post ? "post-fit" : "") << "\n";
  auto cell = [](double v, double e) {
    std::ostringstream c;
    c << std::setprecision(6) << v << " +- " << std::setprecision(3) << e;
    return c.str();
  };
  for (size_t i = 0; i < pre.size(); ++i) {
    os << std::left << std::setw(int(w)) << pre[i].region << std::setw(int(w)) << pre[i].process << std::right
       << std::setw(26) << cell(pre[i].total, pre[i].total_error);
    if (post) os << std::setw(26) << cell((*post)[i].total, (*post)[i].total_error);
    os << "\n";
  }
  for (const auto& d : data) {
    double n = 0.0;
    for (double v : d.bins) n += v;
    std::ostringstream c;
    c << std::setprecision(6) << n;
    os << std::left << std::setw(int(w)) << d.region << std::setw(int(w)) << "data" << std::right << std::setw(26)
       << c.str() << "\n";
  }
  return os.str();
}

// --edges: increasing numbers, comma separated.
std::vector<double> parse_edges(const std::string& text) {
  const std::vector<double> edges = parse_numbers(text, "--edges");
  if (const std::string problem = bin_edges_problem(edges); !problem.empty()) throw InputError("", "--edges", problem);
  return edges;
}

}  // namespace

int run_yields(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Expected yields per region and process, pre- and post-fit, with errors through the full "
                           "covariance, each region's total and the observed data: refinery yields WORKSPACE.json or "
                           "refinery yields --config EXPERIMENT.json");
  add_model_options(options);
  options.add_options()("prefit-only", "Skip the fit: pre-fit yields only")(
      "variable", "Experiments: bin the unbinned regions in this feature or p_<process> (default: their cells of "
                  "the simulated-sample statistics)", cxxopts::value<std::string>())(
      "edges", "Bin edges for --variable, comma separated (default for p_<process>: 10 equal bins in [0, 1])",
      cxxopts::value<std::string>());
  add_common_options(options, true, true);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  ModelSource s = load_model_source(*r, common, "yields");
  // The yields' layout: the model's own, or its unbinned regions binned in --variable.
  std::unique_ptr<stats::Model> view;
  json binning;
  if (r->count("edges") && !r->count("variable")) throw InputError("", "--edges", "goes with --variable");
  if (r->count("variable")) {
    const std::string variable = (*r)["variable"].as<std::string>();
    if (!s.binned_view)
      throw InputError("", "--variable",
                       s.workspace ? "bins an experiment's unbinned regions; a workspace's channels have their own bins"
                                   : "needs the events of --data or Asimov data (not --toy)");
    std::vector<double> edges;
    if (r->count("edges")) {
      edges = parse_edges((*r)["edges"].as<std::string>());
    } else if (variable.rfind("p_", 0) == 0) {
      for (int b = 0; b <= 10; ++b) edges.push_back(0.1 * b);
    } else {
      throw InputError("", "--edges", "needed to bin in the feature '" + variable + "'");
    }
    view = s.binned_view(variable, edges);
    view->copy_parameters(*s.model);
    json unbinned = json::array();
    for (const json& region : s.header.value("regions", json::array()))
      if (region.value("type", "") == "unbinned") unbinned.push_back(region.at("name"));
    binning = {{"variable", variable}, {"edges", edges}, {"regions", unbinned}};
  }
  const stats::Model& model = *s.model;
  const stats::Model& shown = view ? *view : model;
  const auto pre = stats::yields_with_errors(shown, model.init(), stats::prefit_covariance(model));
  const auto data = shown.observed_yields();
  json out = s.header;
  if (!binning.is_null()) out["binning"] = binning;
  out["prefit"] = stats::to_json(pre);
  json observed = json::array();
  for (const auto& d : data) observed.push_back({{"region", d.region}, {"bins", d.bins}});
  out["data"] = observed;
  if (r->count("prefit-only")) {
    emit_result(out, s, *r, common, yields_text(s, pre, nullptr, data));
    return 0;
  }
  const stats::FitResult f = stats::fit(model);
  out["fit"] = f.to_json();
  if (!f.ok() || !f.covariance_ok) {
    emit_result(out, s, *r, common, yields_text(s, pre, nullptr, data));
    std::cerr << "refinery yields: error: " << s.file << ": "
              << (f.ok() ? "the fit has no covariance (a singular Hessian)" : "the fit did not converge: " + f.reason)
              << ": post-fit yields need it" << (s.out.empty() ? "" : " (" + s.out + ")") << "\n";
    return 1;
  }
  const auto post = stats::yields_with_errors(shown, f.x, f.covariance);
  out["postfit"] = stats::to_json(post);
  emit_result(out, s, *r, common, yields_text(s, pre, &post, data));
  return 0;
}

}  // namespace refinery::cli
