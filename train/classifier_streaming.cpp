#include "train/classifier_streaming.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "src/core/error.h"

namespace refinery {

namespace {

int64_t effective_block(const EventReader& reader, int64_t block_rows) {
  return block_rows > 0 ? block_rows : std::max<int64_t>(reader.chunk_rows(), 65536);
}

// The rows of a block each split gets (indices into the block).
struct BlockSplit {
  torch::Tensor train, validation, test;
};
BlockSplit split_block(const EventSet& e, int64_t start, const ClassifierTrainOptions& o) {
  const DataSplit s = split_by_hash(e.features.size(0), o.validation_fraction, o.test_fraction, 0xc1a55000ULL, start);
  return {s.train, s.validation, s.test};
}

}  // namespace

double peak_memory_mib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream s(line.substr(6));
      double kib = 0;
      s >> kib;
      return kib / 1024.0;
    }
  return 0.0;
}

nlohmann::json ClassifierStreamReport::to_json() const {
  return {{"block_rows", block_rows},         {"buffer_rows", buffer_rows},
          {"training_rows", training_rows},   {"buffers_per_epoch", buffers_per_epoch},
          {"validation_rows", validation_rows}, {"validation_rows_kept", validation_rows_kept},
          {"test_rows", test_rows},           {"test_rows_kept", test_rows_kept},
          {"peak_memory_mib", peak_memory_mib}};
}

ClassifierFileScan scan_classifier_file(const EventReader& reader, int64_t C, int64_t block_rows) {
  const int64_t block = effective_block(reader, block_rows);
  ClassifierFileScan scan;
  scan.rows = reader.size();
  torch::Tensor totals = torch::zeros({C}, torch::kFloat64);
  torch::Tensor undefined;
  reader.for_each_block(block, [&](const EventSet& e, int64_t start) {
    auto row = [&](const torch::Tensor& bad) {
      return std::to_string(start + bad.nonzero()[0][0].item<int64_t>());
    };
    const torch::Tensor finite = torch::isfinite(e.features).all(1);
    if (!finite.all().item<bool>()) throw InputError(reader.path(), "features", "non-finite value in row " + row(~finite));
    const torch::Tensor w = e.weights.to(torch::kFloat64);
    const torch::Tensor bad_w = ~torch::isfinite(w) | (w < 0);
    if (bad_w.any().item<bool>())
      throw InputError(reader.path(), "weights", "non-finite or negative weight in row " + row(bad_w));
    const torch::Tensor y = e.process.to(torch::kLong);
    const torch::Tensor bad_y = (y < 0) | (y >= C);
    if (bad_y.any().item<bool>())
      throw InputError(reader.path(), "process", "label outside 0.." + std::to_string(C - 1) + " in row " + row(bad_y));
    totals.index_add_(0, y, w);
    const torch::Tensor u = (e.features == -25.0f).sum(0).to(torch::kLong);
    undefined = undefined.defined() ? undefined + u : u;
  });
  if (scan.rows == 0) throw InputError(reader.path(), "features", "no events");
  scan.class_totals.assign(totals.data_ptr<double>(), totals.data_ptr<double>() + C);
  for (int64_t c = 0; c < C; ++c)
    if (!(scan.class_totals[c] > 0))
      throw InputError(reader.path(), "process", "class " + std::to_string(c) + " has no events (or zero total weight)");
  scan.indicator_columns = (undefined > 0).sum().item<int64_t>();
  return scan;
}

