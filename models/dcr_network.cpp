#include "models/dcr_network.h"

#include "src/core/error.h"

namespace refinery {

int64_t dcr_coefficients(int64_t k, int order) {
  if (order == 1) return k;
  if (order == 2) return k + k * (k + 1) / 2;
  throw InputError("", "order", "ansatz order must be 1 (linear) or 2 (quadratic), got " + std::to_string(order));
}

torch::Tensor dcr_phi(const torch::Tensor& nu_in, int order) {
  const bool single = nu_in.dim() == 1;
  torch::Tensor nu = single ? nu_in.unsqueeze(0) : nu_in;
  std::vector<torch::Tensor> cols;
  const int64_t k = nu.size(1);
  for (int64_t i = 0; i < k; ++i) cols.push_back(nu.select(1, i));
  if (order == 2)
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = i; j < k; ++j) cols.push_back(nu.select(1, i) * nu.select(1, j));
  torch::Tensor phi = torch::stack(cols, 1);
  return single ? phi.squeeze(0) : phi;
}

DCRNetworkImpl::DCRNetworkImpl(const DCRNetworkOptions& o) : options(o) {
  dcr_coefficients(o.n_nuisances(), o.order());  // validates the order
  preprocess = register_module("preprocess", FeaturePreprocessor(o.n_features(), o.n_indicators()));
  net = register_module("net", MLP(MLPOptions(o.n_features() + o.n_indicators(), o.hidden(), n_coefficients())
                                       .activation(o.activation())));
}

torch::Tensor DCRNetworkImpl::forward(const torch::Tensor& x) { return net->forward(preprocess->forward(x)); }

torch::Tensor DCRNetworkImpl::log_r(const torch::Tensor& x, const torch::Tensor& nu) {
  torch::Tensor phi = dcr_phi(nu.to(torch::kFloat32), options.order());
  torch::Tensor delta = forward(x);
  if (phi.dim() == 1) return torch::mv(delta, phi);
  return (delta * phi).sum(1);
}

}  // namespace refinery
