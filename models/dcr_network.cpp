#include "models/dcr_network.h"

#include "src/core/error.h"
#include "src/likelihood/dcr_ansatz.h"

namespace refinery {

int64_t dcr_coefficients(int64_t k, int order) {
  if (order == 1) return k;
  if (order == 2) return k + k * (k + 1) / 2;
  throw InputError("", "order", "ansatz order must be 1 (linear) or 2 (quadratic), got " + std::to_string(order));
}

torch::Tensor dcr_phi(const torch::Tensor& nu, int order) { return likelihood::dcr_ansatz(nu, order); }

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
