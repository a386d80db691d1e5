#include "train/classifier_training.h"

#include <cmath>

#include "models/classifier_ensemble.h"
#include "src/core/block_eval.h"
#include "src/core/error.h"

namespace refinery {

void ClassifierData::validate(const std::string& source, distributed::Collective& group) const {
  if (x.dim() != 2 || y.dim() != 1 || w.dim() != 1 || x.size(0) != y.size(0) || x.size(0) != w.size(0))
    throw InputError(source, "features/labels/weights", "expected [N,F], [N] and [N] with the same N");
  if (distributed::sum(group, static_cast<double>(x.size(0))) == 0) throw InputError(source, "features", "no events");
  if (!torch::isfinite(x).all().item<bool>()) throw InputError(source, "features", "non-finite values");
  if (!torch::isfinite(w).all().item<bool>() || (w < 0).any().item<bool>())
    throw InputError(source, "weights", "non-finite or negative weights");
  const int64_t C = static_cast<int64_t>(class_names.size());
  if (C < 2) throw InputError(source, "process names", "need at least two classes");
  if ((y < 0).any().item<bool>() || (y >= C).any().item<bool>())
    throw InputError(source, "process", "labels outside 0.." + std::to_string(C - 1));
  std::vector<torch::Tensor> per_class_sum{torch::zeros({C}, torch::kFloat64).index_add_(0, y, w.to(torch::kFloat64))};
  group.sum(per_class_sum);
  const torch::Tensor& per_class = per_class_sum[0];
  for (int64_t c = 0; c < C; ++c)
    if (!(per_class[c].item<double>() > 0))
      throw InputError(source, "process", "class '" + class_names[c] + "' has no events (or zero total weight)");
}

torch::Tensor class_balanced_weights(const torch::Tensor& y, const torch::Tensor& w_in, int64_t C,
                                     distributed::Collective& group) {
  torch::Tensor w = w_in.to(torch::kFloat64);
  std::vector<torch::Tensor> per_class{torch::zeros({C}, torch::kFloat64).index_add_(0, y, w)};
  group.sum(per_class);
  torch::Tensor scale = (1.0 / per_class[0].clamp_min(1e-300)).index_select(0, y);
  torch::Tensor b = w * scale;
  std::vector<torch::Tensor> size_and_sum{torch::tensor({static_cast<double>(b.size(0)), b.sum().item<double>()},
                                                        torch::kFloat64)};
  group.sum(size_and_sum);
  return b * (size_and_sum[0][0].item<double>() / size_and_sum[0][1].item<double>());
}

WeightedRowSampler::WeightedRowSampler(const torch::Tensor& w, distributed::Collective& group)
    : cdf_(torch::cumsum(w.to(torch::kFloat64), 0)), alone_(group.size() == 1) {
  own_ = cdf_.size(0) > 0 ? cdf_[-1].item<double>() : 0.0;
  const std::vector<double> totals = distributed::per_rank(group, own_);
  for (int r = 0; r < group.size(); ++r) {
    if (r < group.rank()) offset_ += totals[r];
    total_ += totals[r];
  }
  if (alone_) total_ = own_;
}

torch::Tensor WeightedRowSampler::operator()(int64_t n, RandomStream& rng) const {
  torch::Tensor v = rng.uniform(n) * total_ - offset_;
  if (alone_ && cdf_.size(0) > 0) return torch::searchsorted(cdf_, v).clamp_max(cdf_.size(0) - 1);
  // Draws in this rank's part of the cumulative weight; the last rank also
  // takes those that rounding puts past the total.
  torch::Tensor mine = (v >= 0) & (v < own_);
  if (offset_ + own_ >= total_) mine = mine | (v >= own_);
  v = v.masked_select(mine);
  if (v.numel() == 0 || cdf_.size(0) == 0) return torch::zeros({0}, torch::kLong);
  return torch::searchsorted(cdf_, v).clamp_max(cdf_.size(0) - 1);
}

DataSplit split_by_hash(int64_t n, double vf, double tf, uint64_t salt, int64_t first_row) {
  if (!(vf > 0 && tf >= 0 && vf + tf < 1))
    throw InputError("", "validation/test fraction", "need validation > 0, test >= 0 and their sum < 1");
  std::vector<int64_t> tr, va, te;
  const uint64_t cut_v = static_cast<uint64_t>(vf * 1e6), cut_t = static_cast<uint64_t>((vf + tf) * 1e6);
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t h = splitmix64(salt + static_cast<uint64_t>(first_row + i)) % 1000000ULL;
    (h < cut_v ? va : h < cut_t ? te : tr).push_back(i);
  }
  auto t = [](const std::vector<int64_t>& v) { return torch::tensor(v, torch::kLong); };
  return {t(tr), t(va), t(te)};
}

