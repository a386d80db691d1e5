// `refinery eval KIND --model M --events F --out scores.h5`: a trained
// network on an event file, written to HDF5 (atomically) next to the events'
// process and weights (int32 [N], float64 [N]):
//   classifier: probabilities float32 [N,C], fractions float64 [N,C]
//   sannt:      the same, and bin int64 [N]: the bin of the binned analysis
//               the network defines (its summary; src/autograd/histogram.h)
//   dcr:        coefficients float32 [N,n_coef]; with --nu v1,...,vK also
//               log r float64 [N] = log r(x|nu)
//   ratio:      a morphing-aware ratio estimator (refinery train ratio) on
//               observed events and on a simulated sample at the reference
//               point (--reference-events): the learned-ratio likelihood
//               file (src/io/learned_ratio_file.h) that fit, scan, impacts
//               and hypotest read in a workspace's place
// Attributes: process_names (classifier, sannt), model, events. These are
// the outputs the ONNX export of the same archive gives (`refinery export`).
#include <iostream>

#include <H5Cpp.h>

#include "models/classifier_archive.h"
#include "models/torchscript_export.h"
#include "src/autograd/histogram.h"
#include "src/core/block_eval.h"
#include "src/cli/options.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/core/eigen_tensor.h"
#include "src/core/text.h"
#include "src/io/event_reader.h"
#include "src/io/h5_attributes.h"
#include "src/io/learned_ratio_file.h"

namespace refinery::cli {

namespace {

template <typename T>
void write_dataset(H5::H5File& file, const std::string& name, const torch::Tensor& t, const H5::PredType& type) {
  std::vector<hsize_t> dims(t.sizes().begin(), t.sizes().end());
  H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
  H5::DSetCreatPropList plist;
  if (t.numel() > 0) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = std::min<hsize_t>(dims[0], 65536);
    plist.setChunk(static_cast<int>(chunk.size()), chunk.data());
    plist.setDeflate(4);
  }
  H5::DataSet ds = file.createDataSet(name, type, space, plist);
  torch::Tensor c = t.contiguous();
  ds.write(c.data_ptr<T>(), type);
}

}  // namespace

// The bin of every event in the analysis a SANNT network defines.
torch::Tensor sannt_bins(ClassifierArchive& model, const torch::Tensor& x) {
  const nlohmann::json& meta = model.metadata();
  const std::string summary = meta.value("summary", std::string("score"));
  const int64_t bins = meta.value("bins", int64_t(0));
  if (bins < 2) throw InputError(model.path(), "metadata.json: bins", "missing or fewer than 2");
  torch::NoGradGuard guard;
  const torch::Tensor logits = model.logits(x);
  if (summary == "softmax") return logits.argmax(1);
  const torch::Tensor p = torch::softmax(logits, 1);
  if (summary == "class") return multiclass_bin(p, bins);
  if (summary != "score") throw InputError(model.path(), "metadata.json: summary", "score, softmax or class, got '" + summary + "'");
  const int64_t c = meta.value("score_class", int64_t(0));
  if (c < 0 || c >= p.size(1)) throw InputError(model.path(), "metadata.json: score_class", "not a class of the network");
  return histogram_bin(p.select(1, c), bins, 0.0, 1.0);
}

// nu from "v1,v2,..." (K values).
torch::Tensor parse_nu(const std::string& text, size_t K) {
  const std::vector<double> v = parse_numbers(text, "--nu");
  if (v.size() != K)
    throw InputError("", "--nu", "the model has " + std::to_string(K) + " nuisances, --nu gives " + std::to_string(v.size()));
  return torch::tensor(std::vector<float>(v.begin(), v.end()));
}

std::vector<std::vector<double>> json_matrix(const nlohmann::json& md, const std::string& key, const std::string& model_path) {
  try {
    return md.at(key).get<std::vector<std::vector<double>>>();
  } catch (const nlohmann::json::exception&) {
    throw InputError(model_path, "metadata.json: " + key, "missing or not a matrix of numbers");
  }
}

