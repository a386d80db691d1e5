// Response nuisances: the uncertainty of a learned DCR response, as a
// nuisance of the likelihood (issue 14, item 2: network uncertainty).
//
// A DCR network learns process p's response to a calibration nuisance nu_k
// from finite samples; its linear coefficient a_pk(x) = d log r_p / d nu_k
// at 0 is known only to the accuracy of that training. A response nuisance
// eta (Gaussian, centre 0, width 1) scales it:
//     log r_p(x|nu, eta) = phi(nu) . Delta_p(x) + size * eta * nu_k * a_pk(x)
// for the processes it names, i.e. p's learned response along nu_k is
// (1 + size * eta) times the network's, to first order in nu_k. It has no
// effect at nu_k = 0 (the nominal shapes are the networks') and lets a fit
// whose data sit away from the nominal point absorb a response that is
// `size` too weak or too strong, so that the interval widens where the
// parameter of interest depends on it.
//
// It is carried by the DCR ansatz itself: eta is appended to the calibration
// parameters (after the networks' nuisances), and each event's coefficient
// vector Delta_p(x) of the K-nuisance quadratic ansatz is extended to the
// (K + R)-nuisance one: the product term nu_k eta gets size * a_pk(x), every
// other new term 0. The likelihood, its fused kernels, Asimov data and
// expected yields need nothing else.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace refinery {

struct ResponseNuisance {
  std::string name;
  int of = 0;                  // position of the scaled nuisance among the networks' (ansatz order)
  std::vector<int> processes;  // the processes whose response it scales
  double size = 0.0;           // relative response uncertainty per unit of eta
};

// coef [n, P, C(K)] of the K-nuisance quadratic ansatz -> [n, P, C(K + R)]
// with responses[r] at nuisance position K + r. Float32 in and out.
torch::Tensor extend_coefficients(const torch::Tensor& coef, int K, const std::vector<ResponseNuisance>& responses);

}  // namespace refinery
