// ONNX export of trained networks (models/onnx_export.h, `refinery export`):
// every kind (classifier with its calibration, SANNT with each summary, DCR
// single and merged ensembles, each activation) written by the command,
// verified by the ONNX project's checker (Debian's python3-onnx) and run in
// an independent runtime (onnxruntime from npm, tests/onnx), whose outputs
// must equal the TorchScript archive's to 1e-5; the SANNT bins must give
// the exact histograms SANNT training counts. Networks are random (their
// training is tested elsewhere): the export must reproduce any weights.
#include "tests/testing.hpp"

#include <fstream>
#include <map>

#include <H5Cpp.h>

#include <nlohmann/json.hpp>

#include "models/classifier_archive.h"
#include "models/dcr_ensemble.h"
#include "src/likelihood/dcr_ansatz.h"
#include "models/feature_preprocessor.h"
#include "models/multiclassifier.h"
#include "models/torchscript_export.h"
#include "src/autograd/histogram.h"
#include "src/core/onnx_model.h"
#include "src/io/event_writer.h"

using namespace refinery;
using nlohmann::json;

namespace {

// Features [N,F] with the sentinel -25 in column 1 of every seventh event.
torch::Tensor features(int64_t n, int64_t f, uint64_t seed) {
  torch::manual_seed(seed);
  torch::Tensor x = torch::randn({n, f}) * 2.0 + 1.0;
  for (int64_t i = 0; i < n; i += 7) x[i][1] = -25.0f;
  return x;
}

// Exports with the command, checks with the ONNX checker, runs x (and nu)
// through onnxruntime; returns the outputs and puts the checker's report in
// *checked.
json export_and_run(const refinery::testing::TempDir& tmp, const std::string& name, const torch::Tensor& x,
                    const torch::Tensor& nu, json* checked) {
  const std::string archive = tmp.path(name + ".pt"), onnx = tmp.path(name + ".onnx");
  const auto exported = refinery::testing::run_refinery("export " + archive + " --out " + onnx);
  INFO(exported.output);
  REQUIRE(exported.exit_code == 0);
  const auto check = refinery::testing::run_command(std::string(refinery::testing::debian_python()) + " " +
                                                    refinery::testing::source_path("tests/python/check_onnx.py") + " " + onnx);
  INFO(check.output);
  REQUIRE(check.exit_code == 0);
  *checked = json::parse(check.output);
  json in = {{"features", {{"dims", {x.size(0), x.size(1)}}, {"data", json::array()}}}};
  const torch::Tensor xc = x.contiguous();
  for (int64_t i = 0; i < xc.numel(); ++i) in["features"]["data"].push_back(xc.data_ptr<float>()[i]);
  if (nu.defined()) {
    in["nu"] = {{"dims", {nu.size(0)}}, {"data", json::array()}};
    for (int64_t i = 0; i < nu.numel(); ++i) in["nu"]["data"].push_back(nu[i].item<float>());
  }
  std::ofstream(tmp.path(name + "_in.json")) << in.dump();
  const auto ran = refinery::testing::run_command("node " + refinery::testing::source_path("tests/onnx/run_onnx.js") + " " +
                                                  onnx + " " + tmp.path(name + "_in.json") + " " + tmp.path(name + "_out.json"));
  INFO(ran.output);
  REQUIRE(ran.exit_code == 0);
  return json::parse(refinery::testing::read_file(tmp.path(name + "_out.json")));
}

// Largest |onnxruntime - expected| over an output.
double largest_difference(const json& out, const torch::Tensor& expected) {
  const torch::Tensor e = expected.to(torch::kFloat64).contiguous().reshape({-1});
  REQUIRE(out["data"].size() == size_t(e.numel()));
  double worst = 0;
  for (int64_t i = 0; i < e.numel(); ++i) worst = std::max(worst, std::abs(out["data"][size_t(i)].get<double>() - e[i].item<double>()));
  return worst;
}

// `refinery eval WHAT` of the archive NAME.pt on the events x: the named
// datasets of its output file, as double.
std::map<std::string, torch::Tensor> eval_outputs(const refinery::testing::TempDir& tmp, const std::string& what,
                                                  const std::string& name, const torch::Tensor& x,
                                                  const std::vector<std::string>& feature_names, const std::string& extra,
                                                  const std::vector<std::string>& datasets) {
  EventSet events;
  events.features = x.contiguous();
  events.weights = torch::ones({x.size(0)}, torch::kFloat64);
  events.process = torch::zeros({x.size(0)}, torch::kInt32);
  EventMeta meta;
  meta.feature_names = feature_names;
  meta.process_names = {"p"};
  write_events(tmp.path(name + "_events.h5"), events, meta);
  const auto ran = refinery::testing::run_refinery("eval " + what + " --quiet --model " + tmp.path(name + ".pt") + " --events " +
                                                   tmp.path(name + "_events.h5") + " --out " + tmp.path(name + "_eval.h5") + extra);
  INFO(ran.output);
  REQUIRE(ran.exit_code == 0);
  H5::H5File file(tmp.path(name + "_eval.h5"), H5F_ACC_RDONLY);
  std::map<std::string, torch::Tensor> out;
  for (const auto& d : datasets) {
    H5::DataSet ds = file.openDataSet(d);
    std::vector<hsize_t> dims(size_t(ds.getSpace().getSimpleExtentNdims()));
    ds.getSpace().getSimpleExtentDims(dims.data());
    std::vector<int64_t> sizes(dims.begin(), dims.end());
    torch::Tensor t = torch::empty(sizes, torch::kFloat64);
    ds.read(t.data_ptr<double>(), H5::PredType::NATIVE_DOUBLE);
    out[d] = t;
  }
  return out;
}

torch::Tensor as_long(const json& out) {
  std::vector<int64_t> v;
  for (const auto& x : out["data"]) v.push_back(x.get<int64_t>());
  return torch::tensor(v, torch::kLong);
}

MultiClassifier random_classifier(const torch::Tensor& x, int64_t classes, const std::string& activation, double last_scale) {
  MultiClassifier clf(MultiClassifierOptions(x.size(1), classes)
                          .hidden({16, 12})
                          .activation(activation)
                          .n_indicators(count_indicator_columns(x)));
  torch::NoGradGuard guard;
  clf->preprocess->fit(x, torch::ones({x.size(0)}, torch::kFloat64));
  clf->net->layers.back()->weight.mul_(last_scale);  // spread the probabilities over [0, 1]
  clf->eval();
  return clf;
}

}  // namespace