nlohmann::json ClassifierTrainResult::to_json(const std::vector<std::string>& names) const {
  nlohmann::json j;
  j["training"] = report.to_json();
  j["yields"] = yields;
  j["calibration"] = {{"validation_before", validation_before.to_json(names)},
                      {"validation_after", validation_after.to_json(names)},
                      {"test_before", test_before.to_json(names)},
                      {"test_after", test_after.to_json(names)},
                      {"test_ece_statistical_floor", test_ece_floor},
                      {"test_fractions_before", test_fractions_before.to_json(names)},
                      {"test_fractions_after", test_fractions_after.to_json(names)}};
  if (ensemble.members > 1) j["ensemble"] = ensemble.to_json(names);
  return j;
}

nlohmann::json ClassifierEnsembleReport::to_json(const std::vector<std::string>& names) const {
  nlohmann::json sd;
  for (size_t p = 0; p < names.size() && p < fraction_sd.size(); ++p) sd[names[p]] = fraction_sd[p];
  return {{"members", members},
          {"seeds", seeds},
          {"member_validation_loss", member_validation_loss},
          {"validation_loss", validation_loss},
          {"fraction_sd", sd}};
}

torch::Tensor batch_cross_entropy(MultiClassifier& clf, const torch::Tensor& x, const torch::Tensor& y,
                                  const torch::Tensor& idx, int64_t B) {
  return torch::nn::functional::cross_entropy(clf->forward(x.index_select(0, idx)), y.index_select(0, idx),
                                              torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)) /
         static_cast<double>(B);
}

double weighted_cross_entropy_sum(MultiClassifier& clf, const torch::Tensor& x, const torch::Tensor& y,
                                  const torch::Tensor& w32) {
  torch::Tensor logp =
      evaluate_in_blocks(x, 2048, [&](const torch::Tensor& xb) { return torch::log_softmax(clf->forward(xb), 1); });
  return -(logp.gather(1, y.unsqueeze(1)).squeeze(1) * w32).sum().item<double>();
}

torch::Tensor classifier_raw_probabilities(MultiClassifier& clf, const torch::Tensor& x) {
  clf->eval();
  return evaluate_in_blocks(x, 2048, [&](const torch::Tensor& xb) { return clf->raw_probabilities(xb); });
}


ClassifierTrainResult train_classifier(MultiClassifier& clf, const ClassifierData& d, const ClassifierTrainOptions& o) {
  distributed::Collective& group = o.train.group ? *o.train.group : distributed::single_process();
  d.validate("training data", group);
  const int64_t C = clf->options.n_classes();
  if (static_cast<int64_t>(d.class_names.size()) != C)
    throw InputError("", "classes", "the model has " + std::to_string(C) + " classes, the data " +
                                        std::to_string(d.class_names.size()));
  if (d.x.size(1) != clf->options.n_features())
    throw InputError("", "features", "the model takes " + std::to_string(clf->options.n_features()) +
                                         " features, the data have " + std::to_string(d.x.size(1)));
  ClassifierTrainResult result;
  std::vector<torch::Tensor> per_class{torch::zeros({C}, torch::kFloat64).index_add_(0, d.y, d.w.to(torch::kFloat64))};
  group.sum(per_class);
  result.yields.assign(per_class[0].data_ptr<double>(), per_class[0].data_ptr<double>() + C);

  const DataSplit split = split_by_hash(d.x.size(0), o.validation_fraction, o.test_fraction, 0xc1a55000ULL, d.first_row);
  if (distributed::sum(group, static_cast<double>(split.train.size(0))) == 0 ||
      distributed::sum(group, static_cast<double>(split.validation.size(0))) == 0)
    throw InputError("", "events", "too few events to split into training and validation sets");
  const torch::Tensor wb = class_balanced_weights(d.y, d.w, C, group);
  auto rows = [](const torch::Tensor& t, const torch::Tensor& i) { return t.index_select(0, i).contiguous(); };
  const torch::Tensor xt = rows(d.x, split.train), yt = rows(d.y, split.train), wt = rows(wb, split.train);
  const torch::Tensor xv = rows(d.x, split.validation), yv = rows(d.y, split.validation),
                      wv = rows(wb, split.validation);
  const WeightedRowSampler sampler(wt, group);  // rows drawn proportionally to their balanced weight
  const int64_t B = o.batch_size;
  const torch::Tensor wv32 = wv.to(torch::kFloat32);
  const double wv_sum = distributed::sum(group, wv.sum().item<double>());
  auto validation_loss = [&](MultiClassifier& net) {
    const double own = xv.size(0) > 0 ? weighted_cross_entropy_sum(net, xv, yv, wv32) : 0.0;
    return distributed::sum(group, own) / wv_sum;
  };

  const int M = o.members;
  if (M < 1) throw InputError("", "members", "an ensemble needs at least one member, got " + std::to_string(M));
  std::vector<MultiClassifier> trained;
  for (int m = 0; m < M; ++m) {
    const TrainOptions mo = ensemble_member_options(o.train, m, M, 0xc1a5e);
    MultiClassifier member = clf;
    if (m > 0) {
      torch::manual_seed(mo.seed);
      member = MultiClassifier(clf->options);
    }
    // The members share the training rows, hence one standardisation.
    if (m == 0) {
      torch::NoGradGuard g;
      member->preprocess->fit(xt, wt, group);
    } else {
      member->preprocess->copy_from(*clf->preprocess);
    }
    member->process_fractions->set_yields(result.yields);
    TrainingProblem problem;
    problem.samples_per_step = B;
    // The mean cross entropy of the global batch of B draws: this rank's
    // draws' terms over B (the ranks' parts add up to it).
    problem.batch_loss = [&](RandomStream& rng) { return batch_cross_entropy(member, xt, yt, sampler(B, rng), B); };
    problem.validation_loss = [&]() { return validation_loss(member); };
    member->calibration->fitted_flag.fill_(false);
    TrainReport report = train(*member, problem, mo);
    if (m == 0) {
      result.report = report;
    } else {
      result.report.samples += report.samples;
      result.report.seconds += report.seconds;
      result.report.interrupted = report.interrupted;
    }
    if (report.interrupted) return result;
    trained.push_back(member);
    result.ensemble.seeds.push_back(mo.seed);
    result.ensemble.member_validation_loss.push_back(report.best_val_loss);
  }
  if (M > 1) {
    clf = merge_classifier_ensemble(trained);
    torch::NoGradGuard g;
    clf->eval();
    result.ensemble.members = M;
    result.ensemble.validation_loss = validation_loss(clf);
    // The members' spread of the raw fractions per event, on the test events
    // (all ranks'), else the validation events.
    const bool test = distributed::sum(group, static_cast<double>(split.test.size(0))) > 0;
    const torch::Tensor& idx = test ? split.test : split.validation;
    const torch::Tensor xh = rows(d.x, idx), wh = distributed::gather_rows(group, rows(d.w, idx)).to(torch::kFloat64);
    std::vector<torch::Tensor> f;
    for (auto& m : trained)
      f.push_back(distributed::gather_rows(group, m->process_fractions->forward(classifier_raw_probabilities(m, xh))));
    const torch::Tensor sd = torch::stack(f).std(0);  // [N,C], over members
    const torch::Tensor rms = ((sd * sd) * wh.unsqueeze(1)).sum(0).div(wh.sum()).sqrt().contiguous();
    result.ensemble.fraction_sd.assign(rms.data_ptr<double>(), rms.data_ptr<double>() + rms.numel());
  }

  calibrate_classifier(clf, {xv, yv, wv, rows(d.w, split.validation), rows(d.x, split.test), rows(d.y, split.test),
                             rows(wb, split.test), rows(d.w, split.test)},
                       o, group, result);
  return result;
}

