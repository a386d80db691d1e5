#include "train/ratio_estimator.h"

#include "src/core/error.h"

namespace refinery {

torch::Tensor RatioEstimator::network_output(const torch::Tensor& x, const torch::Tensor& theta) const {
  torch::NoGradGuard guard;
  MLP m = net;
  m->eval();
  const torch::Tensor in = (torch::cat({x.to(torch::kFloat32), theta.to(torch::kFloat32)}, 1) - input_mean) * input_inverse_scale;
  return m->forward(in).squeeze(1).to(torch::kFloat64);
}

torch::Tensor RatioEstimator::log_ratio(const torch::Tensor& x, const torch::Tensor& theta) const {
  const torch::Tensor ref = theta_reference.to(torch::kFloat32).view({1, -1}).expand({x.size(0), theta_reference.numel()});
  return network_output(x, theta) - network_output(x, ref);
}

RatioEstimator train_ratio_estimator(const RatioTrainingData& d, const RatioOptions& o, TrainReport* report) {
  const int64_t N = d.x.size(0), F = d.x.size(1), P = d.theta.size(1);
  if (d.theta.size(0) != N || d.label.size(0) != N || d.joint_log_ratio.size(0) != N || d.joint_score.size(0) != N ||
      d.joint_score.size(1) != P || N < 10)
    throw InputError("", "ratio estimator", "events, theta, joint ratio, joint score and labels of the same events expected");
  if (!d.theta_reference.defined() || d.theta_reference.numel() != P)
    throw InputError("", "ratio estimator", "the reference theta (one value per parameter) is missing");
  RatioEstimator e;
  e.theta_reference = d.theta_reference.to(torch::kFloat32).flatten().clone();
  const torch::Tensor in = torch::cat({d.x.to(torch::kFloat32), d.theta.to(torch::kFloat32)}, 1);
  if (!torch::isfinite(in).all().item<bool>()) throw InputError("", "ratio estimator", "non-finite observable or theta");
  e.input_mean = in.mean(0);
  e.input_inverse_scale = 1.0 / in.std(0).clamp_min(1e-12);
  const torch::Tensor z = (in - e.input_mean) * e.input_inverse_scale;
  // d s / d theta = d s / d z_theta * inverse scale of theta.
  const torch::Tensor theta_scale = e.input_inverse_scale.narrow(0, F, P);
  const torch::Tensor y = d.label.to(torch::kFloat32), lr = d.joint_log_ratio.to(torch::kFloat32).clamp(-30, 30);
  const torch::Tensor score = d.joint_score.to(torch::kFloat32);
  // Soft labels P(drawn at theta_ref | x, z) = 1 / (1 + r(x,z)).
  const torch::Tensor soft = torch::sigmoid(-lr);
  const int64_t n_val = std::max<int64_t>(1, int64_t(o.validation_fraction * N)), n_train = N - n_val;
  torch::manual_seed(o.train.seed);
  e.net = MLP(MLPOptions(F + P, o.hidden, 1).activation("silu"));
  auto loss_of = [&](const torch::Tensor& rows, bool training) {
    torch::Tensor zi = z.index_select(0, rows);
    const bool with_score = (o.loss == RatioLoss::kAlices || o.loss == RatioLoss::kRascal || o.loss == RatioLoss::kCascal) &&
                            o.alpha > 0;
    if (with_score) zi = zi.detach().requires_grad_(true);
    const torch::Tensor s = e.net->forward(zi).squeeze(1);  // log r^
    torch::Tensor loss;
    if (o.loss == RatioLoss::kRascal) {
      loss = (s - lr.index_select(0, rows)).pow(2).mean();
    } else if (o.loss == RatioLoss::kRolr) {
      const torch::Tensor yi = y.index_select(0, rows), li = lr.index_select(0, rows).clamp(-10, 10);
      const torch::Tensor sc = s.clamp(-10, 10);
      loss = (yi * (sc.exp() - li.exp()).pow(2) + (1 - yi) * ((-sc).exp() - (-li).exp()).pow(2)).mean();
    } else {
      // The classifier's logit for "drawn at theta_ref" is -s.
      const torch::Tensor target = o.loss == RatioLoss::kAlices ? soft.index_select(0, rows) : y.index_select(0, rows);
      loss = torch::binary_cross_entropy_with_logits(-s, target);
    }
    if (with_score) {
      const torch::Tensor g = torch::autograd::grad({s.sum()}, {zi}, {}, /*retain_graph=*/true, /*create_graph=*/training)[0];
      const torch::Tensor ds = g.narrow(1, F, P) * theta_scale;
      const torch::Tensor at_theta = (y.index_select(0, rows) < 0.5).to(torch::kFloat32).unsqueeze(1);
      const torch::Tensor err = (ds - score.index_select(0, rows)).pow(2) * at_theta;
      loss = loss + o.alpha * err.sum() / at_theta.sum().clamp_min(1.0);
    }
    return loss;
  };
  const int64_t B = std::min(o.batch_size, n_train);
  TrainingProblem problem;
  problem.samples_per_step = B;
  problem.batch_loss = [&](RandomStream& rng) {
    return loss_of((rng.uniform(B) * n_train).to(torch::kLong).clamp_max(n_train - 1), true);
  };
  problem.validation_loss = [&]() {
    // The score term needs gradients: evaluated with them, then discarded.
    torch::AutoGradMode enable(true);
    return loss_of(torch::arange(n_train, N), false).item<double>();
  };
  TrainOptions to = o.train;
  if (to.label == "train") to.label = "train ratio";
  TrainReport r = train(*e.net, problem, to);
  if (report) *report = r;
  return e;
}

}  // namespace refinery