TEST_CASE("ONNX export of a calibrated classifier equals its archive in onnxruntime", "[onnx][export]") {
  refinery::testing::TempDir tmp("onnx_classifier");
  const torch::Tensor x = features(400, 4, 11), test = features(64, 4, 12);
  for (const std::string activation : {"silu", "relu", "tanh", "elu"}) {
    DYNAMIC_SECTION(activation) {
      MultiClassifier clf = random_classifier(x, 3, activation, 4.0);
      torch::NoGradGuard guard;
      clf->process_fractions->set_yields({40.0, 300.0, 1200.0});
      // Calibrate on labels drawn from a sharpened version of the network's
      // own fractions, so that the calibration moves them.
      torch::Tensor raw = clf->raw_fractions(x);
      torch::Tensor y = torch::multinomial(raw.pow(2.0) / raw.pow(2.0).sum(1, true), 1).squeeze(1);
      clf->calibration->fit(raw, y, torch::ones({x.size(0)}, torch::kFloat64), 40);
      REQUIRE(clf->calibration->fitted());
      const double moved = (clf->fractions(test) - clf->raw_fractions(test)).abs().max().item<double>();
      INFO("calibration moves the fractions by up to " << moved);
      REQUIRE(moved > 1e-2);  // the calibration path is exercised
      torch::jit::Module ts = classifier_to_torchscript(clf);
      save_torchscript(ts, {{"kind", "classifier"}, {"feature_names", {"a", "b", "c", "d"}},
                            {"process_names", {"signal", "ztt", "ttbar"}}, {"activation", activation}},
                       tmp.path("clf.pt"));
      json checked;
      const json out = export_and_run(tmp, "clf", test, {}, &checked);
      CHECK(checked["ir_version"] == 8);
      CHECK(checked["inputs"] == json::array({"features"}));
      CHECK(checked["outputs"] == json::array({"probabilities", "fractions", "logits"}));
      const json& md = checked["metadata"];
      CHECK(md["kind"] == "classifier");
      CHECK(md["activation"] == activation);
      CHECK(json::parse(md["process_names"].get<std::string>()) == json({"signal", "ztt", "ttbar"}));
      CHECK(json::parse(md["inputs"].get<std::string>())["features"] == json({"a", "b", "c", "d"}));
      const json standardisation = json::parse(md["input_standardisation"].get<std::string>());
      CHECK(standardisation["indicator_features"] == json({1}));
      CHECK(standardisation["mean"][0].get<double>() == Approx(clf->preprocess->mean[0].item<double>()).epsilon(1e-6));
      CHECK(json::parse(md["calibration"].get<std::string>())["calibrated"] == true);

      // refinery's own reader reads the double and int64 initializers back.
      const onnx::Model back = onnx::read_file(tmp.path("clf.onnx"));
      const onnx::Tensor* log_yields = back.graph.initializer("log_yields");
      REQUIRE(log_yields);
      CHECK(log_yields->type == onnx::kDouble);
      CHECK(log_yields->doubles == std::vector<double>{std::log(40.0), std::log(300.0), std::log(1200.0)});
      const onnx::Tensor* columns = back.graph.initializer("indicator_columns");
      REQUIRE(columns);
      CHECK(columns->int64s == std::vector<std::int64_t>{1});
      CHECK(back.graph.outputs[1].type == onnx::kDouble);

      ClassifierArchive archive(tmp.path("clf.pt"));
      const double dg = largest_difference(out["probabilities"], archive.probabilities(test));
      const double df = largest_difference(out["fractions"], archive.fractions(test));
      const double dl = largest_difference(out["logits"], clf->forward(test));
      INFO("onnxruntime against the archive: probabilities " << dg << ", fractions " << df << ", logits " << dl);
      CHECK(dg < 1e-5);
      CHECK(df < 1e-5);
      CHECK(dl < 1e-5);
      // ... and `refinery eval` writes the same numbers.
      auto ev = eval_outputs(tmp, "classifier", "clf", test, {"a", "b", "c", "d"}, "", {"probabilities", "fractions"});
      CHECK(largest_difference(out["probabilities"], ev["probabilities"]) < 1e-5);
      CHECK(largest_difference(out["fractions"], ev["fractions"]) < 1e-5);
    }
  }
}

