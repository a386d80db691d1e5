#include "src/stats/morphing.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace refinery::stats {

std::vector<std::vector<int>> morphing_components(const std::vector<int>& max_power, int max_total) {
  const int P = int(max_power.size());
  std::vector<std::vector<int>> out;
  for (int total = 0; total <= max_total; ++total) {
    // Every k with sum k = total, in lexicographic order from the first
    // parameter's highest power down.
    std::vector<int> k(P, 0);
    std::function<void(int, int)> fill = [&](int p, int left) {
      if (p == P - 1) {
        if (left <= max_power[p]) {
          k[p] = left;
          out.push_back(k);
        }
        return;
      }
      for (int e = std::min(left, max_power[p]); e >= 0; --e) {
        k[p] = e;
        fill(p + 1, left - e);
      }
    };
    if (P > 0) fill(0, total);
  }
  return out;
}

namespace {

// c_i(theta) = prod_p theta_p^{k_ip} for every component.
Eigen::VectorXd monomials(const std::vector<std::vector<int>>& components, const Eigen::VectorXd& theta) {
  Eigen::VectorXd c(components.size());
  for (std::size_t i = 0; i < components.size(); ++i) {
    double v = 1.0;
    for (std::size_t p = 0; p < components[i].size(); ++p) v *= std::pow(theta[Eigen::Index(p)], components[i][p]);
    c[Eigen::Index(i)] = v;
  }
  return c;
}

}  // namespace

Morphing::Morphing(std::vector<std::vector<int>> components, Eigen::MatrixXd basis)
    : components_(std::move(components)), basis_(std::move(basis)) {
  const int n = int(components_.size());
  if (basis_.rows() != n) throw std::invalid_argument("morphing: the basis needs one point per component");
  for (const auto& k : components_)
    if (int(k.size()) != basis_.cols()) throw std::invalid_argument("morphing: a component of another dimension");
  matrix_.resize(n, n);
  for (int j = 0; j < n; ++j) matrix_.row(j) = monomials(components_, basis_.row(j).transpose()).transpose();
  Eigen::FullPivLU<Eigen::MatrixXd> lu(matrix_);
  if (!lu.isInvertible()) throw std::invalid_argument("morphing: the basis points do not determine the components");
  inverse_ = lu.inverse();
}

Eigen::VectorXd Morphing::components(const Eigen::VectorXd& theta) const { return monomials(components_, theta); }

Eigen::VectorXd Morphing::weights(const Eigen::VectorXd& theta) const {
  return inverse_.transpose() * components(theta);
}

Eigen::MatrixXd Morphing::weight_gradient(const Eigen::VectorXd& theta) const {
  const int n = size(), P = parameters();
  Eigen::MatrixXd dc = Eigen::MatrixXd::Zero(n, P);  // d c_i / d theta_p
  for (int i = 0; i < n; ++i)
    for (int p = 0; p < P; ++p) {
      const int e = components_[i][p];
      if (e == 0) continue;
      double v = e * std::pow(theta[p], e - 1);
      for (int q = 0; q < P; ++q)
        if (q != p) v *= std::pow(theta[q], components_[i][q]);
      dc(i, p) = v;
    }
  return inverse_.transpose() * dc;
}

Eigen::VectorXd Morphing::weight_hessian(const Eigen::VectorXd& theta, int p, int q) const {
  const int n = size(), P = parameters();
  Eigen::VectorXd d2c = Eigen::VectorXd::Zero(n);  // d^2 c_i / d theta_p d theta_q
  for (int i = 0; i < n; ++i) {
    std::vector<int> e = components_[i];
    double v = 1.0;
    for (int r : {p, q}) {  // differentiate once in p, then once in q
      if (e[r] == 0) {
        v = 0.0;
        break;
      }
      v *= e[r];
      --e[r];
    }
    if (v == 0.0) continue;
    for (int r = 0; r < P; ++r) v *= std::pow(theta[r], e[r]);
    d2c[i] = v;
  }
  return inverse_.transpose() * d2c;
}

double Morphing::condition() const {
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(matrix_);
  const auto& s = svd.singularValues();
  return s[0] / s[s.size() - 1];
}

double Morphing::mean_squared_weights(const Eigen::MatrixXd& thetas) const {
  double sum = 0.0;
  for (int i = 0; i < thetas.rows(); ++i) sum += weights(thetas.row(i).transpose()).squaredNorm();
  return sum / std::max<Eigen::Index>(1, thetas.rows());
}

Morphing optimise_morphing_basis(const std::vector<std::vector<int>>& components, const Eigen::MatrixXd& candidates,
                                 const Eigen::MatrixXd& thetas) {
  const int n = int(components.size()), c = int(candidates.rows());
  if (c < n) throw std::invalid_argument("morphing: fewer candidates than components");
  auto cost = [&](const std::vector<int>& pick) {
    Eigen::MatrixXd basis(n, candidates.cols());
    for (int j = 0; j < n; ++j) basis.row(j) = candidates.row(pick[j]);
    try {
      return Morphing(components, basis).mean_squared_weights(thetas);
    } catch (const std::invalid_argument&) {
      return std::numeric_limits<double>::infinity();
    }
  };
  // A start that determines the components: candidates in order, each kept
  // when it raises the rank of the chosen points' component rows.
  auto row = [&](int i) { return monomials(components, candidates.row(i).transpose()); };
  std::vector<int> pick;
  for (int i = 0; i < c && int(pick.size()) < n; ++i) {
    Eigen::MatrixXd rows(pick.size() + 1, n);
    for (std::size_t j = 0; j < pick.size(); ++j) rows.row(Eigen::Index(j)) = row(pick[j]).transpose();
    rows.row(Eigen::Index(pick.size())) = row(i).transpose();
    if (Eigen::ColPivHouseholderQR<Eigen::MatrixXd>(rows).rank() == Eigen::Index(pick.size() + 1)) pick.push_back(i);
  }
  if (int(pick.size()) < n) throw std::invalid_argument("morphing: the candidates do not determine the components");
  // Single swaps while one lowers the cost.
  double best = cost(pick);
  for (bool improved = true; improved;) {
    improved = false;
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < c; ++i) {
        if (std::find(pick.begin(), pick.end(), i) != pick.end()) continue;
        std::vector<int> trial = pick;
        trial[j] = i;
        const double t = cost(trial);
        if (t < best * (1.0 - 1e-12)) {
          best = t;
          pick = trial;
          improved = true;
        }
      }
  }
  Eigen::MatrixXd basis(n, candidates.cols());
  for (int j = 0; j < n; ++j) basis.row(j) = candidates.row(pick[j]);
  return Morphing(components, basis);
}

}  // namespace refinery::stats
