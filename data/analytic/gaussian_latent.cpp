#include "data/analytic/gaussian_latent.h"

#include <torch/torch.h>

#include <cmath>

#include "src/core/float64.h"

namespace refinery::analytic {

namespace {
torch::Tensor gauss_log_pdf(const torch::Tensor& v, double mean, double sd) {
  return -0.5 * ((v - mean) / sd).pow(2) - std::log(sd) - 0.5 * std::log(2.0 * M_PI);
}
}  // namespace

GaussianLatent::Sample GaussianLatent::sample(double theta, int64_t n, torch::Generator& gen) {
  Sample s;
  s.z = theta + kSigmaZ * torch::randn({n}, gen, kF64);
  s.x = s.z + kSigmaX * torch::randn({n}, gen, kF64);
  return s;
}

torch::Tensor GaussianLatent::log_pdf(const torch::Tensor& x, double theta) {
  return gauss_log_pdf(x.to(torch::kFloat64), theta, std::sqrt(kSigmaZ * kSigmaZ + kSigmaX * kSigmaX));
}

torch::Tensor GaussianLatent::joint_log_ratio(const torch::Tensor& z, double t0, double t1) {
  return gauss_log_pdf(z, t0, kSigmaZ) - gauss_log_pdf(z, t1, kSigmaZ);
}

torch::Tensor GaussianLatent::joint_score(const torch::Tensor& z, double theta) {
  return (z - theta) / (kSigmaZ * kSigmaZ);
}

torch::Tensor GaussianLatent::log_ratio(const torch::Tensor& x, double t0, double t1) {
  return log_pdf(x, t0) - log_pdf(x, t1);
}

torch::Tensor GaussianLatent::score(const torch::Tensor& x, double theta) {
  return (x.to(torch::kFloat64) - theta) / (kSigmaZ * kSigmaZ + kSigmaX * kSigmaX);
}

EventSet GaussianLatent::events(const Sample& s, double theta) {
  const int64_t n = s.x.size(0);
  EventSet e;
  e.features = s.x.to(torch::kFloat32).unsqueeze(1);
  e.weights = torch::full({n}, n ? 1.0 / n : 0.0, kF64);
  e.process = torch::zeros({n}, torch::kInt32);
  e.nuisances = torch::full({n, 1}, static_cast<float>(theta));
  return e;
}

EventMeta GaussianLatent::meta() {
  EventMeta m;
  m.feature_names = {"x"};
  m.process_names = {"gaussian"};
  m.nuisance_names = {"theta"};
  m.generator = "gaussian_latent";
  m.generator_version = "1.0";
  return m;
}

}  // namespace refinery::analytic
