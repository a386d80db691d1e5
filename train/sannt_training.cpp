#include "train/sannt_training.h"

#include <cmath>

#include "src/core/error.h"
#include "src/stats/template_model.h"
#include "train/classifier_training.h"

namespace refinery {

void SanntData::validate(const BinnedTemplateModel& model, const std::string& source) const {
  const int64_t P = static_cast<int64_t>(model.options().processes.size());
  const int64_t K = static_cast<int64_t>(model.options().shapes.size());
  std::vector<int> nominal(P, 0), up(K, 0), down(K, 0);
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    const std::string where = "sample " + std::to_string(i);
    if (s.process < 0 || s.process >= P) throw InputError(source, where, "process index out of range");
    if (s.variation < -1 || s.variation >= 2 * K) throw InputError(source, where, "variation index out of range");
    if (s.x.dim() != 2 || s.w.dim() != 1 || s.x.size(0) != s.w.size(0) || s.x.size(0) == 0)
      throw InputError(source, where, "features [N,F] and weights [N] with N > 0 expected");
    if (!torch::isfinite(s.x).all().item<bool>() || !torch::isfinite(s.w).all().item<bool>())
      throw InputError(source, where, "non-finite features or weights");
    if (s.variation == -1) ++nominal[s.process];
    else (s.variation % 2 == 0 ? up : down)[s.variation / 2]++;
  }
  for (int64_t p = 0; p < P; ++p)
    if (nominal[p] != 1)
      throw InputError(source, "process " + model.options().processes[p],
                       std::to_string(nominal[p]) + " nominal samples (exactly one needed)");
  for (int64_t k = 0; k < K; ++k)
    if (up[k] == 0)
      throw InputError(source, "nuisance " + model.options().shapes[k].name, "no up variation sample");
  if (signal_process < 0 || signal_process >= P) throw InputError(source, "signal process", "index out of range");
}

Templates sannt_templates(MultiClassifier& net, const SanntData& data, const BinnedTemplateModel& model,
                          const std::vector<torch::Tensor>& rows, const SanntOptions& o, bool surrogate) {
  const int64_t P = static_cast<int64_t>(model.options().processes.size());
  const int64_t K = static_cast<int64_t>(model.options().shapes.size());
  const HistogramOptions ho = HistogramOptions(o.bins, 0.0, 1.0).width(o.kernel_width).kernel(o.kernel);
  std::vector<torch::Tensor> nominal(P);
  std::vector<std::vector<torch::Tensor>> up(K, std::vector<torch::Tensor>(P)), down = up;
  for (size_t i = 0; i < data.samples.size(); ++i) {
    const SanntSample& s = data.samples[i];
    torch::Tensor x = s.x.index_select(0, rows[i]);
    torch::Tensor w = s.w.index_select(0, rows[i]).to(torch::kFloat64);
    w = w * (s.w.sum() / w.sum().clamp_min(1e-300)).item<double>();  // the subset stands for the sample
    torch::Tensor h;
    if (o.summary == SanntSummary::kSoftmaxBins) {
      torch::Tensor logits = net->forward(x);
      h = surrogate ? torch::mv(torch::softmax(logits.to(torch::kFloat64) / o.temperature, 1).t(), w)
                    : softmax_histogram(logits, w, o.temperature);
    } else if (o.summary == SanntSummary::kClassBins) {
      h = multiclass_histogram(torch::softmax(net->forward(x), 1), w, o.bins, o.kernel_width, o.kernel, surrogate);
    } else {
      torch::Tensor score = torch::softmax(net->forward(x), 1).select(1, data.signal_process);
      h = surrogate ? surrogate_histogram(score, w, ho) : histogram(score, w, ho);
    }
    if (s.variation < 0) nominal[s.process] = h;
    else (s.variation % 2 == 0 ? up : down)[s.variation / 2][s.process] = h;
  }
  Templates t;
  t.nominal = torch::stack(nominal);
  std::vector<torch::Tensor> ups, downs;
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t p = 0; p < P; ++p) {
      if (!up[k][p].defined()) up[k][p] = nominal[p];  // nuisance k does not act on p
      // One-sided nuisance (nu >= 0): the down template mirrors the up one.
      if (!down[k][p].defined()) down[k][p] = 2.0 * nominal[p] - up[k][p];
    }
    ups.push_back(torch::stack(up[k]));
    downs.push_back(torch::stack(down[k]));
  }
  t.up = K > 0 ? torch::stack(ups) : torch::zeros({0}, torch::kFloat64);
  t.down = K > 0 ? torch::stack(downs) : torch::zeros({0}, torch::kFloat64);
  return t;
}