ClassifierTrainResult train_classifier_streaming(MultiClassifier& clf, const EventReader& reader,
                                                 const ClassifierFileScan& scan, const ClassifierTrainOptions& o,
                                                 const ClassifierStreamOptions& stream, ClassifierStreamReport* report) {
  const int64_t C = clf->options.n_classes();
  const int64_t F = clf->options.n_features();
  if (static_cast<int64_t>(reader.meta().feature_names.size()) != F)
    throw InputError(reader.path(), "features", "the model takes " + std::to_string(F) + " features");
  if (stream.buffer_rows < 1) throw InputError("", "--buffer-rows", "must be positive");
  const int64_t block = effective_block(reader, stream.block_rows);
  ClassifierStreamReport rep;
  rep.block_rows = block;
  rep.buffer_rows = stream.buffer_rows;
  ClassifierTrainResult result;
  result.yields = scan.class_totals;
  clf->process_fractions->set_yields(result.yields);
  // Balanced weight of a row: w / total of its class, times N / sum over
  // rows (the mean is 1), as class_balanced_weights in memory.
  torch::Tensor inverse_total = torch::zeros({C}, torch::kFloat64);
  for (int64_t c = 0; c < C; ++c) inverse_total[c] = 1.0 / scan.class_totals[c];
  auto balanced = [&](const EventSet& e) {
    return e.weights.to(torch::kFloat64) * inverse_total.index_select(0, e.process.to(torch::kLong));
  };

  // Pass 2: the normalisation, the training rows' weighted sums per feature
  // and per block, the held-out rows kept.
  const float sentinel = clf->preprocess->sentinel.item<float>();
  double sum_b = 0.0;
  torch::Tensor class_train_weight = torch::zeros({C}, torch::kFloat64);  // balanced, unnormalised
  torch::Tensor sw = torch::zeros({F}, torch::kFloat64), swx = torch::zeros({F}, torch::kFloat64),
                undefined = torch::zeros({F}, torch::kFloat64);
  std::vector<int64_t> block_start, block_train_rows;
  std::vector<double> block_train_weight;
  std::vector<torch::Tensor> xv, yv, bv, wsv, xs, ys, bs, wss;
  reader.for_each_block(block, [&](const EventSet& e, int64_t start) {
    const torch::Tensor b = balanced(e);
    sum_b += b.sum().item<double>();
    const BlockSplit s = split_block(e, start, o);
    const torch::Tensor x = e.features.index_select(0, s.train).to(torch::kFloat64);
    const torch::Tensor defined = (e.features.index_select(0, s.train) != sentinel).to(torch::kFloat64);
    const torch::Tensor wd = b.index_select(0, s.train).unsqueeze(1) * defined;
    sw += wd.sum(0);
    swx += (wd * x).sum(0);
    undefined += (1.0 - defined).sum(0);
    block_start.push_back(start);
    block_train_rows.push_back(s.train.size(0));
    block_train_weight.push_back(b.index_select(0, s.train).sum().item<double>());
    class_train_weight.index_add_(0, e.process.index_select(0, s.train).to(torch::kLong), b.index_select(0, s.train));
    rep.validation_rows += s.validation.size(0);
    rep.test_rows += s.test.size(0);
    auto keep = [&](const torch::Tensor& idx, int64_t& kept, std::vector<torch::Tensor>& xk, std::vector<torch::Tensor>& yk,
                    std::vector<torch::Tensor>& bk, std::vector<torch::Tensor>& wk) {
      const int64_t take = std::min<int64_t>(idx.size(0), stream.held_out_rows - kept);
      if (take <= 0) return;
      const torch::Tensor i = idx.narrow(0, 0, take);
      xk.push_back(e.features.index_select(0, i));
      yk.push_back(e.process.index_select(0, i).to(torch::kLong));
      bk.push_back(b.index_select(0, i));
      wk.push_back(e.weights.index_select(0, i).to(torch::kFloat64));
      kept += take;
    };
    keep(s.validation, rep.validation_rows_kept, xv, yv, bv, wsv);
    keep(s.test, rep.test_rows_kept, xs, ys, bs, wss);
  });
  const double norm = static_cast<double>(scan.rows) / sum_b;
  for (int64_t n : block_train_rows) rep.training_rows += n;
  if (rep.training_rows == 0 || rep.validation_rows_kept == 0)
    throw InputError(reader.path(), "events", "too few events to split into training and validation sets");
  // Pass 3: the variances around the means.
  const torch::Tensor mean = swx / sw.clamp_min(1e-300);
  torch::Tensor squares = torch::zeros({F}, torch::kFloat64);
  reader.for_each_block(block, [&](const EventSet& e, int64_t start) {
    const BlockSplit s = split_block(e, start, o);
    const torch::Tensor xt = e.features.index_select(0, s.train);
    const torch::Tensor wd =
        balanced(e).index_select(0, s.train).unsqueeze(1) * (xt != sentinel).to(torch::kFloat64);
    squares += (wd * (xt.to(torch::kFloat64) - mean).pow(2)).sum(0);
  });
  clf->preprocess->set_moments(mean, squares / sw.clamp_min(1e-300), undefined);

  auto cat = [](const std::vector<torch::Tensor>& v, const torch::Tensor& empty) {
    return v.empty() ? empty : torch::cat(v).contiguous();
  };
  const torch::Tensor no_x = torch::zeros({0, F}), no_y = torch::zeros({0}, torch::kLong),
                      no_w = torch::zeros({0}, torch::kFloat64);
  // Joined one at a time, each list released once joined.
  auto take = [&](std::vector<torch::Tensor>& v, const torch::Tensor& empty) {
    torch::Tensor t = cat(v, empty);
    v.clear();
    v.shrink_to_fit();
    return t;
  };
  ClassifierHeldOut held;
  held.xv = take(xv, no_x);
  held.yv = take(yv, no_y);
  held.wv = take(bv, no_w) * norm;
  held.wv_sim = take(wsv, no_w);
  held.xs = take(xs, no_x);
  held.ys = take(ys, no_y);
  held.ws = take(bs, no_w) * norm;
  held.ws_sim = take(wss, no_w);
  const torch::Tensor wv32 = held.wv.to(torch::kFloat32);
  const double wv_sum = held.wv.sum().item<double>();

  // The buffers of an epoch: blocks in file order when everything fits
  // (loaded once), else shuffled per epoch and grouped up to buffer_rows.
  const int64_t K = static_cast<int64_t>(block_start.size());
  for (int64_t k = 0; k < K; ++k)
    if (block_train_rows[k] > stream.buffer_rows)
      throw InputError("", "--buffer-rows", "smaller than one block's training rows (" + std::to_string(block_train_rows[k]) +
                                                "); give at least that, or a smaller block");
  const bool resident = rep.training_rows <= stream.buffer_rows;
  struct Buffer {
    std::vector<int64_t> blocks;
    int64_t steps = 0;
  };
  std::vector<Buffer> plan;
  size_t next_buffer = 0;
  int64_t steps_left = 0;
  int loaded_epoch = -1;
  torch::Tensor bx, by, bw;
  std::unique_ptr<WeightedRowSampler> sampler;
  const double total_weight = [&] {
    double t = 0;
    for (double w : block_train_weight) t += w;
    return t;
  }();
  auto plan_epoch = [&](int epoch) {
    std::vector<int64_t> order(K);
    for (int64_t k = 0; k < K; ++k) order[k] = k;
    if (!resident) {
      RandomStream rng(stream_seed(o.train.seed, {0xb10c, static_cast<uint64_t>(epoch)}));
      const torch::Tensor key = rng.uniform(K).argsort();
      for (int64_t k = 0; k < K; ++k) order[k] = key[k].item<int64_t>();
    }
    plan.clear();
    double cumulative = 0;
    int64_t assigned = 0, rows = 0;
    for (int64_t k : order) {
      if (plan.empty() || rows + block_train_rows[k] > stream.buffer_rows) {
        plan.push_back({});
        rows = 0;
      }
      plan.back().blocks.push_back(k);
      rows += block_train_rows[k];
      cumulative += block_train_weight[k];
      // Steps in proportion to the training weight, rounded cumulatively.
      const int64_t upto = static_cast<int64_t>(std::floor(o.train.steps_per_epoch * cumulative / total_weight + 0.5));
      plan.back().steps += upto - assigned;
      assigned = upto;
    }
    plan.back().steps += o.train.steps_per_epoch - assigned;
    rep.buffers_per_epoch = static_cast<int64_t>(plan.size());
    next_buffer = 0;
    steps_left = 0;
  };
  auto load = [&](const Buffer& buffer) {
    // The previous buffer goes before the next is read: one in memory.
    sampler.reset();
    bx = by = bw = torch::Tensor();
    // Filled block by block into tensors of the buffer's size (no copies).
    int64_t rows = 0;
    for (int64_t k : buffer.blocks) rows += block_train_rows[k];
    bx = torch::empty({rows, F}, torch::kFloat32);
    by = torch::empty({rows}, torch::kLong);
    bw = torch::empty({rows}, torch::kFloat64);
    int64_t at = 0;
    for (int64_t k : buffer.blocks) {
      const EventSet e = reader.read(block_start[k], block);
      const BlockSplit s = split_block(e, block_start[k], o);
      const int64_t n = s.train.size(0);
      bx.narrow(0, at, n).copy_(e.features.index_select(0, s.train));
      by.narrow(0, at, n).copy_(e.process.index_select(0, s.train));
      bw.narrow(0, at, n).copy_(balanced(e).index_select(0, s.train) * norm);
      at += n;
    }
    if (!resident) {
      // Stratified by class: each class's share of the buffer's weight is
      // made its share in the whole training sample, so that a buffer of
      // blocks from a file ordered by process does not train on one class.
      const torch::Tensor here = torch::zeros({C}, torch::kFloat64).index_add_(0, by, bw);
      const torch::Tensor factor = torch::where(here > 0, class_train_weight / here.clamp_min(1e-300) *
                                                              (here.sum() / class_train_weight.sum()),
                                                torch::zeros_like(here));
      bw = bw * factor.index_select(0, by);
    }
    sampler = std::make_unique<WeightedRowSampler>(bw);
  };

  const int64_t B = o.batch_size;
  TrainingProblem problem;
  problem.samples_per_step = B;
  problem.begin_epoch = [&](int epoch) {
    if (resident && loaded_epoch >= 0) return;  // one buffer, loaded once
    plan_epoch(epoch);
    loaded_epoch = epoch;
  };
  problem.batch_loss = [&](RandomStream& rng) {
    if (!resident || !sampler) {
      while (steps_left == 0) {
        if (next_buffer >= plan.size()) throw std::logic_error("classifier streaming: more steps than planned");
        steps_left = plan[next_buffer].steps;
        if (steps_left > 0) load(plan[next_buffer]);
        ++next_buffer;
      }
      --steps_left;
    }
    return batch_cross_entropy(clf, bx, by, (*sampler)(B, rng), B);
  };
  problem.validation_loss = [&]() { return weighted_cross_entropy_sum(clf, held.xv, held.yv, wv32) / wv_sum; };
  clf->calibration->fitted_flag.fill_(false);
  result.report = train(*clf, problem, o.train);
  if (!result.report.interrupted) calibrate_classifier(clf, held, o, distributed::single_process(), result);
  bx = by = bw = torch::Tensor();
  rep.peak_memory_mib = peak_memory_mib();
  if (report) *report = rep;
  return result;
}

}  // namespace refinery
