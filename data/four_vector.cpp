#include "data/four_vector.h"

#include <torch/torch.h>

#include <cmath>

namespace refinery::kin {

using torch::indexing::Slice;

torch::Tensor from_pt_eta_phi_m(const torch::Tensor& pt, const torch::Tensor& eta,
                                const torch::Tensor& phi, const torch::Tensor& m) {
  torch::Tensor px = pt * torch::cos(phi), py = pt * torch::sin(phi), pz = pt * torch::sinh(eta);
  torch::Tensor e = torch::sqrt(px * px + py * py + pz * pz + m * m);
  return torch::stack({e, px, py, pz}, 1);
}

torch::Tensor pt(const torch::Tensor& p) {
  torch::Tensor px = p.select(1, 1), py = p.select(1, 2);
  return torch::sqrt(px * px + py * py);
}

torch::Tensor eta(const torch::Tensor& p) {
  torch::Tensor t = pt(p);
  return torch::asinh(p.select(1, 3) / t.clamp_min(1e-9)).clamp(-10.0, 10.0);
}

torch::Tensor phi(const torch::Tensor& p) { return torch::atan2(p.select(1, 2), p.select(1, 1)); }

torch::Tensor mass(const torch::Tensor& p) {
  torch::Tensor p2 = p.index({Slice(), Slice(1, 4)}).pow(2).sum(1);
  return torch::sqrt((p.select(1, 0).pow(2) - p2).clamp_min(0.0));
}

torch::Tensor boost_to_lab(const torch::Tensor& p, const torch::Tensor& f) {
  torch::Tensor b = f.index({Slice(), Slice(1, 4)}) / f.select(1, 0).unsqueeze(1);  // velocity
  torch::Tensor b2 = b.pow(2).sum(1).clamp_max(1.0 - 1e-15);
  torch::Tensor gamma = 1.0 / torch::sqrt(1.0 - b2);
  torch::Tensor e = p.select(1, 0);
  torch::Tensor pv = p.index({Slice(), Slice(1, 4)});
  torch::Tensor bp = (b * pv).sum(1);
  torch::Tensor coef = torch::where(b2 > 0, (gamma - 1.0) / b2, torch::zeros_like(b2));
  torch::Tensor e_lab = gamma * (e + bp);
  torch::Tensor p_lab = pv + (coef * bp + gamma * e).unsqueeze(1) * b;
  return torch::cat({e_lab.unsqueeze(1), p_lab}, 1);
}

std::pair<torch::Tensor, torch::Tensor> two_body_decay(const torch::Tensor& parent,
                                                        const torch::Tensor& m1,
                                                        const torch::Tensor& m2,
                                                        const torch::Tensor& cos_t,
                                                        const torch::Tensor& phi_) {
  const int64_t n = parent.size(0);
  torch::Tensor M = mass(parent);
  torch::Tensor a = m1.expand({n}), b = m2.expand({n});
  // Momentum of either daughter in the parent's rest frame (Kallen function).
  torch::Tensor lam = (M * M - (a + b).pow(2)) * (M * M - (a - b).pow(2));
  torch::Tensor q = torch::sqrt(lam.clamp_min(0.0)) / (2.0 * M.clamp_min(1e-9));
  torch::Tensor sin_t = torch::sqrt((1.0 - cos_t * cos_t).clamp_min(0.0));
  torch::Tensor dir = torch::stack({sin_t * torch::cos(phi_), sin_t * torch::sin(phi_), cos_t}, 1);
  torch::Tensor p1 = q.unsqueeze(1) * dir;
  torch::Tensor e1 = torch::sqrt(q * q + a * a), e2 = torch::sqrt(q * q + b * b);
  torch::Tensor d1 = torch::cat({e1.unsqueeze(1), p1}, 1);
  torch::Tensor d2 = torch::cat({e2.unsqueeze(1), -p1}, 1);
  return {boost_to_lab(d1, parent), boost_to_lab(d2, parent)};
}

torch::Tensor wrap_phi(const torch::Tensor& phi) {
  return phi - 2.0 * M_PI * torch::floor((phi + M_PI) / (2.0 * M_PI));
}

}  // namespace refinery::kin