nlohmann::json SanntResult::to_json() const {
  return {{"pretrain", pretrain.to_json()}, {"train", train.to_json()},
          {"pretrain_sigma", pretrain_sigma}, {"sigma", sigma},
          {"pretrain_sigma_stat_only", pretrain_sigma_stat}, {"sigma_stat_only", sigma_stat},
          {"validation_cross_entropy", {{"after_pretraining", ce_min}, {"final", ce}}}, {"omega", omega}};
}

namespace {

double loss_value(const BinnedTemplateModel& model, const Templates& t, bool stat_only) {
  return stats::TemplateModel(model, t.nominal, t.up, t.down).poi_uncertainties(stat_only).sum().item<double>();
}

}  // namespace

std::pair<double, double> sannt_sigma(MultiClassifier& net, const SanntData& data, const BinnedTemplateModel& model,
                                      const SanntOptions& o) {
  torch::NoGradGuard guard;
  net->eval();
  std::vector<torch::Tensor> all;
  for (const auto& s : data.samples) all.push_back(torch::arange(s.x.size(0)));
  Templates t = sannt_templates(net, data, model, all, o);
  return {loss_value(model, t, false), loss_value(model, t, true)};
}

SanntResult train_sannt(MultiClassifier& net, const SanntData& data, const BinnedTemplateModel& model,
                        const SanntOptions& o, const std::function<void()>& after_pretrain) {
  data.validate(model, "SANNT data");
  const int64_t P = static_cast<int64_t>(model.options().processes.size());
  const int64_t outputs = o.summary == SanntSummary::kSoftmaxBins ? o.bins : o.summary == SanntSummary::kClassBins ? P : 2;
  if (net->options.n_classes() != outputs)
    throw InputError("", "SANNT network", std::to_string(outputs) + " outputs expected, the network has " +
                                              std::to_string(net->options.n_classes()));
  if (o.summary == SanntSummary::kSoftmaxBins && o.pretrain.epochs > 0)
    throw InputError("", "SANNT", "cross-entropy pretraining needs a score or class summary");
  if (o.ce_constraint_batch > 0 && o.summary != SanntSummary::kClassBins)
    throw InputError("", "SANNT", "the cross-entropy constraint belongs to the multiclass summary");
  std::vector<torch::Tensor> train_rows, val_rows;
  for (size_t i = 0; i < data.samples.size(); ++i) {
    const int64_t n = data.samples[i].x.size(0);
    const DataSplit split = split_by_hash(n, o.validation_fraction, 0.0, 0x5a77000ULL + 7919ULL * i);
    train_rows.push_back(split.train);
    val_rows.push_back(split.validation);
    if (train_rows.back().size(0) == 0 || val_rows.back().size(0) == 0)
      throw InputError("", "sample " + std::to_string(i), "too few events to split into training and validation");
  }
  // Pretraining: cross entropy, signal against all other nominal events,
  // class-balanced weights.
  auto nominal_events = [&](const std::vector<torch::Tensor>& rows, torch::Tensor* x, torch::Tensor* y, torch::Tensor* w) {
    std::vector<torch::Tensor> xs, ys, ws;
    for (size_t i = 0; i < data.samples.size(); ++i) {
      const auto& s = data.samples[i];
      if (s.variation != -1) continue;
      xs.push_back(s.x.index_select(0, rows[i]));
      ws.push_back(s.w.index_select(0, rows[i]).to(torch::kFloat64));
      // Two classes (signal, the rest), or every process its own class.
      const int64_t label = o.summary == SanntSummary::kClassBins ? s.process : s.process == data.signal_process ? 0 : 1;
      ys.push_back(torch::full({rows[i].size(0)}, label, torch::kLong));
    }
    *x = torch::cat(xs), *y = torch::cat(ys), *w = class_balanced_weights(*y, torch::cat(ws), outputs);
  };
  torch::Tensor X, Y, W, Xv, Yv, Wv;
  nominal_events(train_rows, &X, &Y, &W);
  nominal_events(val_rows, &Xv, &Yv, &Wv);
  {
    torch::NoGradGuard g;
    net->preprocess->fit(X, W);
  }
  const WeightedRowSampler sampler(W);
  SanntResult result;
  TrainingProblem pre;
  pre.samples_per_step = o.pretrain_batch;
  pre.batch_loss = [&](RandomStream& rng) {
    torch::Tensor idx = sampler(o.pretrain_batch, rng);
    return torch::nn::functional::cross_entropy(net->forward(X.index_select(0, idx)), Y.index_select(0, idx));
  };
  pre.validation_loss = [&]() {  // the weighted cross entropy: a plain classifier as the baseline
    torch::Tensor logp = torch::log_softmax(net->forward(Xv), 1).gather(1, Yv.unsqueeze(1)).squeeze(1);
    return -(logp.to(torch::kFloat64) * Wv).sum().item<double>() / Wv.sum().item<double>();
  };
  if (o.pretrain.epochs > 0) {
    result.pretrain = train(*net, pre, o.pretrain);
    if (result.pretrain.interrupted) return result;
  }
  // sigma and its statistical-only part on the validation rows, exact counts.
  auto evaluate = [&](double* sigma, double* stat) {
    torch::NoGradGuard g;
    net->eval();
    Templates t = sannt_templates(net, data, model, val_rows, o);
    *sigma = loss_value(model, t, false);
    *stat = loss_value(model, t, true);
  };
  evaluate(&result.pretrain_sigma, &result.pretrain_sigma_stat);
  if (after_pretrain) after_pretrain();
  // SANNT stage: full batch of the training rows; for the multiclass
  // constraint the network and the multiplier's rho train together.
  double ce_min;
  {
    torch::NoGradGuard g;
    ce_min = pre.validation_loss();
  }
  struct WithMultiplier : torch::nn::Module {
    explicit WithMultiplier(MultiClassifier n) : net(register_module("net", n)) {
      rho = register_parameter("rho", torch::full({1}, -2.0));
    }
    MultiClassifier net;
    torch::Tensor rho;
  };
  WithMultiplier trained(net);
  const bool constrained = o.ce_constraint_batch > 0;
  TrainingProblem sannt;
  int64_t n_train = 0;
  for (const auto& r : train_rows) n_train += r.size(0);
  sannt.samples_per_step = n_train;
  sannt.batch_loss = [&](RandomStream& rng) {
    Templates t;
    try {
      // Training on the surrogate histogram itself (soft_forward, INFERNO's
      // choice): with hard counts forward and the surrogate gradient backward
      // the softmax summary collapsed into one bin (docs/sannt.md).
      // Validation and evaluation count hard.
      t = sannt_templates(net, data, model, train_rows, o, o.soft_forward);
    } catch (const InputError&) {  // non-finite network outputs: the trainer reports where
      return torch::full({}, NAN, torch::kFloat64);
    }
    torch::Tensor loss = stats::TemplateModel(model, t.nominal, t.up, t.down).poi_uncertainties(o.stat_only).sum();
    if (!constrained) return loss;
    torch::Tensor idx = sampler(static_cast<int64_t>(o.ce_constraint_batch), rng);
    torch::Tensor ce = torch::nn::functional::cross_entropy(net->forward(X.index_select(0, idx)), Y.index_select(0, idx));
    torch::Tensor excess = torch::relu(ce.to(torch::kFloat64) - ce_min);
    torch::Tensor omega = torch::softplus(trained.rho.to(torch::kFloat64)).squeeze(0);
    // Value sigma + omega * excess; gradients: the network descends on
    // omega * excess, rho ascends (its gradient is reversed).
    return loss + omega.detach() * excess - omega * excess.detach() + (omega * excess).detach();
  };
  sannt.validation_loss = [&]() {
    return loss_value(model, sannt_templates(net, data, model, val_rows, o), o.stat_only);
  };
  if (o.train.epochs > 0) {
    TrainOptions stage = o.train;
    stage.validate_initial = true;  // never end worse than the pretrained network
    result.train = train(trained, sannt, stage);
    if (result.train.interrupted) return result;
  }
  evaluate(&result.sigma, &result.sigma_stat);
  result.omega = constrained ? torch::softplus(trained.rho).item<double>() : 0.0;
  result.ce_min = ce_min;
  {
    torch::NoGradGuard g;
    result.ce = pre.validation_loss();
  }
  return result;
}

}  // namespace refinery
