#include "src/stats/combined_model.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "src/core/error.h"

namespace refinery::stats {

CombinedModel::CombinedModel(std::vector<std::shared_ptr<const Model>> parts) : parts_(std::move(parts)) {
  if (parts_.empty()) throw InputError("", "combination", "no models to combine");
  for (size_t k = 0; k < parts_.size(); ++k) {
    std::vector<int> map;
    for (const Parameter& p : parts_[k]->parameters()) {
      const std::string where = "parameter '" + p.name + "'";
      const int i = index(p.name);
      if (i < 0) {
        map.push_back(size());
        parameters_.push_back(p);
        continue;
      }
      map.push_back(i);
      Parameter& q = parameters_[i];
      const bool c1 = p.constraint != Constraint::kNone, c2 = q.constraint != Constraint::kNone;
      if (c1 && c2 && (p.constraint != q.constraint || p.width != q.width || p.aux != q.aux)) {
        std::ostringstream s;
        s << "constrained differently by " << parts_[k]->describe() << " (" << constraint_name(p.constraint)
          << ", width " << p.width << ", aux " << p.aux << ") and an earlier part (" << constraint_name(q.constraint)
          << ", width " << q.width << ", aux " << q.aux << ")";
        throw InputError("", where, s.str());
      }
      if ((p.poi && c2) || (q.poi && c1))
        throw InputError("", where, "a parameter of interest in one part and constrained in another");
      if (c1 && !c2) {
        q.constraint = p.constraint;
        q.width = p.width;
        q.aux = p.aux;
      }
      q.poi = q.poi || p.poi;
      q.fixed = q.fixed || p.fixed;
      q.lower = std::max(q.lower, p.lower);
      q.upper = std::min(q.upper, p.upper);
      if (!(q.lower < q.upper))
        throw InputError("", where, "the parts' bounds do not overlap (" + parts_[k]->describe() + ")");
      q.init = std::clamp(q.init, q.lower, q.upper);
    }
    maps_.push_back(std::move(map));
  }
}

Eigen::VectorXd CombinedModel::part_x(int k, const Eigen::VectorXd& x) const {
  const std::vector<int>& m = maps_[k];
  Eigen::VectorXd xp(m.size());
  for (size_t i = 0; i < m.size(); ++i) xp[i] = x[m[i]];
  return xp;
}

double CombinedModel::data_nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const {
  if (grad) grad->setZero(size());
  if (hess) hess->setZero(size(), size());
  double total = 0.0;
  Eigen::VectorXd g;
  Eigen::MatrixXd h;
  for (int k = 0; k < parts(); ++k) {
    const std::vector<int>& m = maps_[k];
    const double v = parts_[k]->data_nll(part_x(k, x), grad ? &g : nullptr, hess ? &h : nullptr);
    if (!std::isfinite(v)) return std::numeric_limits<double>::infinity();
    total += v;
    const int n = static_cast<int>(m.size());
    if (grad)
      for (int a = 0; a < n; ++a) (*grad)[m[a]] += g[a];
    if (hess)
      for (int a = 0; a < n; ++a)
        for (int b = 0; b < n; ++b) (*hess)(m[a], m[b]) += h(a, b);
  }
  return total;
}

std::vector<ProcessYields> CombinedModel::observed_yields() const {
  std::vector<ProcessYields> out;
  for (int k = 0; k < parts(); ++k)
    for (auto& y : parts_[k]->observed_yields()) out.push_back(std::move(y));
  return out;
}

std::vector<ProcessYields> CombinedModel::expected_yields(const Eigen::VectorXd& x) const {
  std::vector<ProcessYields> out;
  for (int k = 0; k < parts(); ++k)
    for (auto& y : parts_[k]->expected_yields(part_x(k, x))) out.push_back(std::move(y));
  return out;
}

std::unique_ptr<Model> CombinedModel::with_asimov_data(const Eigen::VectorXd& x) const {
  auto m = std::make_unique<CombinedModel>(*this);
  for (int k = 0; k < parts(); ++k) m->parts_[k] = parts_[k]->with_asimov_data(part_x(k, x));
  return m;
}

std::unique_ptr<Model> CombinedModel::with_toy_data(const Eigen::VectorXd& x, std::mt19937_64& rng) const {
  auto m = std::make_unique<CombinedModel>(*this);
  for (int k = 0; k < parts(); ++k) m->parts_[k] = parts_[k]->with_toy_data(part_x(k, x), rng);
  return m;
}

std::vector<int> CombinedModel::multimodal_parameters() const {
  std::set<int> out;
  for (int k = 0; k < parts(); ++k)
    for (int i : parts_[k]->multimodal_parameters()) out.insert(maps_[k][i]);
  return {out.begin(), out.end()};
}

std::vector<std::pair<int, double>> CombinedModel::breakpoints() const {
  std::set<std::pair<int, double>> out;
  for (int k = 0; k < parts(); ++k)
    for (const auto& [i, v] : parts_[k]->breakpoints()) out.insert({maps_[k][i], v});
  return {out.begin(), out.end()};
}

std::string CombinedModel::describe() const {
  std::string s = "combination of ";
  for (int k = 0; k < parts(); ++k) s += (k ? " + " : "") + parts_[k]->describe();
  return s;
}

}  // namespace refinery::stats
