#include "train/estimator_export.h"

#include <cmath>
#include <iomanip>
#include <sstream>

#include "models/torchscript_export.h"
#include "src/core/eigen_tensor.h"

namespace refinery {

namespace {

// Member k's standardisation and layers as buffers mean_m<k>, inv_std_m<k>
// and parameters w<i>_m<k>, b<i>_m<k>; returns the source of the stack on h.
std::string register_member(torch::jit::Module& m, const MLP& net, const torch::Tensor& mean, const torch::Tensor& inv_std,
                            size_t k) {
  const std::string suffix = "_m" + std::to_string(k);
  m.register_buffer("mean" + suffix, mean.detach().clone());
  m.register_buffer("inv_std" + suffix, inv_std.detach().clone());
  const auto& layers = net->layers;
  for (size_t i = 0; i < layers.size(); ++i) {
    m.register_parameter("w" + std::to_string(i) + suffix, layers[i]->weight.detach().clone(), false);
    m.register_parameter("b" + std::to_string(i) + suffix, layers[i]->bias.detach().clone(), false);
  }
  return torchscript_layers_source(layers.size(), net->options.activation(), suffix);
}

// "torch.stack([self.<name>_0(args), ...], 0)" over the members.
std::string stack_members(const std::string& name, const std::string& args, size_t members) {
  std::ostringstream os;
  os << "torch.stack([";
  for (size_t k = 0; k < members; ++k) os << (k ? ", " : "") << "self." << name << "_" << k << "(" << args << ")";
  os << "], 0)";
  return os.str();
}

}  // namespace

torch::jit::Module sally_to_torchscript(const std::vector<Sally>& members) {
  if (members.empty()) throw std::logic_error("sally_to_torchscript: no members");
  torch::jit::Module m("RefinerySally");
  torch::NoGradGuard guard;
  std::ostringstream src;
  for (size_t k = 0; k < members.size(); ++k) {
    const std::string layers = register_member(m, members[k].net, members[k].input_mean, members[k].input_inverse_scale, k);
    src << "def member_" << k << "(self, x: Tensor) -> Tensor:\n"
        << "    h = (x.float() - self.mean_m" << k << ") * self.inv_std_m" << k << "\n"
        << layers << "    return h.double()\n\n";
  }
  src << "def member_scores(self, x: Tensor) -> Tensor:\n"
      << "    return " << stack_members("member", "x", members.size()) << "\n\n"
      << "def forward(self, x: Tensor) -> Tensor:\n"
      << "    return self.member_scores(x).mean(0)\n";
  m.define(src.str());
  return m;
}

torch::jit::Module sally_to_torchscript(const Sally& sally) { return sally_to_torchscript(std::vector<Sally>{sally}); }

torch::jit::Module ratio_estimator_to_torchscript(const std::vector<RatioEstimator>& members) {
  if (members.empty()) throw std::logic_error("ratio_estimator_to_torchscript: no members");
  torch::jit::Module m("RefineryRatioEstimator");
  torch::NoGradGuard guard;
  const RatioEstimator& e = members.front();
  m.register_buffer("theta_reference", e.theta_reference.detach().to(torch::kFloat64).clone());
  const std::string M = std::to_string(members.size());
  std::ostringstream src;
  if (!e.morphing) {
    for (size_t k = 0; k < members.size(); ++k) {
      const std::string layers = register_member(m, members[k].net, members[k].input_mean, members[k].input_inverse_scale, k);
      src << "def member_output_" << k << "(self, x: Tensor, theta: Tensor) -> Tensor:\n"
          << "    h = (torch.cat([x.float(), theta.float()], 1) - self.mean_m" << k << ") * self.inv_std_m" << k << "\n"
          << layers << "    return h.squeeze(1).double()\n\n";
    }
    src << "def member_network_outputs(self, x: Tensor, theta: Tensor) -> Tensor:\n"
        << "    return " << stack_members("member_output", "x, theta", members.size()) << "\n\n"
        << "def network_output(self, x: Tensor, theta: Tensor) -> Tensor:\n"
        << "    return self.member_network_outputs(x, theta).mean(0)\n\n"
        << "def member_log_ratios(self, x: Tensor, theta: Tensor) -> Tensor:\n"
        << "    ref = self.theta_reference.view(1, -1).expand(x.size(0), self.theta_reference.size(0))\n"
        << "    return self.member_network_outputs(x, theta) - self.member_network_outputs(x, ref)\n\n"
        << "def log_ratio(self, x: Tensor, theta: Tensor) -> Tensor:\n"
        << "    return self.member_log_ratios(x, theta).mean(0)\n";
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
  if (f.positive_quadratic) {
    // The positive quadratic head (train/ratio_estimator.h): the o channel
    // holds L's lower triangle, row by row, its diagonal as logarithms.
    const int64_t D = T + 1;
    const torch::Tensor idx = torch::tril_indices(D, D, 0, torch::kLong);
    m.register_buffer("tri_flat", (idx[0] * D + idx[1]).contiguous());
    m.register_buffer("on_diagonal", (idx[0] == idx[1]).view({1, -1}).contiguous());
    Eigen::MatrixXd v(n, D);
    v.col(0).setOnes();
    v.rightCols(T) = f.morphing.basis();
    m.register_buffer("basis_vectors", to_tensor(v));
    src << "def head(self, h: Tensor) -> Tensor:\n"
        << "    raw = h[:, :, 0]\n"
        << "    entries = torch.where(self.on_diagonal, torch.exp(torch.clamp(raw, -30.0, 30.0)), raw)\n"
        << "    L = raw.new_zeros([h.size(0), " << D * D << "]).index_copy(1, self.tri_flat, entries)\n"
        << "    rho = torch.matmul(self.basis_vectors, L.view(h.size(0), " << D << ", " << D << ")).pow(2).sum(-1)\n"
        << "    log_rho = torch.log(torch.clamp(rho, min=1e-300)).unsqueeze(2)\n"
        << (K > 0 ? "    return torch.cat([log_rho, h[:, :, 1:]], 2)\n\n" : "    return log_rho\n\n");
  }
  for (size_t k = 0; k < members.size(); ++k) {
    const std::string layers = register_member(m, members[k].net, members[k].input_mean, members[k].input_inverse_scale, k);
    src << "def member_coefficients_" << k << "(self, x: Tensor) -> Tensor:\n"
        << "    h = (x.float() - self.mean_m" << k << ") * self.inv_std_m" << k << "\n"
        << layers << "    h = h.double().view(x.size(0), " << n << ", " << 1 + 2 * K << ")\n"
        << (f.positive_quadratic ? "    return self.head(h)\n\n" : "    return h\n\n");
  }
  // The same arithmetic as morphing_aware_log_ratio (train/ratio_estimator.cpp);
  // the ensemble's coefficients are the members' mean (one cache, the ansatz kept).
  src << "def member_coefficients(self, x: Tensor) -> Tensor:\n"
      << "    return " << stack_members("member_coefficients", "x", members.size()) << "\n\n"
      << "def coefficients(self, x: Tensor) -> Tensor:\n";
  if (f.positive_quadratic) {
    src << "    c = self.member_coefficients(x)\n"
        << "    o = (torch.logsumexp(c[:, :, :, 0], 0) - " << std::setprecision(17) << std::log(double(members.size()))
        << ").unsqueeze(2)\n"
        << (K > 0 ? "    return torch.cat([o, c[:, :, :, 1:].mean(0)], 2)\n\n" : "    return o\n\n");
  } else {
    src << "    return self.member_coefficients(x).mean(0)\n\n";
  }
  src
      << "def weights(self, theta: Tensor) -> Tensor:\n"
      << "    c = torch.prod(torch.pow(theta.double().unsqueeze(1), self.exponents.unsqueeze(0)), 2)\n"
      << "    return torch.mm(c, self.weight_matrix.t())\n\n"
      << "def ratio_from_coefficients(self, o: Tensor, p: Tensor) -> Tensor:\n"
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
      << "def network_output(self, x: Tensor, p: Tensor) -> Tensor:\n"
      << "    return self.ratio_from_coefficients(self.coefficients(x), p)\n\n"
      << "def log_ratio(self, x: Tensor, p: Tensor) -> Tensor:\n"
      << "    o = self.coefficients(x)\n"
      << "    ref = self.theta_reference.view(1, -1).expand(x.size(0), self.theta_reference.size(0))\n"
      << "    return self.ratio_from_coefficients(o, p) - self.ratio_from_coefficients(o, ref)\n\n"
      << "def member_log_ratios(self, x: Tensor, p: Tensor) -> Tensor:\n"
      << "    oo = self.member_coefficients(x)\n"
      << "    ref = self.theta_reference.view(1, -1).expand(x.size(0), self.theta_reference.size(0))\n"
      << "    out: List[Tensor] = []\n"
      << "    for k in range(" << M << "):\n"
      << "        out.append(self.ratio_from_coefficients(oo[k], p) - self.ratio_from_coefficients(oo[k], ref))\n"
      << "    return torch.stack(out, 0)\n";
  m.define(src.str());
  return m;
}

torch::jit::Module ratio_estimator_to_torchscript(const RatioEstimator& e) {
  return ratio_estimator_to_torchscript(std::vector<RatioEstimator>{e});
}

}  // namespace refinery
