#include "train/estimator_export.h"

#include <sstream>

#include "models/torchscript_export.h"
#include "src/core/eigen_tensor.h"

namespace refinery {

namespace {

// The layers' weights as parameters w<i>, b<i> and the source of the stack on h.
std::string register_layers(torch::jit::Module& m, const MLP& net) {
  const auto& layers = net->layers;
  for (size_t i = 0; i < layers.size(); ++i) {
    m.register_parameter("w" + std::to_string(i), layers[i]->weight.detach().clone(), false);
    m.register_parameter("b" + std::to_string(i), layers[i]->bias.detach().clone(), false);
  }
  return torchscript_layers_source(layers.size(), net->options.activation());
}

}  // namespace

torch::jit::Module sally_to_torchscript(const Sally& sally) {
  torch::jit::Module m("RefinerySally");
  torch::NoGradGuard guard;
  m.register_buffer("mean", sally.input_mean.detach().clone());
  m.register_buffer("inv_std", sally.input_inverse_scale.detach().clone());
  std::ostringstream src;
  src << "def forward(self, x: Tensor) -> Tensor:\n"
      << "    h = (x.float() - self.mean) * self.inv_std\n"
      << register_layers(m, sally.net) << "    return h.double()\n";
  m.define(src.str());
  return m;
}

torch::jit::Module ratio_estimator_to_torchscript(const RatioEstimator& e) {
  torch::jit::Module m("RefineryRatioEstimator");
  torch::NoGradGuard guard;
  m.register_buffer("mean", e.input_mean.detach().clone());
  m.register_buffer("inv_std", e.input_inverse_scale.detach().clone());
  m.register_buffer("theta_reference", e.theta_reference.detach().to(torch::kFloat64).clone());
  std::ostringstream src;
  const std::string layers = register_layers(m, e.net);
  if (!e.morphing) {
    src << "def network_output(self, x: Tensor, theta: Tensor) -> Tensor:\n"
        << "    h = (torch.cat([x.float(), theta.float()], 1) - self.mean) * self.inv_std\n"
        << layers << "    return h.squeeze(1).double()\n\n"
        << "def log_ratio(self, x: Tensor, theta: Tensor) -> Tensor:\n"
        << "    ref = self.theta_reference.view(1, -1).expand(x.size(0), self.theta_reference.size(0))\n"
        << "    return self.network_output(x, theta) - self.network_output(x, ref)\n";
    m.define(src.str());
    return m;
  }
  const MorphingAwareForm& f = *e.morphing;
  const int n = f.morphing.size(), T = f.theory_parameters(), K = f.nuisances;
  torch::Tensor exponents = torch::empty({n, T}, torch::kFloat64);
  for (int j = 0; j < n; ++j)
    for (int p = 0; p < T; ++p) exponents[j][p] = double(f.morphing.exponents()[j][p]);
  m.register_buffer("exponents", exponents);
  m.register_buffer("weight_matrix", to_tensor(f.morphing.weight_matrix()));
  m.register_buffer("sigma_basis", to_tensor(f.basis_cross_sections).view({-1}));
  // The same arithmetic as morphing_aware_log_ratio (train/ratio_estimator.cpp).
  src << "def coefficients(self, x: Tensor) -> Tensor:\n"
      << "    h = (x.float() - self.mean) * self.inv_std\n"
      << layers << "    return h.double().view(x.size(0), " << n << ", " << 1 + 2 * K << ")\n\n"
      << "def weights(self, theta: Tensor) -> Tensor:\n"
      << "    c = torch.prod(torch.pow(theta.double().unsqueeze(1), self.exponents.unsqueeze(0)), 2)\n"
      << "    return torch.mm(c, self.weight_matrix.t())\n\n"
      << "def network_output(self, x: Tensor, p: Tensor) -> Tensor:\n"
      << "    o = self.coefficients(x)\n"
      << "    p = p.double()\n"
      << "    log_rho = o[:, :, 0]\n";
  if (K > 0)
    src << "    nu = p[:, " << T << ":].unsqueeze(1)\n"
        << "    log_rho = log_rho + (o[:, :, 1:" << 1 + K << "] * nu).sum(2) + (o[:, :, " << 1 + K << ":] * nu * nu).sum(2)\n";
  src << "    w = self.weights(p[:, :" << T << "])\n"
      << "    S = (w * torch.exp(torch.clamp(log_rho, -30.0, 30.0))).sum(1)\n"
      << "    sigma = torch.mv(w, self.sigma_basis)\n"
      << "    sigma_ref = torch.dot(self.weights(self.theta_reference[:" << T << "].view(1, -1))[0], self.sigma_basis)\n"
      << "    return torch.log(torch.clamp(S, min=1e-30)) - torch.log(torch.clamp(sigma, min=1e-30) / sigma_ref)\n\n"
      << "def log_ratio(self, x: Tensor, p: Tensor) -> Tensor:\n"
      << "    ref = self.theta_reference.view(1, -1).expand(x.size(0), self.theta_reference.size(0))\n"
      << "    return self.network_output(x, p) - self.network_output(x, ref)\n";
  m.define(src.str());
  return m;
}

}  // namespace refinery