TEST_CASE("ONNX export of SANNT networks gives the bins SANNT training histograms", "[onnx][export][sannt]") {
  refinery::testing::TempDir tmp("onnx_sannt");
  const torch::Tensor x = features(300, 3, 21), test = features(500, 3, 22);
  const torch::Tensor ones = torch::ones({test.size(0)}, torch::kFloat64);
  struct Case {
    std::string summary;
    int64_t classes, bins;
  };
  for (const Case& c : {Case{"score", 2, 10}, Case{"softmax", 5, 5}, Case{"class", 3, 4}}) {
    DYNAMIC_SECTION(c.summary) {
      MultiClassifier net = random_classifier(x, c.classes, "tanh", 6.0);
      torch::jit::Module ts = classifier_to_torchscript(net);
      save_torchscript(ts, {{"kind", "sannt"}, {"feature_names", {"x0", "x1", "x2"}},
                            {"process_names", {"signal", "background"}}, {"bins", c.bins}, {"summary", c.summary},
                            {"score_class", 0}, {"activation", "tanh"}},
                       tmp.path("sannt.pt"));
      json checked;
      const json out = export_and_run(tmp, "sannt", test, {}, &checked);
      CHECK(checked["outputs"] == json::array({"probabilities", "fractions", "logits", "bin"}));
      CHECK(checked["metadata"]["summary"] == c.summary);
      torch::NoGradGuard guard;
      const torch::Tensor logits = net->forward(test), p = torch::softmax(logits, 1);
      // The histogram SANNT training counts (exact counts, unit weights).
      torch::Tensor expected;
      if (c.summary == "score") expected = histogram(p.select(1, 0), ones, HistogramOptions(c.bins, 0.0, 1.0));
      else if (c.summary == "softmax") expected = softmax_histogram(logits, ones);
      else expected = multiclass_histogram(p, ones, c.bins);
      const torch::Tensor bins = as_long(out["bin"]);
      REQUIRE(bins.size(0) == test.size(0));
      const torch::Tensor counted = torch::bincount(bins, {}, expected.size(0)).to(torch::kFloat64);
      INFO("onnxruntime bins " << counted << " training histogram " << expected);
      CHECK(torch::equal(counted, expected));
      CHECK((expected > 0).sum().item<int64_t>() >= std::min<int64_t>(4, expected.size(0)));  // not all in one bin
      CHECK(largest_difference(out["logits"], logits) < 1e-5);
      // `refinery eval sannt`: the same bins, event by event.
      auto ev = eval_outputs(tmp, "sannt", "sannt", test, {"x0", "x1", "x2"}, "", {"bin", "probabilities"});
      CHECK(torch::equal(ev["bin"].to(torch::kLong), bins));
      CHECK(largest_difference(out["probabilities"], ev["probabilities"]) < 1e-5);
    }
  }
}

