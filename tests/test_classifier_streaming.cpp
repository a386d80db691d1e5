// Streaming classifier training (train/classifier_streaming.h): with one
// buffer it is in-memory training; with several it trains as well within
// statistics; it resumes bit for bit; its flags' bad input.
#include "testing.hpp"

#include <nlohmann/json.hpp>
#include <torch/script.h>

#include "models/multiclassifier.h"
#include "src/io/event_reader.h"
#include "train/classifier_streaming.h"

using namespace refinery;
using refinery::testing::read_file;
using refinery::testing::run_refinery;
using refinery::testing::TempDir;

namespace {

std::map<std::string, torch::Tensor> parameters(const std::string& path) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : torch::jit::load(path).named_parameters()) out[p.name] = p.value;
  return out;
}

}  // namespace

TEST_CASE("Streaming classifier training equals in-memory training with one buffer and trains as well with several",
          "[classifier][streaming]") {
  TempDir tmp("classifier_streaming");
  // The simulator writes its rows ordered by process: the hard case for blocks.
  REQUIRE(run_refinery("simulate htautau --quiet --events 60000 --seed 3 --out " + tmp.path("ev.h5")).exit_code == 0);
  const std::string common = "train classifier --quiet --events " + tmp.path("ev.h5") + " --epochs 4 --steps 25";
  REQUIRE(run_refinery(common + " --out " + tmp.path("memory.pt")).exit_code == 0);
  auto one = run_refinery(common + " --stream --out " + tmp.path("one.pt"));
  INFO(one.output);
  REQUIRE(one.exit_code == 0);
  auto several = run_refinery(common + " --stream --buffer-rows 2000 --block-rows 100 --out " + tmp.path("several.pt"));
  INFO(several.output);
  REQUIRE(several.exit_code == 0);
  const auto m = nlohmann::json::parse(read_file(tmp.path("memory.pt.json")));
  const auto a = nlohmann::json::parse(read_file(tmp.path("one.pt.json")));
  const auto b = nlohmann::json::parse(read_file(tmp.path("several.pt.json")));
  REQUIRE(a["streaming"]["buffers_per_epoch"] == 1);
  REQUIRE(b["streaming"]["buffers_per_epoch"] == 3);
  REQUIRE(a["streaming"]["training_rows"] == b["streaming"]["training_rows"]);
  REQUIRE(a["streaming"]["validation_rows_kept"] == a["streaming"]["validation_rows"]);
  CHECK(a["streaming"]["peak_memory_mib"].get<double>() > 0);
  for (size_t e = 0; e < 4; ++e) {
    CHECK(a["training"]["epochs"][e]["train_loss"].get<double>() ==
          Approx(m["training"]["epochs"][e]["train_loss"].get<double>()).epsilon(1e-5));
    CHECK(a["training"]["epochs"][e]["val_loss"].get<double>() ==
          Approx(m["training"]["epochs"][e]["val_loss"].get<double>()).epsilon(1e-5));
  }
  const auto pm = parameters(tmp.path("memory.pt")), pa = parameters(tmp.path("one.pt"));
  REQUIRE(pm.size() >= 6);
  for (const auto& [name, value] : pm) {
    INFO(name);
    CHECK((pa.at(name) - value).abs().max().item<double>() < 1e-5);
  }
  // Three buffers per epoch, each a third of the rows: the best validation
  // loss (same 1926 validation events) within 0.03 of in-memory training's
  // (its statistical error on these events is ~0.014), the calibrated
  // test ECE within 0.01.
  CHECK(std::abs(b["training"]["best_val_loss"].get<double>() - m["training"]["best_val_loss"].get<double>()) < 0.03);
  CHECK(std::abs(b["calibration"]["test_after"]["ece"].get<double>() - m["calibration"]["test_after"]["ece"].get<double>()) <
        0.01);
}

TEST_CASE("Streaming training resumed after an interruption ends with the uninterrupted run's weights",
          "[classifier][streaming][resume]") {
  TempDir tmp("classifier_streaming_resume");
  REQUIRE(run_refinery("simulate htautau --quiet --events 30000 --seed 4 --out " + tmp.path("ev.h5")).exit_code == 0);
  EventReader reader(tmp.path("ev.h5"));
  const int64_t C = static_cast<int64_t>(reader.meta().process_names.size());
  ClassifierStreamOptions s;
  s.buffer_rows = 1500;
  s.block_rows = 100;
  const ClassifierFileScan scan = scan_classifier_file(reader, C, s.block_rows);
  auto run = [&](const std::string& checkpoint, int interrupt, bool resume) {
    torch::manual_seed(3);
    MultiClassifier clf(MultiClassifierOptions(28, C).hidden({16}).n_indicators(scan.indicator_columns));
    ClassifierTrainOptions o;
    o.batch_size = 256;
    o.train.epochs = 4;
    o.train.steps_per_epoch = 12;
    o.train.quiet = true;
    o.train.seed = 5;
    o.train.checkpoint = checkpoint;
    o.train.interrupt_after = interrupt;
    o.train.resume = resume;
    ClassifierStreamReport report;
    const ClassifierTrainResult r = train_classifier_streaming(clf, reader, scan, o, s, &report);
    std::vector<torch::Tensor> w;
    for (const auto& p : clf->parameters()) w.push_back(p.detach().clone());
    return std::make_tuple(w, r.report.interrupted, report.buffers_per_epoch);
  };
  auto [full, full_interrupted, buffers] = run(tmp.path("a.ckpt"), 0, false);
  REQUIRE(buffers >= 2);
  auto [part, part_interrupted, part_buffers] = run(tmp.path("b.ckpt"), 2, false);
  REQUIRE(part_interrupted);
  auto [resumed, resumed_interrupted, resumed_buffers] = run(tmp.path("b.ckpt"), 0, true);
  REQUIRE_FALSE(resumed_interrupted);
  REQUIRE(full.size() == resumed.size());
  for (size_t i = 0; i < full.size(); ++i) REQUIRE(torch::equal(full[i], resumed[i]));
}

TEST_CASE("Streaming flags: bad input is one line and exit 2", "[classifier][streaming][bad-input]") {
  TempDir tmp("classifier_streaming_flags");
  REQUIRE(run_refinery("simulate htautau --quiet --events 20000 --seed 3 --out " + tmp.path("ev.h5")).exit_code == 0);
  const std::string base = "train classifier --quiet --events " + tmp.path("ev.h5") + " --epochs 1 --steps 2 --out " +
                           tmp.path("x.pt");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {" --buffer-rows 1000", "refinery train: error: --buffer-rows: needs --stream\n"},
      {" --stream --buffer-rows 0", "refinery train: error: --buffer-rows: must be positive\n"},
      {" --stream --block-rows 0", "refinery train: error: --block-rows: must be positive\n"},
      {" --stream --buffer-rows 10", "refinery train: error: --buffer-rows: smaller than one block's training rows (1940); "
                                     "give at least that, or a smaller block\n"},
      {" --stream --world-size 2 --rank 0 --master 127.0.0.1:2999",
       "refinery train: error: --stream: streaming training runs in one process (drop --world-size)\n"},
  };
  for (const auto& [flags, message] : cases) {
    auto r = run_refinery(base + flags);
    INFO(flags);
    CHECK(r.exit_code == 2);
    CHECK(r.output == message);
  }
  REQUIRE_FALSE(refinery::testing::file_exists(tmp.path("x.pt")));
}