// The learned-ratio likelihood of a morphing-aware ratio estimator on
// `events_path` (observed) with the expected yield from `reference_path`.
int eval_ratio(const std::string& model_path, const std::string& events_path, const std::string& reference_path,
               const CommonOptions& common) {
  nlohmann::json md;
  torch::jit::Module module = load_torchscript(model_path, &md);
  if (md.value("kind", "") != "ratio_estimator")
    throw InputError(model_path, "metadata.json: kind", "not a ratio estimator (kind '" + md.value("kind", std::string("none")) + "')");
  if (md.value("form", "") != "morphing")
    throw InputError(model_path, "metadata.json: form",
                     "the plain form has no per-event coefficients to cache: train with refinery train ratio --form morphing");
  std::vector<std::string> names, features;
  int T = 0;
  std::vector<double> lower, upper;
  try {
    names = md.at("parameter_names").get<std::vector<std::string>>();
    features = md.at("feature_names").get<std::vector<std::string>>();
    T = md.at("theory_parameters").get<int>();
    lower = md.at("prior_lower").get<std::vector<double>>();
    upper = md.at("prior_upper").get<std::vector<double>>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(model_path, "metadata.json", std::string("incomplete: ") + e.what());
  }
  const auto components_d = json_matrix(md, "morphing_components", model_path), basis_d = json_matrix(md, "morphing_basis", model_path);
  std::vector<std::vector<int>> components;
  Eigen::MatrixXd basis(Eigen::Index(basis_d.size()), T);
  for (size_t j = 0; j < components_d.size(); ++j) {
    components.emplace_back(components_d[j].begin(), components_d[j].end());
    if (j < basis_d.size() && int(basis_d[j].size()) == T)
      for (int p = 0; p < T; ++p) basis(Eigen::Index(j), p) = basis_d[j][size_t(p)];
  }
  EventMeta meta, reference_meta;
  const EventSet events = read_events(events_path, &meta);
  const EventSet reference = read_events(reference_path, &reference_meta);
  if (meta.feature_names != features)
    throw InputError(events_path, "attribute feature_names", "not the features the model was trained on (model " + model_path + ")");
  if (reference_meta.feature_names != features)
    throw InputError(reference_path, "attribute feature_names", "not the features the model was trained on (model " + model_path + ")");
  if (reference.size() < 1) throw InputError(reference_path, "weights", "no events");
  const torch::Tensor rw = reference.weights.to(torch::kFloat64);
  if (!((rw - rw[0]).abs() <= 1e-9 * rw[0].abs()).all().item<bool>() || !(rw[0].item<double>() > 0))
    throw InputError(reference_path, "weights", "the reference sample's events must have one positive weight (a simulated sample at the reference point)");
  if (!(meta.luminosity > 0) || !(reference_meta.luminosity > 0))
    throw InputError(!(meta.luminosity > 0) ? events_path : reference_path, "attribute luminosity", "must be positive");
  module.eval();
  torch::jit::Method method = module.get_method("coefficients");
  auto coefficients_of = [&](const EventSet& e) {
    const torch::Tensor x = e.features.to(torch::kFloat32).contiguous();
    if (x.size(0) == 0) return Eigen::MatrixXd(0, 0);
    const torch::Tensor c = evaluate_in_blocks(x, 4096, [&](const torch::Tensor& b) { return method({b}).toTensor(); });
    return to_eigen_matrix(c.reshape({x.size(0), -1}));
  };
  LearnedRatioFile f;
  const double yield = rw.sum().item<double>() * meta.luminosity / reference_meta.luminosity;
  Eigen::MatrixXd reference_coefficients = coefficients_of(reference);
  try {
    f.inputs = std::make_shared<stats::LearnedRatioInputs>(stats::LearnedRatioInputs{
        stats::Morphing(components, basis), int(names.size()) - T, names,
        Eigen::Map<const Eigen::VectorXd>(lower.data(), Eigen::Index(lower.size())),
        Eigen::Map<const Eigen::VectorXd>(upper.data(), Eigen::Index(upper.size())), reference_coefficients, yield});
  } catch (const std::invalid_argument&) {
    throw InputError(model_path, "metadata.json: morphing_basis", "degenerate or inconsistent with morphing_components");
  }
  f.coefficients = coefficients_of(events);
  if (f.coefficients.rows() == 0) f.coefficients.resize(0, reference_coefficients.cols());
  f.weights = to_eigen_matrix(events.weights.to(torch::kFloat64).view({-1, 1})).col(0);
  f.model = model_path;
  f.events = events_path;
  f.reference_events = reference_path;
  const stats::LearnedRatioModel check(f.inputs, f.coefficients, f.weights, events_path);  // shapes, finiteness
  // sum_j w_j rho_j of a learned rho need not be positive where some w_j <
  // 0; the likelihood is undefined where it is not. Counted over a 21^T
  // grid of the bounds (nuisances at 0), up to 4096 points.
  int64_t bad_events = 0, bad_points = 0, points = 0;
  if (f.coefficients.rows() > 0 && T <= 3) {
    const int per = T == 1 ? 21 : T == 2 ? 21 : 16;
    Eigen::VectorXd x = Eigen::VectorXd::Zero(Eigen::Index(names.size()));
    Eigen::Array<bool, Eigen::Dynamic, 1> bad = Eigen::Array<bool, Eigen::Dynamic, 1>::Constant(f.coefficients.rows(), false);
    std::vector<int> index(size_t(T), 0);
    for (;;) {
      for (int p = 0; p < T; ++p) x[p] = lower[size_t(p)] + (upper[size_t(p)] - lower[size_t(p)]) * index[size_t(p)] / double(per - 1);
      const Eigen::ArrayXd S = check.ratios(f.coefficients, x).array();
      const auto here = S <= 0.0 || !S.isFinite();
      bad_points += here.any() ? 1 : 0;
      bad = bad || here;
      ++points;
      int p = 0;
      while (p < T && ++index[size_t(p)] == per) index[size_t(p++)] = 0;
      if (p == T) break;
    }
    bad_events = bad.count();
  }
  write_learned_ratio_file(common.out, f);
  if (bad_events > 0)
    std::cerr << "eval ratio: note: the learned sum_j w_j rho_j is not positive for " << bad_events << " of " << f.coefficients.rows()
              << " events at " << bad_points << " of " << points
              << " grid points of the parameters' range: the likelihood is undefined there (scan points there report a non-finite objective; "
                 "more training events or members shrink the region)\n";
  if (!common.quiet)
    std::cout << "wrote the learned-ratio likelihood of " << events.size() << " events (expected at the reference: " << yield
              << "; parameters " << join(names) << ") to " << common.out << "\n";
  return 0;
}

