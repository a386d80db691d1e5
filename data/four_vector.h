// Vectorised relativistic kinematics on batches of four-vectors stored as
// tensors [N,4] = (E, px, py, pz) in GeV (float64). Used by the simulators.
#pragma once
#include <torch/types.h>

namespace refinery::kin {

torch::Tensor from_pt_eta_phi_m(const torch::Tensor& pt, const torch::Tensor& eta,
                                const torch::Tensor& phi, const torch::Tensor& m);
torch::Tensor pt(const torch::Tensor& p);
torch::Tensor eta(const torch::Tensor& p);  // pseudorapidity; +-10 along the beam
torch::Tensor phi(const torch::Tensor& p);
torch::Tensor mass(const torch::Tensor& p);  // sqrt(max(E^2 - |p|^2, 0))
// Lorentz boost of p by the velocity of frame f (both [N,4]): p measured in
// f's rest frame goes to the lab.
torch::Tensor boost_to_lab(const torch::Tensor& p, const torch::Tensor& f);
// Two-body decay of `parent` (lab) into masses m1, m2 ([N] or broadcast),
// daughter 1 emitted at polar angle acos(cos_theta) and azimuth phi in the
// parent's rest frame (uniform cos_theta and phi: isotropic). Returns the two
// daughters in the lab.
std::pair<torch::Tensor, torch::Tensor> two_body_decay(const torch::Tensor& parent,
                                                        const torch::Tensor& m1,
                                                        const torch::Tensor& m2,
                                                        const torch::Tensor& cos_theta,
                                                        const torch::Tensor& phi);
// Wraps angles into [-pi, pi).
torch::Tensor wrap_phi(const torch::Tensor& phi);

}  // namespace refinery::kin
