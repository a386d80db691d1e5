#include "src/stats/yields.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace refinery::stats {

Eigen::MatrixXd prefit_covariance(const Model& model) {
  const int n = model.size();
  Eigen::MatrixXd c = Eigen::MatrixXd::Zero(n, n);
  for (int i = 0; i < n; ++i) {
    const Parameter& p = model.parameters()[i];
    if (p.fixed) continue;
    switch (p.constraint) {
      case Constraint::kGaussian: c(i, i) = p.width * p.width; break;
      case Constraint::kPoisson: c(i, i) = p.width > 0.0 ? 1.0 / p.width : 0.0; break;
      case Constraint::kLogNormal: c(i, i) = (p.aux * p.width) * (p.aux * p.width); break;
      case Constraint::kNone: break;
    }
  }
  return c;
}

nlohmann::json parameter_table_json(const Model& model) {
  const Eigen::MatrixXd c = prefit_covariance(model);
  nlohmann::json rows = nlohmann::json::array();
  for (int i = 0; i < model.size(); ++i) {
    const Parameter& p = model.parameters()[i];
    const double centre = p.constraint == Constraint::kPoisson ? (p.width > 0 ? p.aux / p.width : 0.0)
                          : p.constraint == Constraint::kNone  ? p.init
                                                               : p.aux;
    auto bound = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
    rows.push_back({{"name", p.name}, {"constraint", constraint_name(p.constraint)}, {"centre", centre},
                    {"prefit_error", std::sqrt(c(i, i))}, {"lower", bound(p.lower)}, {"upper", bound(p.upper)},
                    {"fixed", p.fixed}, {"poi", p.poi}});
  }
  return rows;
}

namespace {

// All yields of the model as one vector (processes in order, bins in order).
Eigen::VectorXd flatten(const std::vector<ProcessYields>& yields) {
  std::vector<double> v;
  for (const auto& y : yields) v.insert(v.end(), y.bins.begin(), y.bins.end());
  return Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size()));
}

}  // namespace

std::vector<YieldWithError> yields_with_errors(const Model& model, const Eigen::VectorXd& x,
                                               const Eigen::MatrixXd& covariance) {
  const std::vector<ProcessYields> yields = model.expected_yields(x);
  const Eigen::VectorXd y0 = flatten(yields);
  const int n = model.size();
  // Rows: the processes' bins, then each region's total bins; the Jacobian
  // of each row by central differences inside the parameters' bounds.
  std::vector<std::string> regions;
  for (const auto& y : yields)
    if (std::find(regions.begin(), regions.end(), y.region) == regions.end()) regions.push_back(y.region);
  Eigen::MatrixXd jacobian = Eigen::MatrixXd::Zero(y0.size(), n);
  const Eigen::VectorXd lo = model.lower(), hi = model.upper();
  for (int i = 0; i < n; ++i) {
    if (covariance.col(i).isZero(0.0)) continue;
    const double h = 1e-5 * std::max(1.0, std::abs(x[i]));
    Eigen::VectorXd up = x, down = x;
    up[i] = std::min(x[i] + h, hi[i]);
    down[i] = std::max(x[i] - h, lo[i]);
    if (!(up[i] > down[i])) continue;
    jacobian.col(i) = (flatten(model.expected_yields(up)) - flatten(model.expected_yields(down))) / (up[i] - down[i]);
  }
  std::vector<YieldWithError> out;
  // A linear combination of the flattened yields (weights w) and its error.
  auto combine = [&](const Eigen::VectorXd& w, double* value, double* error) {
    *value = w.dot(y0);
    const Eigen::VectorXd g = jacobian.transpose() * w;
    *error = std::sqrt(std::max(0.0, g.dot(covariance * g)));
  };
  std::map<std::string, size_t> total_of;  // region -> index in `totals`
  std::vector<YieldWithError> totals;
  std::vector<std::vector<Eigen::VectorXd>> total_bin_weights;
  std::vector<Eigen::VectorXd> total_weights;
  Eigen::Index offset = 0;
  for (const auto& y : yields) {
    YieldWithError e{y.region, y.process, y.bins, std::vector<double>(y.bins.size(), 0.0)};
    const Eigen::Index nb = static_cast<Eigen::Index>(y.bins.size());
    if (!total_of.count(y.region)) {
      total_of[y.region] = totals.size();
      totals.push_back({y.region, "total", std::vector<double>(y.bins.size(), 0.0), std::vector<double>(y.bins.size(), 0.0)});
      total_bin_weights.emplace_back(y.bins.size(), Eigen::VectorXd::Zero(y0.size()));
      total_weights.push_back(Eigen::VectorXd::Zero(y0.size()));
    }
    const size_t t = total_of[y.region];
    Eigen::VectorXd all = Eigen::VectorXd::Zero(y0.size());
    for (Eigen::Index b = 0; b < nb; ++b) {
      Eigen::VectorXd w = Eigen::VectorXd::Zero(y0.size());
      w[offset + b] = 1.0;
      combine(w, &e.bins[b], &e.errors[b]);
      all[offset + b] = 1.0;
      if (b < static_cast<Eigen::Index>(total_bin_weights[t].size())) total_bin_weights[t][b][offset + b] = 1.0;
    }
    combine(all, &e.total, &e.total_error);
    total_weights[t] += all;
    out.push_back(std::move(e));
    offset += nb;
  }
  for (size_t t = 0; t < totals.size(); ++t) {
    for (size_t b = 0; b < totals[t].bins.size(); ++b)
      combine(total_bin_weights[t][b], &totals[t].bins[b], &totals[t].errors[b]);
    combine(total_weights[t], &totals[t].total, &totals[t].total_error);
    out.push_back(std::move(totals[t]));
  }
  return out;
}

nlohmann::json to_json(const std::vector<YieldWithError>& yields) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& y : yields)
    a.push_back({{"region", y.region}, {"process", y.process}, {"bins", y.bins}, {"errors", y.errors},
                 {"total", y.total}, {"total_error", y.total_error}});
  return a;
}

}  // namespace refinery::stats
