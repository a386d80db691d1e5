// Simplified likelihood (issue 18 item 4): a counting experiment in n
// signal-region bins whose background is summarised by its first moments,
// the form of CMS-NOTE-2017-001 and its skewed extension (Buckley et al.,
// "The Simplified Likelihood Framework", arXiv:1809.05548, section 2):
//
//   n_i ~ Poisson(mu s_i + b_i(theta)),   theta ~ N(0, rho),
//   b_i(theta) = a_i + b_i theta_i + c_i theta_i^2,
//
// with a, b, c and the correlation rho chosen so that b(theta) has the
// background's mean m1, covariance m2 and diagonal third central moments
// m3 (skewed_background below). Without third moments c = 0 and b(theta)
// is the multivariate Gaussian N(m1, m2).
//
// The correlated theta is written theta = L eta with L the Cholesky factor
// of rho and eta_j independent N(0, 1) parameters: the model's constraints
// are then ordinary Gaussian ones (constraint.h), so Asimov data, toys,
// impacts and combinations treat them like any other nuisance. eta_j first
// enters bin j (L is lower triangular); it is named after that bin.
#pragma once
#include <Eigen/Dense>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/stats/model.h"

namespace refinery::stats {

// What a simplified-likelihood JSON file holds (docs/simplified_likelihood.md).
struct SimplifiedLikelihoodSpec {
  std::string file;                  // for messages
  std::vector<std::string> bins;     // names, one per signal-region bin
  Eigen::VectorXd observed;          // n
  Eigen::VectorXd signal;            // s: the signal's yields at mu = 1
  Eigen::VectorXd background;        // m1: expected background
  Eigen::MatrixXd covariance;        // m2: the background's covariance
  Eigen::VectorXd third_moments;     // m3 (empty: a Gaussian background)
  std::string poi = "mu";
  double poi_lower = 0.0, poi_upper = 10.0;
  std::string nuisance_prefix;       // prepended to the nuisances' names
};

// True for a JSON document in this form (its "simplified_likelihood" key).
bool is_simplified_likelihood(const nlohmann::json& document);
// Reads and checks the form; InputError naming the file and field.
SimplifiedLikelihoodSpec read_simplified_likelihood(const nlohmann::json& document, const std::string& file);

// The coefficients of b_i(theta) and the correlation rho from the moments
// (arXiv:1809.05548, eqs. 2.8-2.12):
//   c_i = -sign(m3_i) sqrt(2 m2_ii) cos(4 pi / 3 + atan(sqrt(8 m2_ii^3 / m3_i^2 - 1)) / 3),
//   b_i = sqrt(m2_ii - 2 c_i^2),   a_i = m1_i - c_i,
//   rho_ij = (sqrt((b_i b_j)^2 + 8 c_i c_j m2_ij) - b_i b_j) / (4 c_i c_j)   (m2_ij / (b_i b_j) where c_i c_j = 0),
// which give E b = m1, Cov b = m2 and third central moments
// 6 b_i^2 c_i + 8 c_i^3 = m3_i. InputError (field "third_moments" or
// "covariance") where no such form exists: |m3_i| > sqrt(8 m2_ii^3), or rho
// not positive definite.
// The largest |m3| the form reaches for a bin of variance m2: sqrt(8 m2^3)
// (skew sqrt(8), where b_i = 0).
double max_third_moment(double variance);

struct SkewedBackground {
  Eigen::VectorXd a, b, c;
  Eigen::MatrixXd rho;
};
SkewedBackground skewed_background(const Eigen::VectorXd& m1, const Eigen::MatrixXd& m2, const Eigen::VectorXd& m3,
                                   const std::string& file = "");

class SimplifiedLikelihoodModel : public Model {
 public:
  // Parameters: the POI (init 1), then eta_j named <prefix>theta_<bin j>.
  explicit SimplifiedLikelihoodModel(const SimplifiedLikelihoodSpec& spec);

  const SimplifiedLikelihoodSpec& spec() const { return spec_; }
  const SkewedBackground& background() const { return form_; }
  // Expected counts mu s + b(L eta) at x; a count <= 0 makes the NLL +inf.
  Eigen::VectorXd expected(const Eigen::VectorXd& x) const;

  double data_nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const override;
  std::vector<ProcessYields> observed_yields() const override;
  std::vector<ProcessYields> expected_yields(const Eigen::VectorXd& x) const override;
  std::unique_ptr<Model> with_asimov_data(const Eigen::VectorXd& x) const override;
  std::unique_ptr<Model> with_toy_data(const Eigen::VectorXd& x, std::mt19937_64& rng) const override;
  std::string describe() const override;

 private:
  SimplifiedLikelihoodSpec spec_;
  SkewedBackground form_;
  Eigen::MatrixXd chol_;  // L, rho = L L^T
};

}  // namespace refinery::stats