void calibrate_classifier(MultiClassifier& clf, const ClassifierHeldOut& h, const ClassifierTrainOptions& o,
                          distributed::Collective& group, ClassifierTrainResult& result) {
  // Calibration of the fractions on the validation events with the
  // simulation weights; diagnostics of g (balanced weights) and of f
  // (simulation weights) on the validation and the test events. With a
  // group, each rank's held-out events are gathered (in rank order, the
  // order of one process).
  torch::NoGradGuard guard;
  auto& fractions = clf->process_fractions;
  auto all = [&](const torch::Tensor& t) { return distributed::gather_rows(group, t); };
  torch::Tensor pv = all(classifier_raw_probabilities(clf, h.xv));
  torch::Tensor fv = fractions->forward(pv);
  const torch::Tensor yv_all = all(h.yv), wv_all = all(h.wv);
  const torch::Tensor wv_sim = all(h.wv_sim);
  clf->calibration->fit(fv, yv_all, wv_sim, o.calibration_bins);
  torch::Tensor fv_cal = clf->calibration->forward(fv);
  result.validation_before = reliability(pv, yv_all, wv_all, o.reliability_bins);
  result.validation_after = reliability(fractions->balanced(fv_cal), yv_all, wv_all, o.reliability_bins);
  if (distributed::sum(group, static_cast<double>(h.xs.size(0))) > 0) {
    const torch::Tensor ys = all(h.ys), ws = all(h.ws), ws_sim = all(h.ws_sim);
    torch::Tensor ps = all(classifier_raw_probabilities(clf, h.xs));
    torch::Tensor fs = fractions->forward(ps), fs_cal = clf->calibration->forward(fs);
    torch::Tensor cs = fractions->balanced(fs_cal);
    result.test_before = reliability(ps, ys, ws, o.reliability_bins);
    result.test_after = reliability(cs, ys, ws, o.reliability_bins);
    result.test_ece_floor = ece_statistical_floor(cs, ws, o.reliability_bins);
    result.test_fractions_before = reliability(fs, ys, ws_sim, o.reliability_bins);
    result.test_fractions_after = reliability(fs_cal, ys, ws_sim, o.reliability_bins);
  }
}

}  // namespace refinery
