// `refinery train sannt`: systematic-aware training of a binned analysis.
//   refinery train sannt --config experiments/inferno.json --out runs/inferno/sannt.json
//   refinery train sannt --benchmark 2 --inits 20 --out runs/inferno/bm2.json
// Settings from the config's `sannt` section; flags override them.
// On an INFERNO benchmark (0-4, or "all"): M independently initialised
// networks, each pretrained with cross entropy and then trained on the
// expected sigma(s) of the binned profile likelihood; reports per network and
// as median and 68% spread: sigma(s) of the cross-entropy network and of the
// SANNT network (both binned the same way, evaluated on an independent test
// sample), and the analytic likelihood's. The first network is exported as
// TorchScript (OUT.pt, as the classifier) and, where its nuisances are
// constrained (benchmarks 0, 3, 4), the binned model it defines as a pyhf
// workspace (OUT.workspace.json).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "data/analytic/inferno.h"
#include "data/sannt_analyses.h"
#include "data/random.h"
#include "models/torchscript_export.h"
#include "src/cli/options.h"
#include "train/training_flags.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/likelihood/template_workspace.h"
#include "train/sannt_analysis.h"
#include "train/sannt_inferno.h"
#include "src/stats/template_model.h"
#include "src/core/text.h"

namespace refinery::cli {


namespace {

// The names of a SANNT network's outputs, for its archive: the model's
// processes (class summary: one output per process), signal and the rest
// (score summary: the pretraining's two classes), or the bins (softmax
// summary: the outputs are the bins).
std::vector<std::string> output_names(SanntSummary summary, const std::vector<std::string>& processes, int64_t outputs) {
  if (summary == SanntSummary::kClassBins) return processes;
  if (summary == SanntSummary::kScoreBins) return {"signal", "background"};
  std::vector<std::string> names;
  for (int64_t b = 0; b < outputs; ++b) names.push_back("bin" + std::to_string(b));
  return names;
}

struct Spread {
  double median, lo, hi;  // median, 16% and 84% quantiles
};

Spread spread(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto q = [&](double f) {
    const double pos = f * (v.size() - 1);
    const size_t i = static_cast<size_t>(pos);
    return i + 1 < v.size() ? v[i] + (pos - i) * (v[i + 1] - v[i]) : v.back();
  };
  return {q(0.5), q(0.16), q(0.84)};
}

std::string analysis_names() { return join(sannt_analysis_names()); }

}  // namespace

int run_train_sannt(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Systematic-aware training (SANNT) on the INFERNO benchmarks");
  options.add_options()("what", "sannt", cxxopts::value<std::string>())(
      "benchmark", "INFERNO benchmark 0-4, or all", cxxopts::value<std::string>())(
      "inits", "Independently initialised trainings per benchmark", cxxopts::value<int>())(
      "events", "Training events per process (half for validation)", cxxopts::value<int64_t>())(
      "test-events", "Test events per process", cxxopts::value<int64_t>())(
      "bins", "Bins of the network output", cxxopts::value<int64_t>())(
      "hidden", "Hidden layer sizes", cxxopts::value<std::string>())(
      "kernel", "Surrogate kernel: gaussian or triangular", cxxopts::value<std::string>())(
      "width", "Kernel width in bins", cxxopts::value<double>())(
      "pretrain-epochs", "Cross-entropy epochs", cxxopts::value<int>())(
      "epochs", "SANNT epochs", cxxopts::value<int>())(
      "steps", "SANNT full-batch steps per epoch", cxxopts::value<int64_t>())(
      "lr", "SANNT learning rate", cxxopts::value<double>())(
      "summary", "softmax: the network's outputs are the bins (argmax; INFERNO's summary); score: a two-class "
      "network's signal probability in equal bins, pretrained with cross entropy; class: a multiclassifier, "
      "bins per most probable class", cxxopts::value<std::string>())(
      "temperature", "Softmax temperature of the soft assignment (softmax summary)", cxxopts::value<double>())(
      "problem", "inferno (the benchmarks) or a built-in binned analysis (" + analysis_names() + ")",
      cxxopts::value<std::string>())(
      "produced", "Binned analysis: produced events per sample (test sample: the same)", cxxopts::value<int64_t>())(
      "ce-constraint", "Class summary: mini-batch size of the cross-entropy constraint with a learned multiplier (0: off)",
      cxxopts::value<int64_t>())(
      "stat-only", "Train on the statistical-only sigma")(
      "resume", "Continue an interrupted run: networks with a checkpoint in OUT.ckpt/ resume from it (finished ones are not retrained)");
  add_common_options(options, true, true);
  add_distributed_options(options);
  options.parse_positional({"what"});
  options.positional_help("sannt");
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  // SANNT's loss is a function of histograms of the whole sample (and of the
  // Fisher information they give), not a sum over events: summing the ranks'
  // histograms before the loss is not done, so it trains in one process.
  if ((r->count("world-size") && (*r)["world-size"].as<int>() > 1) || r->count("rank") || r->count("master"))
    throw InputError("", "--world-size",
                     "SANNT trains in one process (its loss depends on histograms of the whole sample); drop the flag");
  CommonOptions common = common_options(*r);
  ExperimentConfig config = setup_experiment(common);
  if (common.out.empty()) throw InputError("", "--out", "no output path given (results JSON)");
  // Every network's stages checkpoint into OUT.ckpt/<name>.{pre,sannt}.
  const std::filesystem::path ckpt_dir = common.out + ".ckpt";
  std::filesystem::create_directories(ckpt_dir);
  const bool resume = r->count("resume") > 0;
  auto checkpoints = [&](SanntOptions& opt, const std::string& name) {
    opt.pretrain.checkpoint = (ckpt_dir / (name + ".pre")).string();
    opt.train.checkpoint = (ckpt_dir / (name + ".sannt")).string();
    opt.pretrain.resume = resume && std::filesystem::exists(opt.pretrain.checkpoint);
    opt.train.resume = resume && std::filesystem::exists(opt.train.checkpoint);
  };
  const uint64_t seed = config.document.at("seed").get<uint64_t>();
  // Values: the flag if given, else the config's `sannt` section (defaults filled in).
  const nlohmann::json& sc = config.document.at("sannt");
  auto get = [&](const char* flag, const char* key, auto fallback) {
    using T = decltype(fallback);
    return r->count(flag) ? (*r)[flag].as<T>() : sc.at(key).get<T>();
  };
  const std::string which = get("benchmark", "benchmark", std::string());
  std::vector<int> benchmarks;
  if (which == "all") benchmarks = {0, 1, 2, 3, 4};
  else {
    try {
      benchmarks = {std::stoi(which)};
    } catch (const std::exception&) {
      throw InputError("", "--benchmark", "expected 0-4 or all, got '" + which + "'");
    }
    analytic::inferno_benchmark(benchmarks[0]);
  }
  const int inits = get("inits", "inits", 0);
  const int64_t events = get("events", "events", int64_t{0}), test_events = get("test-events", "test_events", int64_t{0});
  if (inits < 1 || events < 100 || test_events < 100)
    throw InputError("", "--inits/--events", "need at least 1 init and 100 events");
  const std::string kernel = get("kernel", "kernel", std::string());
  if (kernel != "gaussian" && kernel != "triangular") throw InputError("", "--kernel", "gaussian or triangular");
  std::vector<int64_t> hidden = r->count("hidden") ? parse_layer_sizes((*r)["hidden"].as<std::string>(), "--hidden")
                                                   : sc.at("hidden").get<std::vector<int64_t>>();

  SanntOptions o;
  o.bins = get("bins", "bins", int64_t{0});
  o.kernel_width = get("width", "width", 0.0);
  o.kernel = kernel == "gaussian" ? HistogramKernel::kGaussian : HistogramKernel::kTriangular;
  o.stat_only = r->count("stat-only") > 0 || sc.at("stat_only").get<bool>();
  o.pretrain.epochs = get("pretrain-epochs", "pretrain_epochs", 0);
  o.pretrain.steps_per_epoch = 100;
  o.pretrain.learning_rate = 3e-3;
  o.pretrain.quiet = true;
  o.train.epochs = get("epochs", "epochs", 0);
  o.train.steps_per_epoch = get("steps", "steps", int64_t{0});
  o.train.learning_rate = get("lr", "learning_rate", 0.0);
  o.train.lr_decay = 0.97;
  o.train.patience = 10;
  o.train.quiet = true;
  if (o.bins < 2) throw InputError("", "--bins", "need at least 2 bins");
  const std::string summary = get("summary", "summary", std::string());
  if (summary != "softmax" && summary != "score" && summary != "class")
    throw InputError("", "--summary", "softmax, score or class, got '" + summary + "'");
  o.temperature = get("temperature", "temperature", 0.0);
  // The cross-entropy baseline: a two-class network binned in `bins` equal
  // bins of its signal probability, trained with cross entropy only.
  SanntOptions ce_options = o;
  ce_options.summary = SanntSummary::kScoreBins;
  ce_options.train.epochs = 0;
  o.ce_constraint_batch = static_cast<double>(get("ce-constraint", "ce_constraint_batch", int64_t{0}));
  if (summary == "class") {
    o.summary = SanntSummary::kClassBins;
  } else if (summary == "softmax") {
    o.summary = SanntSummary::kSoftmaxBins;
    o.pretrain.epochs = 0;
  }

  nlohmann::json out;
  out["config_hash"] = config.hash;
  out["seed"] = seed;
  out["settings"] = {{"inits", inits}, {"events", events}, {"test_events", test_events}, {"bins", o.bins},
                     {"hidden", hidden}, {"kernel", kernel}, {"width", o.kernel_width},
                     {"pretrain_epochs", o.pretrain.epochs}, {"epochs", o.train.epochs},
                     {"steps", o.train.steps_per_epoch}, {"lr", o.train.learning_rate}, {"stat_only", o.stat_only},
                     {"summary", summary}, {"temperature", o.temperature}};
  out["settings"]["problem"] = get("problem", "problem", std::string());
  const std::string problem = get("problem", "problem", std::string());
  const auto& analyses = sannt_analysis_names();
  if (problem != "inferno" && std::find(analyses.begin(), analyses.end(), problem) == analyses.end())
    throw InputError("", "--problem", "inferno or a built-in binned analysis (" + analysis_names() + "), got '" + problem + "'");
  if (problem != "inferno") {
    // A binned analysis: cross entropy (the pretrained two-class
    // network) against SANNT, sigma(mu) total and statistical-only on an
    // independent test sample, median over the ensemble; impacts of the
    // first network before and after.
    const int64_t produced = get("produced", "produced", int64_t{0});
    if (produced < 10000) throw InputError("", "--produced", "need at least 10000 produced events");
    const double lumi = config.document.at("simulation").at("luminosity").get<double>();
    if (o.summary == SanntSummary::kSoftmaxBins && summary == "softmax") {
      o.summary = SanntSummary::kScoreBins;  // the signal probability, pretrained with cross entropy
      o.pretrain.epochs = ce_options.pretrain.epochs;
    }
    const SanntAnalysis test_analysis = sannt_analysis(problem, produced, lumi, stream_seed(seed, {0x7e57}), "--problem");
    SanntProblem test = sannt_problem(test_analysis);
    BinnedTemplateModel model(test.model);
    std::vector<double> ce, ce_stat, sn, sn_stat;
    nlohmann::json runs = nlohmann::json::array();
    std::ostringstream impacts_text;
    for (int i = 0; i < inits; ++i) {
      SanntProblem tp = sannt_problem(sannt_analysis(problem, produced, lumi, stream_seed(seed, {0x7a1, (uint64_t)i}), "--problem"));
      torch::manual_seed(stream_seed(seed, {0x1417, (uint64_t)i}));
      const int64_t n_outputs =
          o.summary == SanntSummary::kClassBins ? static_cast<int64_t>(tp.model.processes.size()) : 2;
      MultiClassifier net(MultiClassifierOptions(tp.data.samples[0].x.size(1), n_outputs)
                              .hidden(hidden)
                              .n_indicators(count_indicator_columns(tp.data.samples[0].x)));
      o.pretrain.seed = o.train.seed = stream_seed(seed, {0x5eed, (uint64_t)i});
      checkpoints(o, problem + "_" + std::to_string(i));
      o.pretrain_batch = 1024;
      std::pair<double, double> before;
      Templates t_before;
      auto eval_templates = [&] {
        torch::NoGradGuard guard;
        net->eval();
        std::vector<torch::Tensor> all;
        for (const auto& smp : test.data.samples) all.push_back(torch::arange(smp.x.size(0)));
        return sannt_templates(net, test.data, model, all, o);
      };
      SanntResult res = train_sannt(net, tp.data, model, o, [&] {
        before = sannt_sigma(net, test.data, model, o);
        t_before = eval_templates();
      });
      auto after = sannt_sigma(net, test.data, model, o);
      ce.push_back(before.first), ce_stat.push_back(before.second);
      sn.push_back(after.first), sn_stat.push_back(after.second);
      nlohmann::json run = {{"cross_entropy", {{"sigma_mu", before.first}, {"sigma_mu_stat_only", before.second}}},
                            {"sannt", {{"sigma_mu", after.first}, {"sigma_mu_stat_only", after.second}}},
                            {"training", res.to_json()}};
      if (i == 0) {
        Templates t_after = eval_templates();
        auto ib = stats::TemplateModel(model, t_before.nominal, t_before.up, t_before.down).impacts();
        auto ia = stats::TemplateModel(model, t_after.nominal, t_after.up, t_after.down).impacts();
        impacts_text << "impacts on mu (first network; linearised, Asimov): nuisance  pre-fit  post-fit (post-fit error)\n";
        for (const auto& [label, list] : {std::make_pair("cross entropy", ib), std::make_pair("SANNT", ia)}) {
          impacts_text << "  " << label << ":\n";
          for (const auto& im : list) {
            char line[160];
            std::snprintf(line, sizeof line, "    %-14s %+9.4f %+9.4f (%.3f)\n", im.name.c_str(), im.prefit, im.postfit,
                          im.postfit_error);
            impacts_text << line;
            run[label == std::string("SANNT") ? "impacts_sannt" : "impacts_cross_entropy"].push_back(
                {{"nuisance", im.name}, {"prefit", im.prefit}, {"postfit", im.postfit}, {"postfit_error", im.postfit_error}});
          }
        }
        torch::jit::Module ts = classifier_to_torchscript(net);
        save_torchscript(ts, {{"kind", "sannt"}, {"feature_names", test_analysis.feature_names},
                              {"process_names", output_names(o.summary, test.model.processes, n_outputs)},
                              {"bins", o.bins}, {"problem", problem},
                              {"summary", summary}, {"score_class", test_analysis.signal_process},
                              {"activation", net->options.activation()},
                              {"config_hash", config.hash}}, common.out + ".pt");
        write_text_atomically(common.out + ".workspace.json",
                              template_workspace(model, t_after.nominal, t_after.up, t_after.down).dump(1) + "\n");
      }
      runs.push_back(run);
      if (!common.quiet)
        std::fprintf(stderr, "%s, network %d/%d: sigma(mu) cross entropy %.4f (stat %.4f), SANNT %.4f (stat %.4f)\n",
                     problem.c_str(), i + 1, inits, before.first, before.second, after.first, after.second);
    }
    Spread a = spread(ce), as = spread(ce_stat), b = spread(sn), bs = spread(sn_stat);
    auto js = [](const Spread& x) { return nlohmann::json{{"median", x.median}, {"q16", x.lo}, {"q84", x.hi}}; };
    out[problem] = {{"cross_entropy", {{"sigma_mu", js(a)}, {"sigma_mu_stat_only", js(as)}}},
                      {"sannt", {{"sigma_mu", js(b)}, {"sigma_mu_stat_only", js(bs)}}},
                      {"produced", produced}, {"runs", runs}};
    write_text_atomically(common.out, out.dump(2) + "\n");
    if (!common.quiet) {
      std::printf("%s sigma(mu), median [16%%, 84%%] over %d networks:\n", problem.c_str(), inits);
      std::printf("  cross entropy: total %.4f [%.4f, %.4f], stat-only %.4f\n", a.median, a.lo, a.hi, as.median);
      std::printf("  SANNT:         total %.4f [%.4f, %.4f], stat-only %.4f\n", b.median, b.lo, b.hi, bs.median);
      std::cout << impacts_text.str() << "wrote " << common.out << "\n";
    }
    return 0;
  }

  // The analytic likelihood, from a large sample of the exact model.
  torch::Generator gen = make_generator(stream_seed(seed, {0xa7a1}));
  const analytic::InfernoParameters nominal;
  EventSet big = analytic::inferno_sample(400000, 2000000, nominal, gen);
  torch::Tensor fisher = analytic::inferno_fisher(big.features, big.weights, nominal);

  std::ostringstream table;
  table << "benchmark  analytic  cross-entropy (median [16%, 84%])  SANNT (median [16%, 84%])\n";
  for (int bm : benchmarks) {
    SanntProblem test = inferno_sannt_problem(bm, test_events, test_events, stream_seed(seed, {0x7e57, (uint64_t)bm}));
    BinnedTemplateModel model(test.model);
    std::vector<double> ce, sannt;
    nlohmann::json runs = nlohmann::json::array();
    for (int i = 0; i < inits; ++i) {
      SanntProblem train_p = inferno_sannt_problem(bm, events, events, stream_seed(seed, {0x7a1, (uint64_t)bm, (uint64_t)i}));
      torch::manual_seed(stream_seed(seed, {0x1417, (uint64_t)bm, (uint64_t)i}));
      const int64_t outputs = o.summary == SanntSummary::kSoftmaxBins ? o.bins
                              : static_cast<int64_t>(train_p.model.processes.size());  // score: 2; class: one per process
      MultiClassifier net(MultiClassifierOptions(3, outputs).hidden(hidden));
      o.pretrain.seed = o.train.seed = ce_options.pretrain.seed = stream_seed(seed, {0x5eed, (uint64_t)bm, (uint64_t)i});
      checkpoints(o, "bm" + std::to_string(bm) + "_" + std::to_string(i));
      checkpoints(ce_options, "bm" + std::to_string(bm) + "_" + std::to_string(i) + "_ce");
      double sigma_ce = 0;
      if (o.summary != SanntSummary::kSoftmaxBins) {
        // The pretrained network is the baseline.
      } else {
        MultiClassifier ce_net(MultiClassifierOptions(3, 2).hidden(hidden));
        train_sannt(ce_net, train_p.data, model, ce_options);
        sigma_ce = 50.0 * sannt_sigma(ce_net, test.data, model, ce_options).first;
      }
      SanntResult res = train_sannt(net, train_p.data, model, o, [&] {
        if (o.summary != SanntSummary::kSoftmaxBins) sigma_ce = 50.0 * sannt_sigma(net, test.data, model, o).first;
      });
      const double sigma = 50.0 * sannt_sigma(net, test.data, model, o).first;
      ce.push_back(sigma_ce);
      sannt.push_back(sigma);
      runs.push_back({{"cross_entropy", sigma_ce}, {"sannt", sigma}, {"training", res.to_json()}});
      if (!common.quiet)
        std::fprintf(stderr, "benchmark %d, network %d/%d: sigma(s) cross entropy %.2f, SANNT %.2f (%.0f s)\n", bm, i + 1,
                     inits, sigma_ce, sigma, res.pretrain.seconds + res.train.seconds);
      if (i == 0 && bm == benchmarks.front()) {
        torch::jit::Module ts = classifier_to_torchscript(net);
        save_torchscript(ts, {{"kind", "sannt"}, {"feature_names", {"x0", "x1", "x2"}},
                              {"process_names", output_names(o.summary, test.model.processes, outputs)},
                              {"bins", o.bins}, {"benchmark", bm},
                              {"summary", summary}, {"score_class", 0}, {"activation", net->options.activation()},
                              {"config_hash", config.hash}}, common.out + ".pt");
        // The binned model this network defines (test-sample templates) as a
        // pyhf workspace, where HistFactory can express it (constrained nuisances).
        bool constrained = true;
        for (const auto& sh : model.options().shapes) constrained = constrained && sh.constraint == 1.0;
        if (constrained) {
          torch::NoGradGuard guard;
          net->eval();
          std::vector<torch::Tensor> all;
          for (const auto& smp : test.data.samples) all.push_back(torch::arange(smp.x.size(0)));
          Templates t = sannt_templates(net, test.data, model, all, o);
          write_text_atomically(common.out + ".workspace.json",
                                template_workspace(model, t.nominal, t.up, t.down).dump(1) + "\n");
        }
      }
    }
    const double analytic_sigma = analytic::inferno_sigma_s(fisher, bm);
    Spread a = spread(ce), b = spread(sannt);
    out["benchmarks"][std::to_string(bm)] = {
        {"analytic", analytic_sigma},
        {"cross_entropy", {{"median", a.median}, {"q16", a.lo}, {"q84", a.hi}}},
        {"sannt", {{"median", b.median}, {"q16", b.lo}, {"q84", b.hi}}},
        {"runs", runs}};
    char line[200];
    std::snprintf(line, sizeof line, "%9d  %8.2f  %8.2f [%6.2f, %6.2f]              %8.2f [%6.2f, %6.2f]\n", bm,
                  analytic_sigma, a.median, a.lo, a.hi, b.median, b.lo, b.hi);
    table << line;
  }
  write_text_atomically(common.out, out.dump(2) + "\n");
  if (!common.quiet) std::cout << table.str() << "wrote " << common.out << "\n";
  return 0;
}

}  // namespace refinery::cli
