#include "data/analytic/dcr_toy.h"

#include <torch/torch.h>

#include <cmath>

#include "src/core/float64.h"

namespace refinery::analytic {

DcrToy DcrToy::one_nuisance() {
  DcrToy t;
  t.M = torch::full({1, 1}, 0.5, kF64);
  t.c = torch::full({1}, 0.1, kF64);
  return t;
}

DcrToy DcrToy::three_nuisances() {
  DcrToy t;
  // Mixed shifts: every nuisance moves two coordinates, so the ratio has
  // cross terms nu_i nu_j.
  t.M = torch::tensor({0.5, 0.2, 0.0, 0.0, 0.4, 0.15, 0.1, 0.0, 0.3}, kF64).reshape({3, 3});
  t.c = torch::tensor({0.1, -0.05, 0.02}, kF64);
  return t;
}

torch::Tensor DcrToy::log_ratio(const torch::Tensor& x, const torch::Tensor& nu) const {
  torch::Tensor shift = torch::mv(M, nu.to(torch::kFloat64));
  return (c * nu).sum() + torch::mv(x.to(torch::kFloat64), shift) - 0.5 * shift.pow(2).sum();
}

torch::Tensor DcrToy::log_pdf(const torch::Tensor& x, const torch::Tensor& nu) const {
  torch::Tensor shift = torch::mv(M, nu.to(torch::kFloat64));
  torch::Tensor d = x.to(torch::kFloat64) - shift.unsqueeze(0);
  return -0.5 * d.pow(2).sum(1) - 0.5 * static_cast<double>(dim()) * std::log(2.0 * M_PI);
}

double DcrToy::cross_section(const torch::Tensor& nu) const {
  return sigma0 * std::exp((c * nu.to(torch::kFloat64)).sum().item<double>());
}

torch::Tensor DcrToy::base(int64_t n, torch::Generator& gen) const {
  return torch::randn({n, dim()}, gen, kF64);
}

EventSet DcrToy::sample_at(const torch::Tensor& z, const torch::Tensor& nu) const {
  torch::Tensor nu64 = nu.to(torch::kFloat64);
  const int64_t n = z.size(0);
  EventSet e;
  e.features = (z + torch::mv(M, nu64).unsqueeze(0)).to(torch::kFloat32);
  e.weights = torch::full({n}, n ? cross_section(nu64) / n : 0.0, kF64);
  e.process = torch::zeros({n}, torch::kInt32);
  e.nuisances = nu64.to(torch::kFloat32).unsqueeze(0).expand({n, dim()}).contiguous();
  return e;
}

EventMeta DcrToy::meta() const {
  EventMeta m;
  for (int64_t k = 0; k < dim(); ++k) {
    m.feature_names.push_back("x" + std::to_string(k));
    m.nuisance_names.push_back("nu" + std::to_string(k));
  }
  m.process_names = {"toy"};
  m.generator = dim() == 1 ? "dcr_toy_1d" : "dcr_toy_3d";
  m.generator_version = "1.0";
  return m;
}

}  // namespace refinery::analytic