int run_eval(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Evaluate a trained model on an event file: `refinery eval classifier|sannt|dcr|ratio ...`");
  options.add_options()("what", "classifier, sannt, dcr or ratio", cxxopts::value<std::string>())(
      "reference-events", "ratio: a simulated sample at the reference point (the expected yield)", cxxopts::value<std::string>())(
      "model", "Model archive (.pt)", cxxopts::value<std::string>())(
      "events", "Event file (HDF5)", cxxopts::value<std::string>())(
      "nu", "dcr: also log r(x|nu) at these nuisance values (v1,...,vK)", cxxopts::value<std::string>());
  add_common_options(options, false, true);
  options.parse_positional({"what"});
  options.positional_help("classifier|sannt|dcr|ratio");
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  setup_experiment(common);
  const std::string what = r->count("what") ? (*r)["what"].as<std::string>() : "";
  if (what != "classifier" && what != "sannt" && what != "dcr" && what != "ratio")
    throw InputError("", "WHAT", "eval what? classifier, sannt, dcr or ratio, got '" + what + "'");
  if (!r->count("model")) throw InputError("", "--model", "no model archive given");
  if (!r->count("events")) throw InputError("", "--events", "no event file given");
  if (common.out.empty()) throw InputError("", "--out", "no output file given");
  if (r->count("reference-events") && what != "ratio") throw InputError("", "--reference-events", "only for a ratio estimator");
  if (what == "ratio") {
    if (!r->count("reference-events"))
      throw InputError("", "--reference-events",
                       "a simulated sample at the reference point, whose weights give the expected yield (refinery simulate theory "
                       "--sample events --theta REF)");
    return eval_ratio((*r)["model"].as<std::string>(), (*r)["events"].as<std::string>(),
                      (*r)["reference-events"].as<std::string>(), common);
  }
  if (r->count("nu") && what != "dcr") throw InputError("", "--nu", "only for a dcr model");
  const std::string events_path = (*r)["events"].as<std::string>(), model_path = (*r)["model"].as<std::string>();
  EventMeta meta;
  EventSet events;
  std::vector<std::pair<std::string, torch::Tensor>> outputs;  // float32, float64 or int64
  std::vector<std::string> process_names;
  if (what == "dcr") {
    nlohmann::json md;
    torch::jit::Module module = load_torchscript(model_path, &md);
    if (md.value("kind", "") != "dcr")
      throw InputError(model_path, "metadata.json: kind", "not a dcr archive (kind '" + md.value("kind", std::string("none")) + "')");
    const std::vector<std::string> nuisances = md.value("nuisances", std::vector<std::string>{});
    const torch::Tensor nu = r->count("nu") ? parse_nu((*r)["nu"].as<std::string>(), nuisances.size()) : torch::Tensor();
    events = read_events(events_path, &meta);
    const int64_t F = md.value("n_features", int64_t(-1));
    if (md.contains("feature_names")) {
      if (md["feature_names"] != nlohmann::json(meta.feature_names))
        throw InputError(events_path, "attribute feature_names", "not the features the model was trained on (model " + model_path + ")");
    } else if (F != events.features.size(1)) {
      throw InputError(events_path, "features", "the model takes " + std::to_string(F) + " features, the file has " +
                                                    std::to_string(events.features.size(1)) + " (model " + model_path + ")");
    }
    const torch::Tensor x = events.features.to(torch::kFloat32).contiguous();
    if (!torch::isfinite(x).all().item<bool>()) throw InputError(events_path, "features", "a non-finite feature value");
    module.eval();
    torch::jit::Method forward = module.get_method("forward");
    const torch::Tensor coefficients =
        x.size(0) == 0 ? forward({x}).toTensor() : evaluate_in_blocks(x, 2048, [&](const torch::Tensor& b) { return forward({b}).toTensor(); });
    outputs.push_back({"coefficients", coefficients});
    if (nu.defined()) {
      torch::jit::Method phi = module.get_method("phi");
      const torch::Tensor p = phi({nu}).toTensor();
      outputs.push_back({"log_r", torch::mv(coefficients, p).to(torch::kFloat64)});
    }
  } else {
    ClassifierArchive model(model_path, what);
    events = read_events(events_path, &meta);
    model.check_features(meta.feature_names, events_path);
    outputs.push_back({"probabilities", model.probabilities(events.features)});
    outputs.push_back({"fractions", model.fractions(events.features).to(torch::kFloat64)});
    if (what == "sannt") outputs.push_back({"bin", sannt_bins(model, events.features)});
    process_names = model.process_names();
  }

  AtomicFile out(common.out);
  {
    H5::H5File file(out.temp_path(), H5F_ACC_TRUNC);
    for (const auto& [name, t] : outputs) {
      if (t.scalar_type() == torch::kLong) write_dataset<int64_t>(file, name, t, H5::PredType::NATIVE_INT64);
      else if (t.scalar_type() == torch::kFloat64) write_dataset<double>(file, name, t, H5::PredType::NATIVE_DOUBLE);
      else write_dataset<float>(file, name, t.to(torch::kFloat32), H5::PredType::NATIVE_FLOAT);
    }
    write_dataset<int32_t>(file, "process", events.process.to(torch::kInt32), H5::PredType::NATIVE_INT32);
    write_dataset<double>(file, "weights", events.weights.to(torch::kFloat64), H5::PredType::NATIVE_DOUBLE);
    if (!process_names.empty()) h5::write_strings(file, "process_names", process_names);
    h5::write_string(file, "model", model_path);
    h5::write_string(file, "events", events_path);
  }
  out.commit();
  if (!common.quiet) {
    std::cout << "wrote " << events.features.size(0) << " events' ";
    for (size_t i = 0; i < outputs.size(); ++i) std::cout << (i ? ", " : "") << outputs[i].first;
    std::cout << " to " << common.out << "\n";
  }
  return 0;
}

}  // namespace refinery::cli
