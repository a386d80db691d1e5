// `refinery eval classifier --model M --events F --out scores.h5`: per-event
// calibrated probabilities and process fractions of a trained classifier,
// written to HDF5 (atomically) next to the events' process and weights:
//   probabilities float32 [N,C], fractions float64 [N,C], process int32 [N],
//   weights float64 [N]; attributes process_names, model, events.
#include <iostream>

#include <H5Cpp.h>

#include "models/classifier_archive.h"
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

int run_eval(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Evaluate a trained model on an event file: `refinery eval classifier ...`");
  options.add_options()("what", "classifier", cxxopts::value<std::string>())(
      "model", "Classifier archive (.pt)", cxxopts::value<std::string>())(
      "events", "Event file (HDF5)", cxxopts::value<std::string>());
  add_common_options(options, false, true);
  options.parse_positional({"what"});
  options.positional_help("classifier");
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  setup_experiment(common);
  const std::string what = r->count("what") ? (*r)["what"].as<std::string>() : "";
  if (what != "classifier") throw InputError("", "WHAT", "eval what? only 'classifier', got '" + what + "'");
  if (!r->count("model")) throw InputError("", "--model", "no model archive given");
  if (!r->count("events")) throw InputError("", "--events", "no event file given");
  if (common.out.empty()) throw InputError("", "--out", "no output file given");
  const std::string events_path = (*r)["events"].as<std::string>();
  ClassifierArchive model((*r)["model"].as<std::string>());
  EventMeta meta;
  EventSet events = read_events(events_path, &meta);
  model.check_features(meta.feature_names, events_path);
  torch::Tensor g = model.probabilities(events.features);
  torch::Tensor f = model.fractions(events.features);

  AtomicFile out(common.out);
  {
    H5::H5File file(out.temp_path(), H5F_ACC_TRUNC);
    write_dataset<float>(file, "probabilities", g.to(torch::kFloat32), H5::PredType::NATIVE_FLOAT);
    write_dataset<double>(file, "fractions", f.to(torch::kFloat64), H5::PredType::NATIVE_DOUBLE);
    write_dataset<int32_t>(file, "process", events.process.to(torch::kInt32), H5::PredType::NATIVE_INT32);
    write_dataset<double>(file, "weights", events.weights.to(torch::kFloat64), H5::PredType::NATIVE_DOUBLE);
    h5::write_strings(file, "process_names", model.process_names());
    h5::write_string(file, "model", model.path());
    h5::write_string(file, "events", events_path);
  }
  out.commit();
  if (!common.quiet) std::cout << "wrote " << g.size(0) << " events' probabilities to " << common.out << "\n";
  return 0;
}

}  // namespace refinery::cli
