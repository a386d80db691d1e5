// Benchmark of streaming classifier training (docs/cluster.md): an event
// file far larger than the training buffer, its peak memory and time.
//   bench_streaming write FILE ROWS SOURCE   FILE: ROWS rows, SOURCE's rows repeated
//                                           (each copy's weights divided by the copies)
//   bench_streaming train FILE [steps=200] [buffer_rows=4000000] [threads=2]
//                                           one epoch of `steps` mini-batches of 1024 by
//                                           train_classifier_streaming; prints the passes'
//                                           and the epoch's seconds and the peak memory (VmHWM)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "models/multiclassifier.h"
#include "src/core/memory_reuse.h"
#include "src/core/threads.h"
#include "src/io/event_reader.h"
#include "src/io/event_writer.h"
#include "train/classifier_streaming.h"

using namespace refinery;

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int write(const std::string& path, int64_t rows, const std::string& source_path) {
  EventReader source_reader(source_path);
  EventSet source = source_reader.read_all();
  const int64_t n = source.features.size(0);
  const double copies = double(rows) / double(n);
  source.weights = source.weights / copies;
  EventMeta meta = source_reader.meta();
  meta.nuisance_names.clear();  // features, weights and labels are what training reads
  const auto t0 = std::chrono::steady_clock::now();
  EventWriter writer(path, meta, EventWriterOptions{262144, 1, true});
  for (int64_t done = 0; done < rows;) {
    const int64_t take = std::min(n, rows - done);
    EventSet part;
    part.features = source.features.narrow(0, 0, take);
    part.weights = source.weights.narrow(0, 0, take);
    part.process = source.process.narrow(0, 0, take);
    writer.append(part);
    done += take;
    if ((done / n) % 20 == 0) std::fprintf(stderr, "\r%lld / %lld rows", static_cast<long long>(done), static_cast<long long>(rows));
  }
  writer.close();
  std::printf("\nwrote %s: %lld rows in %.1f s\n", path.c_str(), static_cast<long long>(rows), since(t0));
  return 0;
}

int train(const std::string& path, int64_t steps, int64_t buffer_rows, int threads) {
  set_threads(threads);
  EventReader reader(path);
  const int64_t C = static_cast<int64_t>(reader.meta().process_names.size());
  const int64_t F = static_cast<int64_t>(reader.meta().feature_names.size());
  auto t0 = std::chrono::steady_clock::now();
  const ClassifierFileScan scan = scan_classifier_file(reader, C, 0);
  const double scan_s = since(t0);
  torch::manual_seed(1);
  MultiClassifier clf(MultiClassifierOptions(F, C).n_indicators(scan.indicator_columns));
  ClassifierTrainOptions o;
  o.train.epochs = 1;
  o.train.steps_per_epoch = steps;
  o.train.label = "streaming epoch";
  ClassifierStreamOptions s;
  s.buffer_rows = buffer_rows;
  ClassifierStreamReport report;
  t0 = std::chrono::steady_clock::now();
  const ClassifierTrainResult r = train_classifier_streaming(clf, reader, scan, o, s, &report);
  const double train_s = since(t0);
  std::printf("%s: %lld rows (%lld training), blocks of %lld, %lld buffers of <= %lld rows\n", path.c_str(),
              static_cast<long long>(scan.rows), static_cast<long long>(report.training_rows),
              static_cast<long long>(report.block_rows), static_cast<long long>(report.buffers_per_epoch),
              static_cast<long long>(buffer_rows));
  std::printf("first pass (totals, checks) %.1f s; statistics, epoch of %lld steps and calibration %.1f s\n", scan_s,
              static_cast<long long>(steps), train_s);
  std::printf("validation loss %.5f, test ECE %.5f; peak memory %.0f MiB\n", r.report.best_val_loss,
              r.test_after.ece, report.peak_memory_mib);
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  refinery::keep_freed_memory_for_reuse();  // as refinery's commands run
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "write" && argc == 5) return write(argv[2], std::atoll(argv[3]), argv[4]);
  if (mode == "train" && argc >= 3)
    return train(argv[2], argc > 3 ? std::atoll(argv[3]) : 200, argc > 4 ? std::atoll(argv[4]) : 4000000,
                 argc > 5 ? std::atoi(argv[5]) : 2);
  std::fprintf(stderr, "usage: bench_streaming write FILE ROWS SOURCE | train FILE [steps] [buffer_rows] [threads]\n");
  return 2;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_streaming: %s\n", e.what());
  return 1;
}
