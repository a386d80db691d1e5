#include "train/sally.h"

#include "src/core/error.h"

namespace refinery {

torch::Tensor Sally::score(const torch::Tensor& x) const {
  torch::NoGradGuard guard;
  MLP m = net;  // the holder shares the module
  m->eval();
  const torch::Tensor z = (x.to(torch::kFloat32) - input_mean) * input_inverse_scale;
  return m->forward(z).to(torch::kFloat64);
}

torch::Tensor ensemble_score(const std::vector<Sally>& members, const torch::Tensor& x, torch::Tensor* spread,
                             torch::Tensor* each) {
  if (members.empty()) throw std::logic_error("ensemble_score: no members");
  std::vector<torch::Tensor> scores;
  for (const auto& m : members) scores.push_back(m.score(x));
  const torch::Tensor all = torch::stack(scores, 0);
  if (spread) *spread = members.size() > 1 ? all.std(0) : torch::zeros_like(scores.front());
  if (each) *each = all;
  return all.mean(0);
}

Sally train_sally(const torch::Tensor& x_in, const torch::Tensor& t_in, const SallyOptions& o, TrainReport* report) {
  if (x_in.dim() != 2 || t_in.dim() != 2 || x_in.size(0) != t_in.size(0) || x_in.size(0) < 10)
    throw InputError("", "SALLY", "observables [N,F] and joint scores [N,P] of the same events expected");
  if (!torch::isfinite(x_in).all().item<bool>() || !torch::isfinite(t_in).all().item<bool>())
    throw InputError("", "SALLY", "non-finite observable or joint score");
  const torch::Tensor x = x_in.to(torch::kFloat32), t = t_in.to(torch::kFloat32);
  const int64_t N = x.size(0), F = x.size(1), P = t.size(1);
  const int64_t n_val = std::max<int64_t>(1, int64_t(o.validation_fraction * N)), n_train = N - n_val;
  Sally s;
  s.input_mean = x.mean(0);
  s.input_inverse_scale = 1.0 / x.std(0).clamp_min(1e-12);
  const torch::Tensor z = (x - s.input_mean) * s.input_inverse_scale;
  const torch::Tensor zt = z.narrow(0, 0, n_train), tt = t.narrow(0, 0, n_train);
  const torch::Tensor zv = z.narrow(0, n_train, n_val), tv = t.narrow(0, n_train, n_val);
  torch::manual_seed(o.train.seed);
  s.net = MLP(MLPOptions(F, o.hidden, P).activation(o.activation));
  const int64_t B = std::min(o.batch_size, n_train);
  TrainingProblem problem;
  problem.samples_per_step = B;
  problem.batch_loss = [&](RandomStream& rng) {
    const torch::Tensor i = (rng.uniform(B) * n_train).to(torch::kLong).clamp_max(n_train - 1);
    return (s.net->forward(zt.index_select(0, i)) - tt.index_select(0, i)).pow(2).sum(1).mean();
  };
  problem.validation_loss = [&]() { return (s.net->forward(zv) - tv).pow(2).sum(1).mean().item<double>(); };
  TrainOptions to = o.train;
  if (to.label == "train") to.label = "train sally";
  TrainReport r = train(*s.net, problem, to);
  if (report) *report = r;
  return s;
}

torch::Tensor fisher_from_score(const torch::Tensor& scores, double sigma, const torch::Tensor& sigma_gradient,
                                double luminosity) {
  const torch::Tensor t = scores.to(torch::kFloat64);
  const torch::Tensor g = sigma_gradient.to(torch::kFloat64).reshape({-1, 1});
  return luminosity * (sigma * torch::mm(t.t(), t) / double(t.size(0)) + torch::mm(g, g.t()) / sigma);
}

}  // namespace refinery