TEST_CASE("A SANNT network trained by the command and exported gives the bins refinery eval gives", "[onnx][export][sannt][cli]") {
  refinery::testing::TempDir tmp("onnx_sannt_trained");
  const auto trained = refinery::testing::run_refinery(
      "train sannt --benchmark 0 --inits 1 --events 2000 --test-events 2000 --summary class --bins 3 "
      "--pretrain-epochs 2 --epochs 2 --steps 5 --quiet --out " + tmp.path("net.json"));
  INFO(trained.output);
  REQUIRE(trained.exit_code == 0);
  nlohmann::json meta;
  torch::jit::Module module = load_torchscript(tmp.path("net.json.pt"), &meta);
  CHECK(meta["summary"] == "class");
  // One name per output: the INFERNO problem's processes.
  CHECK(meta["process_names"].size() == size_t(module.attr("log_yields").toTensor().numel()));
  const torch::Tensor test = features(300, 3, 51);
  json checked;
  const json out = export_and_run(tmp, "net.json", test, {}, &checked);
  const torch::Tensor bins = as_long(out["bin"]);
  auto ev = eval_outputs(tmp, "sannt", "net.json", test, {"x0", "x1", "x2"}, "", {"bin", "fractions"});
  CHECK(torch::equal(ev["bin"].to(torch::kLong), bins));
  CHECK(largest_difference(out["fractions"], ev["fractions"]) < 1e-5);
  CHECK(bins.max().item<int64_t>() < 3 * int64_t(meta["process_names"].size()));
}

