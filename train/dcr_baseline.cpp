#include "train/dcr_baseline.h"

namespace refinery {

torch::Tensor PointwiseRatioClassifiers::log_r(const torch::Tensor& x, int64_t point) {
  torch::NoGradGuard guard;
  return nets[point]->forward(preprocess->forward(x)).squeeze(1).to(torch::kFloat64);
}

PointwiseRatioClassifiers train_pointwise_classifiers(const DCRTrainingData& d, std::vector<int64_t> hidden,
                                                      const DCRTrainOptions& o) {
  PointwiseRatioClassifiers out;
  torch::Tensor all_x = torch::cat({d.x0, d.xv});
  out.preprocess = FeaturePreprocessor(d.x0.size(1), count_indicator_columns(all_x));
  out.preprocess->fit(all_x, torch::cat({d.w0, d.wv}));
  const torch::Tensor z0 = out.preprocess->forward(d.x0).detach(), w0 = d.w0.to(torch::kFloat32);
  const int64_t B = o.batch_size, n0 = z0.size(0);
  for (int64_t p = 0; p < d.nu_points.size(0); ++p) {
    torch::Tensor sel = d.point == p;
    const torch::Tensor zk = out.preprocess->forward(d.xv.index({sel})).detach(), wk = d.wv.index({sel}).to(torch::kFloat32);
    const int64_t nk = zk.size(0);
    const double norm = wk.sum().item<double>() + w0.sum().item<double>();
    MLP net(MLPOptions(z0.size(1), hidden, 1));
    TrainingProblem problem;
    problem.samples_per_step = 2 * B;
    problem.batch_loss = [&](RandomStream& rng) {
      torch::Tensor ik = (rng.uniform(B) * nk).to(torch::kLong).clamp_max(nk - 1);
      torch::Tensor i0 = (rng.uniform(B) * n0).to(torch::kLong).clamp_max(n0 - 1);
      torch::Tensor fk = net->forward(zk.index_select(0, ik)).squeeze(1);
      torch::Tensor f0 = net->forward(z0.index_select(0, i0)).squeeze(1);
      torch::Tensor sk = (wk.index_select(0, ik) * torch::softplus(-fk)).sum() * (static_cast<double>(nk) / B);
      torch::Tensor s0 = (w0.index_select(0, i0) * torch::softplus(f0)).sum() * (static_cast<double>(n0) / B);
      return (sk + s0) / norm;
    };
    // No held-out split here: the baseline is only a cross-check.
    problem.validation_loss = [&]() {
      torch::Tensor fk = net->forward(zk).squeeze(1), f0 = net->forward(z0).squeeze(1);
      return ((wk * torch::softplus(-fk)).sum() + (w0 * torch::softplus(f0)).sum()).item<double>() / norm;
    };
    TrainOptions t = o.train;
    t.checkpoint.clear();
    t.resume = false;
    t.seed = stream_seed(o.train.seed, {0xba5e, static_cast<uint64_t>(p)});
    t.label = o.train.label + " baseline point " + std::to_string(p);
    train(*net, problem, t);
    out.nets.push_back(net);
  }
  return out;
}

}  // namespace refinery
