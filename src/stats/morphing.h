// Morphing (issue 17 item 2): where a cross section depends polynomially on
// theory parameters theta, as |A_SM + sum_p theta_p A_p|^2 does,
//     dsigma(x|theta) = sum_i c_i(theta) alpha_i(x),
// with c_i(theta) = prod_p theta_p^{k_ip} the monomials of the structure
// (the components) and alpha_i(x) unknown functions. Samples at n basis
// points theta_j (n = the number of components) then give every theta:
//     dsigma(x|theta) = sum_j w_j(theta) dsigma(x|theta_j),
//     w(theta) = (M^-1)^T c(theta),  M_ji = c_i(theta_j),
// so events simulated at the basis points, reweighted by w_j(theta), are
// events at theta (MadMiner: arXiv:1805.00020, 1906.01578). The weights
// are large, and of both signs, where M is badly conditioned: the basis is
// chosen among candidates to keep the expected squared weights
// sum_j w_j(theta)^2 small over the parameter range. LibTorch-free.
#pragma once
#include <Eigen/Dense>

#include <vector>

namespace refinery::stats {

// The monomials of a polynomial structure: every exponent vector k with
// k_p <= max_power[p] for each parameter and sum_p k_p <= max_total, in
// graded lexicographic order (1, theta_1, theta_2, ..., theta_1^2, ...).
std::vector<std::vector<int>> morphing_components(const std::vector<int>& max_power, int max_total);

class Morphing {
 public:
  // basis [n, P] with n = components.size(); std::invalid_argument when the
  // component matrix is singular.
  Morphing(std::vector<std::vector<int>> components, Eigen::MatrixXd basis);

  int parameters() const { return int(basis_.cols()); }
  int size() const { return int(basis_.rows()); }
  const Eigen::MatrixXd& basis() const { return basis_; }
  // c(theta) [n].
  Eigen::VectorXd components(const Eigen::VectorXd& theta) const;
  // w(theta) [n]: dsigma(theta) = sum_j w_j dsigma(theta_j).
  Eigen::VectorXd weights(const Eigen::VectorXd& theta) const;
  // d w_j / d theta_p [n, P] (for the joint score of a morphed sample).
  Eigen::MatrixXd weight_gradient(const Eigen::VectorXd& theta) const;
  // d^2 w_j / d theta_p d theta_q [n].
  Eigen::VectorXd weight_hessian(const Eigen::VectorXd& theta, int p, int q) const;
  // The components' exponents [n][P] and (M^-1)^T, with w = (M^-1)^T c(theta).
  const std::vector<std::vector<int>>& exponents() const { return components_; }
  Eigen::MatrixXd weight_matrix() const { return inverse_.transpose(); }
  // The 2-norm condition number of M.
  double condition() const;
  // The mean of sum_j w_j(theta)^2 over the given points [m, P].
  double mean_squared_weights(const Eigen::MatrixXd& thetas) const;

 private:
  std::vector<std::vector<int>> components_;
  Eigen::MatrixXd basis_;
  Eigen::MatrixXd matrix_, inverse_;  // M and M^-1
};

// A basis from `candidates` [c, P] (c >= n): greedy, then improved by
// single swaps, minimising mean_squared_weights over `thetas` [m, P].
Morphing optimise_morphing_basis(const std::vector<std::vector<int>>& components, const Eigen::MatrixXd& candidates,
                                 const Eigen::MatrixXd& thetas);

}  // namespace refinery::stats