TEST_CASE("ONNX export of DCR networks: coefficients and log r equal the archive's", "[onnx][export][dcr]") {
  refinery::testing::TempDir tmp("onnx_dcr");
  const torch::Tensor x = features(200, 5, 31), test = features(64, 5, 32);
  const torch::Tensor nu = torch::tensor({0.5f, -1.25f, 2.0f});
  auto member = [&](uint64_t seed, int order, std::vector<int64_t> hidden, std::vector<int> powers = {}) {
    torch::manual_seed(seed);
    DCRNetwork net(
        DCRNetworkOptions(5, 3).order(order).hidden(hidden).powers(powers).n_indicators(count_indicator_columns(x)));
    torch::NoGradGuard guard;
    net->preprocess->fit(x, torch::ones({x.size(0)}, torch::kFloat64));
    return net;
  };
  struct Case {
    std::string name;
    DCRNetwork net;
    int order;
  };
  std::vector<Case> cases;
  cases.push_back({"single_linear", member(1, 1, {16}), 1});
  cases.push_back({"ensemble_quadratic", merge_dcr_ensemble({member(2, 2, {16, 8}), member(3, 2, {16, 8})}), 2});
  // The third nuisance in its square (a smearing width): nu = 2 enters as 4.
  cases.push_back({"quadratic_in_a_square", member(4, 2, {16}, {1, 1, 2}), 2});
  // A cubic term in the second nuisance beside the squared third: phi gains (-1.25)^3 at its end.
  cases.push_back({"cubic_and_square", member(5, 2, {16}, {1, likelihood::kCubic, 2}), 2});
  // A knot at 1.5 in the third nuisance beside the cubic second: phi gains (2 - 1.5)^2 after (-1.25)^3.
  cases.push_back({"cubic_and_knot", member(6, 2, {16}, {1, likelihood::kCubic, likelihood::knot_code(1.5)}), 2});
  for (auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      c.net->eval();
      torch::jit::Module ts = dcr_to_torchscript(c.net);
      json archive_meta = {{"kind", "dcr"}, {"process", "ztt"}, {"nuisances", {"a", "b", "c"}}, {"order", c.order},
                           {"n_features", 5}, {"feature_names", {"f0", "f1", "f2", "f3", "f4"}},
                           {"nu_range", {{"min", {-2, -2, -2}}, {"max", {2, 2, 2}}}}};
      if (!c.net->options.powers().empty()) archive_meta["coordinates"] = dcr_coordinates_json(c.net->options.powers(), 3);
      save_torchscript(ts, archive_meta, tmp.path("dcr.pt"));
      json checked;
      const json out = export_and_run(tmp, "dcr", test, nu, &checked);
      CHECK(checked["inputs"] == json::array({"features", "nu"}));
      CHECK(checked["outputs"] == json::array({"coefficients", "log_r"}));
      CHECK(checked["metadata"]["activation"] == "silu");  // from the archive's operators (no metadata entry)
      CHECK(json::parse(checked["metadata"]["range_of_validity"].get<std::string>())["nu"]["max"] == json({2, 2, 2}));
      nlohmann::json meta;
      torch::jit::Module back = load_torchscript(tmp.path("dcr.pt"), &meta);
      torch::NoGradGuard guard;
      const double dc = largest_difference(out["coefficients"], back.forward({test}).toTensor());
      const double dr = largest_difference(out["log_r"], back.get_method("log_r")({test, nu}).toTensor());
      INFO("onnxruntime against the archive: coefficients " << dc << ", log r " << dr);
      CHECK(dc < 1e-5);
      CHECK(dr < 1e-5);
      CHECK(out["coefficients"]["dims"] == json::array({64, c.net->n_coefficients()}));
      CHECK(c.net->n_coefficients() == (c.order == 1 ? 3 : 9) + likelihood::appended_terms(c.net->options.powers()));
      // `refinery eval dcr --nu`: the same coefficients and log r.
      auto ev = eval_outputs(tmp, "dcr", "dcr", test, {"f0", "f1", "f2", "f3", "f4"}, " --nu 0.5,-1.25,2",
                             {"coefficients", "log_r"});
      CHECK(largest_difference(out["coefficients"], ev["coefficients"]) < 1e-5);
      CHECK(largest_difference(out["log_r"], ev["log_r"]) < 1e-5);
    }
  }
}

