// `refinery eval KIND --model M --events F --out scores.h5`: a trained
// network on an event file, written to HDF5 (atomically) next to the events'
// process and weights (int32 [N], float64 [N]):
//   classifier: probabilities float32 [N,C], fractions float64 [N,C]
//   sannt:      the same, and bin int64 [N]: the bin of the binned analysis
//               the network defines (its summary; src/autograd/histogram.h)
//   dcr:        coefficients float32 [N,n_coef]; with --nu v1,...,vK also
//               log_r float64 [N] = log r(x|nu)
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
#include "src/io/event_reader.h"
#include "src/io/h5_attributes.h"

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

int run_eval(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Evaluate a trained model on an event file: `refinery eval classifier|sannt|dcr ...`");
  options.add_options()("what", "classifier, sannt or dcr", cxxopts::value<std::string>())(
      "model", "Model archive (.pt)", cxxopts::value<std::string>())(
      "events", "Event file (HDF5)", cxxopts::value<std::string>())(
      "nu", "dcr: also log r(x|nu) at these nuisance values (v1,...,vK)", cxxopts::value<std::string>());
  add_common_options(options, false, true);
  options.parse_positional({"what"});
  options.positional_help("classifier|sannt|dcr");
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  setup_experiment(common);
  const std::string what = r->count("what") ? (*r)["what"].as<std::string>() : "";
  if (what != "classifier" && what != "sannt" && what != "dcr")
    throw InputError("", "WHAT", "eval what? classifier, sannt or dcr, got '" + what + "'");
  if (!r->count("model")) throw InputError("", "--model", "no model archive given");
  if (!r->count("events")) throw InputError("", "--events", "no event file given");
  if (common.out.empty()) throw InputError("", "--out", "no output file given");
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
