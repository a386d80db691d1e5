// SALLY (issue 17 item 3; MadMiner: arXiv:1805.00020, 1805.12244): a network
// regressing the joint score t(x,z|theta_ref) of simulated events on their
// observables x. The mean squared error is minimised by E[t|x] =
// grad_theta log p(x|theta_ref), the score of the observables, so the
// trained network is the locally sufficient summary near theta_ref and
// its second moment gives the Fisher information of the observables:
//     I = L (sigma E[t^ t^T] + grad sigma grad sigma^T / sigma)
// in the extended likelihood (luminosity L, rate sigma(theta_ref)).
// Trained by refinery's one training loop (train/trainer.h).
#pragma once
#include <torch/torch.h>

#include <vector>

#include "models/mlp.h"
#include "train/trainer.h"

namespace refinery {

struct SallyOptions {
  std::vector<int64_t> hidden{64, 64};
  std::string activation = "silu";
  int64_t batch_size = 512;
  double validation_fraction = 0.2;  // the last rows
  TrainOptions train;
};

struct Sally {
  MLP net{nullptr};
  torch::Tensor input_mean, input_inverse_scale;  // float32 [F]
  // The estimated score t^(x) [N,P] (float64) of observables x [N,F].
  torch::Tensor score(const torch::Tensor& x) const;
};

// An ensemble's score: the members' mean [N,P]; `spread`, where given, the
// members' standard deviation per event and component (zero for one);
// `each`, where given, every member's score [M,N,P].
torch::Tensor ensemble_score(const std::vector<Sally>& members, const torch::Tensor& x, torch::Tensor* spread = nullptr,
                             torch::Tensor* each = nullptr);

// x [N,F] observables, t [N,P] joint scores at theta_ref (any floating type).
Sally train_sally(const torch::Tensor& x, const torch::Tensor& t, const SallyOptions& options, TrainReport* report = nullptr);

// I = L (sigma E[t t^T] + grad sigma grad sigma^T / sigma) [P,P] (float64)
// from scores t [N,P] of events drawn at theta_ref.
torch::Tensor fisher_from_score(const torch::Tensor& scores, double sigma, const torch::Tensor& sigma_gradient,
                                double luminosity);

}  // namespace refinery
