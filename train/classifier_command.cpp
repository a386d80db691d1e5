// `refinery train classifier`: the calibrated multiclassifier.
//   refinery train classifier --config EXPERIMENT.json
//       (events: OUTPUT_DIR/<classifier.events>, nominal.h5 unless set; model: OUTPUT_DIR/classifier.pt)
//   refinery train classifier --events nominal.h5 --out classifier.pt
// Hyper-parameters come from the config's `classifier` section; flags
// override them. Writes the TorchScript archive (metadata inside) and
// OUT.json (training report, yields, ECE and reliability before and after
// calibration); --checkpoint / --resume continue an interrupted training.
// Data-parallel: --world-size N starts N processes here, each reading its
// shard of the events (rows split evenly in file order); or --world-size N
// --rank R --master HOST:PORT for one rank of a group started elsewhere.
// Rank 0 writes the model, its report and the checkpoints.
#include <filesystem>
#include <iostream>
#include <sstream>

#include "models/torchscript_export.h"
#include "src/cli/options.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/io/event_reader.h"
#include "train/classifier_streaming.h"
#include "train/classifier_training.h"
#include "train/training_flags.h"

namespace refinery::cli {

int run_train_classifier(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Train the calibrated multiclassifier");
  options.add_options()("what", "classifier", cxxopts::value<std::string>())(
      "events", "Event file (default: the config's classifier.events in OUTPUT_DIR, nominal.h5 unless set)", cxxopts::value<std::string>())(
      "hidden", "Hidden layer sizes, e.g. 128,128", cxxopts::value<std::string>())(
      "activation", "silu, relu, tanh or elu", cxxopts::value<std::string>())(
      "epochs", "Maximum epochs", cxxopts::value<int>())(
      "steps", "Mini-batches per epoch", cxxopts::value<int64_t>())(
      "batch", "Events per mini-batch", cxxopts::value<int64_t>())(
      "lr", "Initial learning rate", cxxopts::value<double>())(
      "lr-decay", "Learning-rate factor per epoch", cxxopts::value<double>())(
      "average-steps", "Keep a running average of the weights with this time constant in steps, validated and "
      "kept instead of the last weights (0: none)", cxxopts::value<int64_t>())(
      "ensemble", "Train this many networks from their own seeds and average their logits per event (one network, "
      "calibrated as one)", cxxopts::value<int>())(
      "patience", "Early stopping patience in epochs (0: never)", cxxopts::value<int>())(
      "checkpoint", "Checkpoint file (default: OUT.ckpt)", cxxopts::value<std::string>())(
      "resume", "Continue from the checkpoint")(
      "stream", "Read the events in blocks instead of whole (files larger than memory; docs/cluster.md)")(
      "buffer-rows", "With --stream: training rows in memory at once", cxxopts::value<int64_t>()->default_value("2000000"))(
      "held-out-rows", "With --stream: validation rows kept in memory (and as many test rows)",
      cxxopts::value<int64_t>()->default_value("1000000"))(
      "block-rows", "With --stream: rows per read (default: the file's chunk, at least 65536)", cxxopts::value<int64_t>());
  add_common_options(options, true, true);
  add_distributed_options(options);
  options.parse_positional({"what"});
  options.positional_help("classifier");
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  if (r->count("stream") && (r->count("world-size") || r->count("rank") || r->count("master")))
    throw InputError("", "--stream", "streaming training runs in one process (drop --world-size)");
  if (auto code = launch_ranks_if_asked(*r)) return *code;
  CommonOptions common = common_options(*r);
  ExperimentConfig config = setup_experiment(common);
  const std::shared_ptr<distributed::Collective> group = join_training_group(*r);
  const bool lead = group->rank() == 0;
  const nlohmann::json& cc = config.document.at("classifier");
  const std::string out_dir = config.document.at("output_dir").get<std::string>();
  // The training events: --events, else classifier.events in the output directory.
  const std::string events_path = r->count("events") ? (*r)["events"].as<std::string>()
                                                     : (std::filesystem::path(out_dir) / cc.value("events", std::string("nominal.h5"))).string();
  if (!r->count("events") && !std::filesystem::exists(events_path))
    throw ConfigError(config.file, "classifier.events",
                      "no file " + events_path + " (simulate it first: refinery simulate --config ...)");
  const std::string out = common.out.empty() ? (std::filesystem::path(out_dir) / "classifier.pt").string() : common.out;
  const uint64_t seed = config.document.at("seed").get<uint64_t>();
  torch::manual_seed(seed);

  EventReader reader(events_path);
  const EventMeta meta = reader.meta();
  const bool streaming = r->count("stream") > 0;
  for (const char* flag : {"buffer-rows", "held-out-rows", "block-rows"})
    if (!streaming && r->count(flag)) throw InputError("", std::string("--") + flag, "needs --stream");
  ClassifierStreamOptions stream_options;
  stream_options.buffer_rows = (*r)["buffer-rows"].as<int64_t>();
  stream_options.held_out_rows = (*r)["held-out-rows"].as<int64_t>();
  if (stream_options.buffer_rows < 1) throw InputError("", "--buffer-rows", "must be positive");
  if (stream_options.held_out_rows < 1) throw InputError("", "--held-out-rows", "must be positive");
  if (r->count("block-rows")) {
    stream_options.block_rows = (*r)["block-rows"].as<int64_t>();
    if (stream_options.block_rows < 1) throw InputError("", "--block-rows", "must be positive");
  }
  ClassifierFileScan scan;
  ClassifierData data;
  if (streaming) {
    scan = scan_classifier_file(reader, static_cast<int64_t>(meta.process_names.size()), stream_options.block_rows);
  } else {
    const distributed::Shard shard = distributed::shard_of(reader.size(), group->rank(), group->size());
    EventSet events = group->size() == 1 ? reader.read_all() : reader.read(shard.begin, shard.rows());
    data = ClassifierData{events.features, events.process.to(torch::kLong), events.weights, meta.process_names};
    data.first_row = shard.begin;
    data.validate(events_path, *group);
  }
  const int64_t n_features = static_cast<int64_t>(meta.feature_names.size());

  std::vector<int64_t> hidden = r->count("hidden") ? parse_layer_sizes((*r)["hidden"].as<std::string>(), "--hidden")
                                                   : cc.at("hidden").get<std::vector<int64_t>>();
  const std::string activation =
      r->count("activation") ? (*r)["activation"].as<std::string>() : cc.at("activation").get<std::string>();
  MultiClassifier clf(MultiClassifierOptions(n_features, static_cast<int64_t>(meta.process_names.size()))
                          .hidden(hidden)
                          .activation(activation)
                          .n_indicators(streaming ? scan.indicator_columns : count_indicator_columns(data.x, *group)));
  ClassifierTrainOptions opt;
  opt.train.epochs = r->count("epochs") ? (*r)["epochs"].as<int>() : cc.at("epochs").get<int>();
  opt.train.steps_per_epoch = r->count("steps") ? (*r)["steps"].as<int64_t>() : cc.at("steps_per_epoch").get<int64_t>();
  opt.batch_size = r->count("batch") ? (*r)["batch"].as<int64_t>() : cc.at("batch").get<int64_t>();
  opt.train.learning_rate = r->count("lr") ? (*r)["lr"].as<double>() : cc.at("learning_rate").get<double>();
  opt.train.lr_decay = r->count("lr-decay") ? (*r)["lr-decay"].as<double>() : cc.at("lr_decay").get<double>();
  opt.train.patience = r->count("patience") ? (*r)["patience"].as<int>() : cc.at("patience").get<int>();
  // The flag, else the config's key where set, else `absent` (keys without a
  // default, so that configs without them keep their hashes).
  auto flag_or_key = [&](const char* flag, const char* key, auto absent) -> decltype(absent) {
    using T = decltype(absent);
    if (r->count(flag)) return (*r)[flag].as<T>();
    return cc.contains(key) && !cc.at(key).is_null() ? cc.at(key).get<T>() : absent;
  };
  opt.train.average_steps = flag_or_key("average-steps", "average_steps", int64_t{0});
  opt.members = flag_or_key("ensemble", "ensemble", 1);
  if (opt.members < 1 || opt.members > 32) throw InputError("", "--ensemble", "must be in [1, 32], got " + std::to_string(opt.members));
  if (streaming && opt.members > 1)
    throw InputError("", "--ensemble", "a streamed training trains one network (drop --stream or --ensemble)");
  opt.validation_fraction = cc.at("validation_fraction").get<double>();
  opt.test_fraction = cc.at("test_fraction").get<double>();
  if (opt.batch_size < 1) throw InputError("", "--batch", "must be positive");
  opt.train.seed = seed;
  opt.train.quiet = common.quiet;
  opt.train.label = "train classifier";
  opt.train.checkpoint = r->count("checkpoint") ? (*r)["checkpoint"].as<std::string>() : out + ".ckpt";
  opt.train.resume = r->count("resume") > 0;
  opt.train.group = group;
  check_training_flags(opt.train, *r, config.file, "classifier");
  ClassifierStreamReport stream_report;
  ClassifierTrainResult result = streaming
                                     ? train_classifier_streaming(clf, reader, scan, opt, stream_options, &stream_report)
                                     : train_classifier(clf, data, opt);
  if (result.report.interrupted || !lead) return 0;

  nlohmann::json report = result.to_json(meta.process_names);
  if (streaming) report["streaming"] = stream_report.to_json();
  report["events"] = events_path;
  report["config_hash"] = config.hash;
  report["seed"] = seed;
  nlohmann::json metadata = {{"kind", "classifier"},
                             {"feature_names", meta.feature_names},
                             {"process_names", meta.process_names},
                             {"yields", result.yields},
                             {"luminosity", meta.luminosity},
                             {"hidden", hidden},
                             {"activation", activation},
                             {"config_hash", config.hash},
                             {"seed", seed},
                             {"events", events_path},
                             {"test_ece", result.test_after.ece}};
  if (opt.members > 1) metadata["ensemble"] = opt.members;  // `hidden`: each member's
  std::filesystem::path parent = std::filesystem::path(out).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  torch::jit::Module ts = classifier_to_torchscript(clf);
  save_torchscript(ts, metadata, out);
  write_text_atomically(out + ".json", report.dump(2) + "\n");
  // The model is written: its checkpoint has served (a rerun starts afresh).
  std::error_code ignored;
  for (int m = 0; m < opt.members; ++m) std::filesystem::remove(member_checkpoint(opt.train.checkpoint, m), ignored);
  if (!common.quiet) {
    std::cout << "calibration on " << "the validation events (fit) and the test events (report):\n"
              << reliability_table(result.test_before, result.test_after, meta.process_names);
    if (opt.members > 1) {
      std::printf("ensemble of %d: validation loss %.6f (members:", opt.members, result.ensemble.validation_loss);
      for (double v : result.ensemble.member_validation_loss) std::printf(" %.6f", v);
      std::printf("); members' spread of the fractions per event (rms):");
      for (size_t p = 0; p < meta.process_names.size(); ++p)
        std::printf(" %s %.4f", meta.process_names[p].c_str(), result.ensemble.fraction_sd[p]);
      std::printf("\n");
    }
    std::printf("ECE on validation events: %.5f -> %.5f; on test events: %.5f -> %.5f (statistical floor %.5f)\n",
                result.validation_before.ece, result.validation_after.ece, result.test_before.ece,
                result.test_after.ece, result.test_ece_floor);
    if (streaming)
      std::printf("streamed %lld training rows in blocks of %lld, %lld buffer(s) per epoch; peak memory %.0f MiB\n",
                  static_cast<long long>(stream_report.training_rows), static_cast<long long>(stream_report.block_rows),
                  static_cast<long long>(stream_report.buffers_per_epoch), stream_report.peak_memory_mib);
    std::cout << "wrote " << out << " and " << out << ".json\n";
  }
  return 0;
}

}  // namespace refinery::cli
