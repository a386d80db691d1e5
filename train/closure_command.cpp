// `refinery closure --model dcr_P.pt --nominal N.h5 --variations V.h5`: the
// shape closure of a trained DCR network on paired samples
// (train/dcr_closure.h): at every nu-point of the variations file, weighted
// histograms of the simulator's variation sample against the nominal sample
// weighted by the learned r(x|nu), in each feature (and in the classifier's
// probabilities with --classifier), with chi2/ndf against the errors of the
// paired differences. Points the network was not trained at (another
// variations file, e.g. from `refinery simulate GENERATOR --nu ...` with the
// nominal's seed) make it a held-out test.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "models/classifier_archive.h"
#include "models/dcr_network.h"
#include "models/torchscript_export.h"
#include "src/likelihood/mc_statistics.h"
#include "src/cli/options.h"
#include "src/core/atomic_file.h"
#include "src/core/block_eval.h"
#include "src/core/error.h"
#include "src/core/text.h"
#include "src/io/event_reader.h"
#include "train/dcr_closure.h"

namespace refinery::cli {

namespace {

int process_index(const EventMeta& meta, const std::string& process, const std::string& file) {
  auto it = std::find(meta.process_names.begin(), meta.process_names.end(), process);
  if (it == meta.process_names.end())
    throw InputError(file, "attribute process_names", "no process '" + process + "' (it has: " + join(meta.process_names) + ")");
  return static_cast<int>(it - meta.process_names.begin());
}

}  // namespace

int run_closure(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Shape closure of a DCR network on paired samples (chi2/ndf per nu-point and feature)");
  options.add_options()("model", "DCR archive (.pt)", cxxopts::value<std::string>())(
      "nominal", "Nominal event file (with event numbers)", cxxopts::value<std::string>())(
      "variations", "Variation event file, rows tagged with nu, made from the nominal's events",
      cxxopts::value<std::string>())("process", "Process (default: the model's)", cxxopts::value<std::string>()->default_value(""))(
      "features", "Features to histogram, e.g. a,b (default: every feature of the files)",
      cxxopts::value<std::string>()->default_value(""))(
      "classifier", "Also histogram the classifier's probabilities p_<process> (a classifier archive)",
      cxxopts::value<std::string>())("bins", "Bins per feature (equal shares of the nominal weight)",
                                     cxxopts::value<int>()->default_value("10"))(
      "limit", "A (nu-point, feature) passes at chi2/ndf below this", cxxopts::value<double>()->default_value("1.5"))(
      "cells", "Score response also within cells of this histogrammed column (a feature, or p_<process> with "
               "--classifier), equal shares of the nominal weight", cxxopts::value<std::string>()->default_value(""))(
      "cell-count", "Cells for --cells", cxxopts::value<int>()->default_value("10"));
  add_common_options(options, false, true);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  setup_experiment(common);
  for (const char* flag : {"model", "nominal", "variations"})
    if (!r->count(flag)) throw InputError("", std::string("--") + flag, "required");
  const int bins = (*r)["bins"].as<int>();
  if (bins < 2 || bins > 1000) throw InputError("", "--bins", "must be in [2, 1000]");
  const double limit = (*r)["limit"].as<double>();
  if (!(limit > 0)) throw InputError("", "--limit", "must be positive");
  const int cell_count = (*r)["cell-count"].as<int>();
  if (cell_count < 2 || cell_count > 1000) throw InputError("", "--cell-count", "must be in [2, 1000]");
  const std::string model_path = (*r)["model"].as<std::string>();
  const std::string nominal_path = (*r)["nominal"].as<std::string>();
  const std::string variations_path = (*r)["variations"].as<std::string>();

  nlohmann::json meta;
  torch::jit::Module model = load_torchscript(model_path, &meta);
  model.eval();
  if (meta.value("kind", "") != "dcr") throw InputError(model_path, "metadata.json: kind", "not a DCR network");
  const std::vector<std::string> nuisances = meta.at("nuisances").get<std::vector<std::string>>();
  const int order = meta.value("order", 2);
  const std::vector<int> powers = dcr_powers_of(meta, model_path);
  std::string process = (*r)["process"].as<std::string>();
  if (process.empty()) process = meta.value("process", "");

  EventMeta m0, mv;
  EventSet nominal = read_events(nominal_path, &m0);
  EventSet varied = read_events(variations_path, &mv);
  if (m0.feature_names != mv.feature_names)
    throw InputError(variations_path, "attribute feature_names", "differs from the nominal file's");
  if (meta.value("n_features", int64_t(0)) != int64_t(m0.feature_names.size()))
    throw InputError(nominal_path, "features",
                     std::to_string(m0.feature_names.size()) + " features, the model takes " +
                         std::to_string(meta.value("n_features", int64_t(0))));
  for (const auto& [e, file] : {std::pair{&nominal, nominal_path}, std::pair{&varied, variations_path}})
    if (!e->has_event_numbers())
      throw InputError(file, "event",
                       "no event numbers: the closure compares paired samples (the same events before and after the "
                       "shift), whose errors are per event");
  if (!varied.has_nuisances()) throw InputError(variations_path, "nuisances", "the rows carry no nu (dataset missing)");
  std::vector<int64_t> nu_cols;
  for (const auto& n : nuisances) {
    auto it = std::find(mv.nuisance_names.begin(), mv.nuisance_names.end(), n);
    if (it == mv.nuisance_names.end())
      throw InputError(variations_path, "attribute nuisance_names", "no nuisance '" + n + "' (the model's: " + join(nuisances) + ")");
    nu_cols.push_back(it - mv.nuisance_names.begin());
  }
  torch::Tensor sel0 = nominal.process == process_index(m0, process, nominal_path);
  torch::Tensor selv = varied.process == process_index(mv, process, variations_path);
  if (!sel0.any().item<bool>()) throw InputError(nominal_path, "process", "no events of '" + process + "'");
  if (!selv.any().item<bool>()) throw InputError(variations_path, "process", "no events of '" + process + "'");

  // The columns checked: named features, then the classifier's probabilities.
  std::vector<std::string> names = split((*r)["features"].as<std::string>());
  if (names.empty()) names = m0.feature_names;
  std::vector<int64_t> cols;
  for (const auto& n : names) {
    auto it = std::find(m0.feature_names.begin(), m0.feature_names.end(), n);
    if (it == m0.feature_names.end()) throw InputError(nominal_path, "--features", "no feature '" + n + "'");
    cols.push_back(it - m0.feature_names.begin());
  }
  torch::Tensor x0 = nominal.features.index({sel0}).contiguous(), xv = varied.features.index({selv}).contiguous();
  torch::Tensor idx = torch::tensor(cols, torch::kLong);
  torch::Tensor values0 = x0.index_select(1, idx).to(torch::kFloat64), valuesv = xv.index_select(1, idx).to(torch::kFloat64);
  if (r->count("classifier")) {
    ClassifierArchive clf((*r)["classifier"].as<std::string>());
    clf.check_features(m0.feature_names, nominal_path);
    values0 = torch::cat({values0, clf.probabilities(x0).to(torch::kFloat64)}, 1);
    valuesv = torch::cat({valuesv, clf.probabilities(xv).to(torch::kFloat64)}, 1);
    for (const auto& p : clf.process_names()) names.push_back("p_" + p);
  }

  // The cells of the score response: one of the histogrammed columns.
  const std::string cells_by = (*r)["cells"].as<std::string>();
  int64_t cell_column = -1;
  if (!cells_by.empty()) {
    auto it = std::find(names.begin(), names.end(), cells_by);
    if (it == names.end())
      throw InputError("", "--cells", "'" + cells_by + "' is not a histogrammed column (" + join(names) + ")");
    cell_column = it - names.begin();
  }

  torch::Tensor coef, coefv;
  {
    torch::NoGradGuard guard;
    torch::jit::Method forward = model.get_method("forward");
    auto eval = [&](const torch::Tensor& x) {
      return evaluate_in_blocks(x, 8192, [&](const torch::Tensor& xb) { return forward({xb}).toTensor(); })
          .to(torch::kFloat64);
    };
    coef = eval(x0);
    coefv = eval(xv);
  }
  torch::Tensor w0 = nominal.weights.index({sel0}).to(torch::kFloat64), e0 = nominal.event.index({sel0});
  torch::Tensor wv = varied.weights.index({selv}).to(torch::kFloat64), ev = varied.event.index({selv});
  torch::Tensor nu_all = varied.nuisances.index({selv}).index_select(1, torch::tensor(nu_cols)).to(torch::kFloat64);
  auto unique = torch::unique_dim(nu_all, 0, true, true);
  const torch::Tensor points = std::get<0>(unique), point_of = std::get<1>(unique);

  nlohmann::json report = {{"model", model_path}, {"process", process}, {"nominal", nominal_path},
                           {"variations", variations_path}, {"bins", bins}, {"limit", limit},
                           {"points", nlohmann::json::array()}, {"failing", nlohmann::json::array()}};
  for (int64_t p = 0; p < points.size(0); ++p) {
    torch::Tensor nu = points[p];
    std::string label;
    nlohmann::json nu_json;
    for (size_t k = 0; k < nuisances.size(); ++k) {
      char v[32];
      std::snprintf(v, sizeof v, "%g", nu[k].item<double>());
      label += (k ? "," : "") + nuisances[k] + "=" + v;
      nu_json[nuisances[k]] = nu[k].item<double>();
    }
    torch::Tensor at = point_of == p;
    ClosureSide learned{values0, w0 * torch::exp(torch::mv(coef, dcr_phi(nu, order, powers))), e0};
    ClosureSide simulated{valuesv.index({at}), wv.index({at}), ev.index({at})};
    nlohmann::json point = dcr_shape_closure(learned, simulated, names, bins);
    point["nu"] = nu_json;
    point["label"] = label;
    for (const auto& f : point["features"])
      if (!(f["chi2_ndf"].get<double>() < limit))
        report["failing"].push_back({{"nu", label}, {"feature", f["name"]}, {"chi2_ndf", f["chi2_ndf"]}});
    report["points"].push_back(point);
  }
  report["pass"] = report["failing"].empty();

  // The score response of each nuisance with points at +delta and -delta
  // (the others at 0): the smallest such delta.
  report["response"] = nlohmann::json::array();
  std::vector<double> edges;
  torch::Tensor cell0 = torch::zeros({w0.size(0)}, torch::kLong), cellv = torch::zeros({wv.size(0)}, torch::kLong);
  if (cell_column >= 0) {
    const torch::Tensor by0 = values0.select(1, cell_column).contiguous();
    edges = likelihood::equal_share_edges(by0, w0.clamp_min(0.0), cell_count);
    cell0 = likelihood::cell_index(by0, edges);
    cellv = likelihood::cell_index(valuesv.select(1, cell_column).contiguous(), edges);
  }
  const int64_t cells = cell_column >= 0 ? static_cast<int64_t>(edges.size()) + 1 : 1;
  for (size_t k = 0; k < nuisances.size(); ++k) {
    // A squared nuisance has no score at 0 (its effect is even in it).
    if (!powers.empty() && powers[k] == 2) continue;
    double delta = 0;
    int64_t plus = -1, minus = -1;
    for (int64_t p = 0; p < points.size(0); ++p) {
      const double v = points[p][k].item<double>();
      if (!(v > 0) || (points[p].abs().sum().item<double>() - v) != 0.0) continue;  // +v on k alone
      for (int64_t q = 0; q < points.size(0); ++q)
        if (points[q][k].item<double>() == -v && points[q].abs().sum().item<double>() == v && (delta == 0 || v < delta))
          delta = v, plus = p, minus = q;
    }
    if (plus < 0) continue;
    ScoreSample nominal_side{coef.select(1, k), w0, e0, cell0};
    auto side = [&](int64_t p) {
      torch::Tensor at = point_of == p;
      return ScoreSample{coefv.select(1, k).index({at}), wv.index({at}), ev.index({at}), cellv.index({at})};
    };
    nlohmann::json one = dcr_score_response(nominal_side, side(plus), side(minus), delta, cells);
    one["nuisance"] = nuisances[k];
    one["delta"] = delta;
    if (cell_column >= 0) one["within_cells"]["by"] = cells_by;
    report["response"].push_back(one);
  }
  if (!common.out.empty()) write_text_atomically(common.out, report.dump(2) + "\n");
  if (!common.quiet) {
    std::cout << dcr_closure_table(report, limit);
    if (!report["response"].empty()) {
      std::cout << "score response (1: the per-event score as strong as the simulator's; below 1: stronger)\n";
      for (const auto& one : report["response"]) {
        char line[256];
        std::snprintf(line, sizeof line, "  %-20s at +-%-6g %7.3f +- %.3f", one["nuisance"].get<std::string>().c_str(),
                      one["delta"].get<double>(), one["response"].get<double>(), one["error"].get<double>());
        std::cout << line;
        if (one.contains("within_cells")) {
          const auto& c = one["within_cells"];
          std::snprintf(line, sizeof line, "   within %lld cells of %s: %7.3f +- %.3f", static_cast<long long>(c["cells"].get<int64_t>()),
                        c["by"].get<std::string>().c_str(), c["response"].get<double>(), c["error"].get<double>());
          std::cout << line;
        }
        std::cout << "\n";
      }
    }
    std::cout << process << ": " << report["failing"].size() << " of "
              << points.size(0) * static_cast<int64_t>(names.size()) << " (nu-point, feature) pairs fail chi2/ndf < "
              << limit << "\n";
    if (!common.out.empty()) std::cout << "wrote " << common.out << "\n";
  }
  return 0;
}

}  // namespace refinery::cli
