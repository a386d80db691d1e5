#include "src/stats/model.h"

#include <algorithm>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "src/core/error.h"
#include "src/core/random_seed.h"

namespace refinery::stats {

void Model::copy_parameters(const Model& other) {
  if (other.names() != names()) throw std::logic_error("copy_parameters: the models' parameters differ");
  parameters_ = other.parameters_;
}

int Model::index(const std::string& name) const {
  for (size_t i = 0; i < parameters_.size(); ++i)
    if (parameters_[i].name == name) return static_cast<int>(i);
  return -1;
}

std::vector<std::string> Model::names() const {
  std::vector<std::string> out;
  for (const auto& p : parameters_) out.push_back(p.name);
  return out;
}

std::vector<int> Model::pois() const {
  std::vector<int> out;
  for (int i = 0; i < size(); ++i)
    if (parameters_[i].poi) out.push_back(i);
  return out;
}

int Model::poi(const std::string& name, const std::string& flag) const {
  if (name.empty()) {
    const std::vector<int> p = pois();
    if (p.empty()) throw InputError("", flag, describe() + " has no parameter of interest");
    return p.front();
  }
  const int i = index(name);
  if (i < 0) throw InputError("", flag, "no parameter '" + name + "' in " + describe());
  return i;
}

Eigen::VectorXd Model::init() const {
  Eigen::VectorXd x(size());
  for (int i = 0; i < size(); ++i) x[i] = parameters_[i].init;
  return x;
}

Eigen::VectorXd Model::lower() const {
  Eigen::VectorXd x(size());
  for (int i = 0; i < size(); ++i) x[i] = parameters_[i].lower;
  return x;
}

Eigen::VectorXd Model::upper() const {
  Eigen::VectorXd x(size());
  for (int i = 0; i < size(); ++i) x[i] = parameters_[i].upper;
  return x;
}

std::vector<bool> Model::fixed() const {
  std::vector<bool> out;
  for (const auto& p : parameters_) out.push_back(p.fixed);
  return out;
}

void Model::set_bounds(int index, double lo, double hi, const std::string& flag) {
  Parameter& p = parameters_.at(index);
  if (!(lo < hi)) {
    std::ostringstream s;
    s << std::setprecision(10) << "bounds [" << lo << ", " << hi << "] of '" << p.name
      << "' are empty (need LO < HI)";
    throw InputError("", flag, s.str());
  }
  p.lower = lo;
  p.upper = hi;
  p.init = std::clamp(p.init, lo, hi);
}

double Model::constraint_nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const {
  double total = 0.0;
  for (int i = 0; i < size(); ++i) {
    const Parameter& p = parameters_[i];
    if (p.constraint == Constraint::kNone) continue;
    const ConstraintTerm t = stats::constraint_nll(p.constraint, x[i], p.aux, p.width);
    total += t.value;
    if (grad) (*grad)[i] += t.d1;
    if (hess) (*hess)(i, i) += t.d2;
  }
  return total;
}

double Model::nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const {
  const double data = data_nll(x, grad, hess);
  if (!std::isfinite(data)) return std::numeric_limits<double>::infinity();
  const double total = data + constraint_nll(x, grad, hess);
  return std::isfinite(total) ? total : std::numeric_limits<double>::infinity();
}

std::unique_ptr<Model> Model::asimov(const Eigen::VectorXd& x) const {
  std::unique_ptr<Model> m = with_asimov_data(x);
  m->set_asimov_aux(x);
  return m;
}

void Model::set_asimov_aux(const Eigen::VectorXd& x) {
  for (int i = 0; i < size(); ++i) {
    Parameter& p = parameters_[i];
    if (p.constraint != Constraint::kNone) p.aux = asimov_aux(p.constraint, x[i], p.width);
  }
}

std::unique_ptr<Model> Model::toy(const Eigen::VectorXd& x, std::uint64_t seed) const {
  std::mt19937_64 rng(splitmix64(seed));
  std::unique_ptr<Model> m = with_toy_data(x, rng);
  for (int i = 0; i < size(); ++i) {
    Parameter& p = m->parameters_[i];
    if (p.constraint != Constraint::kNone) p.aux = sample_aux(p.constraint, x[i], p.width, rng);
  }
  return m;
}

void Model::rename(int index, const std::string& name, const std::string& where) {
  const int other = this->index(name);
  if (other >= 0 && other != index)
    throw InputError("", where, "'" + name + "' would name two parameters of " + describe());
  parameters_.at(index).name = name;
}

}  // namespace refinery::stats
