// MadMiner's Gaussian simulator with a latent variable (arXiv:1805.00020):
//   z ~ N(theta, 2),  x ~ N(z, 1)   =>  x ~ N(theta, sqrt(5))
// The latent z makes the joint likelihood ratio and joint score available
// per event ("augmented data"), while the marginal ones are known exactly:
//   joint log r(x,z|theta0,theta1) = log N(z|theta0,2) - log N(z|theta1,2)
//   joint score t(x,z|theta)       = (z - theta) / 4
//   marginal log r(x|theta0,theta1) = log N(x|theta0,sqrt5) - log N(x|theta1,sqrt5)
//   marginal score t(x|theta)       = (x - theta) / 5
#pragma once
#include <cstdint>

#include <torch/types.h>

#include "src/io/event_set.h"

namespace refinery::analytic {

struct GaussianLatent {
  static constexpr double kSigmaZ = 2.0, kSigmaX = 1.0;

  struct Sample {
    torch::Tensor x, z;  // float64 [N]
  };
  static Sample sample(double theta, int64_t n, torch::Generator& gen);
  static torch::Tensor log_pdf(const torch::Tensor& x, double theta);
  static torch::Tensor joint_log_ratio(const torch::Tensor& z, double theta0, double theta1);
  static torch::Tensor joint_score(const torch::Tensor& z, double theta);
  static torch::Tensor log_ratio(const torch::Tensor& x, double theta0, double theta1);
  static torch::Tensor score(const torch::Tensor& x, double theta);
  // Events at theta: features [x], nuisances column [theta], weights 1/N.
  static EventSet events(const Sample& s, double theta);
  static EventMeta meta();
};

}  // namespace refinery::analytic