TEST_CASE("refinery export: bad input gets one line and exit 2, no output file", "[onnx][export][cli]") {
  refinery::testing::TempDir tmp("onnx_export_cli");
  std::ofstream(tmp.path("not_a_model.pt")) << "hello";
  auto r = refinery::testing::run_refinery("export " + tmp.path("not_a_model.pt") + " --out " + tmp.path("x.onnx"));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("not_a_model.pt"));
  CHECK_FALSE(refinery::testing::file_exists(tmp.path("x.onnx")));
  // An archive of a kind that has no ONNX form.
  const torch::Tensor x = features(50, 3, 41);
  MultiClassifier net = random_classifier(x, 2, "silu", 1.0);
  torch::jit::Module ts = classifier_to_torchscript(net);
  save_torchscript(ts, {{"kind", "mystery"}}, tmp.path("mystery.pt"));
  r = refinery::testing::run_refinery("export " + tmp.path("mystery.pt") + " --out " + tmp.path("x.onnx"));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("mystery.pt") && Catch::Contains("kind"));
  CHECK_FALSE(refinery::testing::file_exists(tmp.path("x.onnx")));
  // A SANNT archive without its bins.
  save_torchscript(ts, {{"kind", "sannt"}, {"feature_names", {"x0", "x1", "x2"}}, {"process_names", {"s", "b"}}},
                   tmp.path("no_bins.pt"));
  r = refinery::testing::run_refinery("export " + tmp.path("no_bins.pt") + " --out " + tmp.path("x.onnx"));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("no_bins.pt") && Catch::Contains("bins"));
  CHECK_FALSE(refinery::testing::file_exists(tmp.path("x.onnx")));
  r = refinery::testing::run_refinery("export --out " + tmp.path("x.onnx"));
  CHECK(r.exit_code == 2);
  // eval: a model of another kind than asked for, a wrong number of nuisances.
  save_torchscript(ts, {{"kind", "sannt"}, {"feature_names", {"x0", "x1", "x2"}}, {"process_names", {"s", "b"}}, {"bins", 4}},
                   tmp.path("sannt.pt"));
  EventSet events;
  events.features = x;
  events.weights = torch::ones({x.size(0)}, torch::kFloat64);
  events.process = torch::zeros({x.size(0)}, torch::kInt32);
  EventMeta meta;
  meta.feature_names = {"x0", "x1", "x2"};
  meta.process_names = {"p"};
  write_events(tmp.path("ev.h5"), events, meta);
  r = refinery::testing::run_refinery("eval classifier --model " + tmp.path("sannt.pt") + " --events " + tmp.path("ev.h5") +
                                      " --out " + tmp.path("e.h5"));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("not a classifier archive (kind 'sannt')"));
  r = refinery::testing::run_refinery("eval sannt --model " + tmp.path("sannt.pt") + " --events " + tmp.path("ev.h5") +
                                      " --out " + tmp.path("e.h5") + " --nu 1");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("--nu"));
  r = refinery::testing::run_refinery("eval sannt --model " + tmp.path("sannt.pt") + " --events " + tmp.path("ev.h5") +
                                      " --out " + tmp.path("e.h5"));
  CHECK(r.exit_code == 0);
  DCRNetwork dcr(DCRNetworkOptions(3, 2));
  torch::jit::Module dts = dcr_to_torchscript(dcr);
  save_torchscript(dts, {{"kind", "dcr"}, {"nuisances", {"a", "b"}}, {"order", 2}, {"n_features", 3}}, tmp.path("dcr.pt"));
  r = refinery::testing::run_refinery("eval dcr --model " + tmp.path("dcr.pt") + " --events " + tmp.path("ev.h5") +
                                      " --out " + tmp.path("d.h5") + " --nu 1,2,3");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("--nu") && Catch::Contains("2 nuisances"));
  CHECK_FALSE(refinery::testing::file_exists(tmp.path("d.h5")));
}
