#include "src/stats/simplified_likelihood.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>

#include "src/core/error.h"

namespace refinery::stats {

namespace {

const char* kKey = "simplified_likelihood";

Eigen::VectorXd read_vector(const nlohmann::json& doc, const std::string& key, const std::string& file, int n,
                            bool non_negative) {
  const nlohmann::json& v = doc.at(key);
  if (!v.is_array()) throw InputError(file, key, "expected an array of numbers");
  if (n >= 0 && int(v.size()) != n)
    throw InputError(file, key, "has " + std::to_string(v.size()) + " entries for " + std::to_string(n) + " bins");
  Eigen::VectorXd out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_number()) throw InputError(file, key + "[" + std::to_string(i) + "]", "expected a number");
    out[i] = v[i].get<double>();
    if (!std::isfinite(out[i])) throw InputError(file, key + "[" + std::to_string(i) + "]", "not finite");
    if (non_negative && out[i] < 0.0) {
      std::ostringstream os;
      os << "must be >= 0, got " << out[i];
      throw InputError(file, key + "[" + std::to_string(i) + "]", os.str());
    }
  }
  return out;
}

std::string entry(const std::string& key, int i, int j) {
  return key + "[" + std::to_string(i) + "][" + std::to_string(j) + "]";
}

}  // namespace

bool is_simplified_likelihood(const nlohmann::json& document) {
  return document.is_object() && document.contains(kKey);
}

SimplifiedLikelihoodSpec read_simplified_likelihood(const nlohmann::json& doc, const std::string& file) {
  SimplifiedLikelihoodSpec s;
  s.file = file;
  if (!is_simplified_likelihood(doc)) throw InputError(file, kKey, "missing: not a simplified likelihood");
  if (!doc.at(kKey).is_number_integer() || doc.at(kKey).get<int>() != 1)
    throw InputError(file, kKey, "unknown format version (this refinery reads 1)");
  static const std::vector<std::string> known = {kKey,    "bins",          "observed", "signal",         "background",
                                                 "covariance", "third_moments", "poi",      "nuisance_prefix", "provenance"};
  for (const auto& [key, value] : doc.items())
    if (std::find(known.begin(), known.end(), key) == known.end()) throw InputError(file, key, "unknown key");
  for (const char* key : {"observed", "background", "covariance"})
    if (!doc.contains(key)) throw InputError(file, key, "missing");
  s.background = read_vector(doc, "background", file, -1, true);
  const int n = int(s.background.size());
  if (n == 0) throw InputError(file, "background", "no bins");
  s.observed = read_vector(doc, "observed", file, n, true);
  s.signal = doc.contains("signal") ? read_vector(doc, "signal", file, n, true) : Eigen::VectorXd::Zero(n);
  if (doc.contains("third_moments")) s.third_moments = read_vector(doc, "third_moments", file, n, false);
  if (doc.contains("bins")) {
    const nlohmann::json& b = doc.at("bins");
    if (!b.is_array() || int(b.size()) != n) throw InputError(file, "bins", "expected " + std::to_string(n) + " names");
    for (size_t i = 0; i < b.size(); ++i) {
      if (!b[i].is_string() || b[i].get<std::string>().empty())
        throw InputError(file, "bins[" + std::to_string(i) + "]", "expected a name");
      s.bins.push_back(b[i].get<std::string>());
      for (size_t j = 0; j < i; ++j)
        if (s.bins[j] == s.bins[i]) throw InputError(file, "bins[" + std::to_string(i) + "]", "'" + s.bins[i] + "' twice");
    }
  } else {
    for (int i = 0; i < n; ++i) s.bins.push_back("bin" + std::to_string(i));
  }
  const nlohmann::json& cov = doc.at("covariance");
  if (!cov.is_array() || int(cov.size()) != n)
    throw InputError(file, "covariance", "expected " + std::to_string(n) + " rows of " + std::to_string(n));
  s.covariance.resize(n, n);
  for (int i = 0; i < n; ++i) {
    if (!cov[i].is_array() || int(cov[i].size()) != n)
      throw InputError(file, "covariance[" + std::to_string(i) + "]", "expected " + std::to_string(n) + " numbers");
    for (int j = 0; j < n; ++j) {
      if (!cov[i][j].is_number()) throw InputError(file, entry("covariance", i, j), "expected a number");
      s.covariance(i, j) = cov[i][j].get<double>();
      if (!std::isfinite(s.covariance(i, j))) throw InputError(file, entry("covariance", i, j), "not finite");
    }
  }
  for (int i = 0; i < n; ++i) {
    if (!(s.covariance(i, i) > 0.0))
      throw InputError(file, entry("covariance", i, i), "a variance must be > 0 (a bin without background uncertainty: give a small one)");
    for (int j = 0; j < i; ++j)
      if (std::abs(s.covariance(i, j) - s.covariance(j, i)) > 1e-9 * std::sqrt(s.covariance(i, i) * s.covariance(j, j)))
        throw InputError(file, entry("covariance", i, j), "the matrix is not symmetric");
  }
  if (doc.contains("poi")) {
    const nlohmann::json& p = doc.at("poi");
    if (!p.is_object()) throw InputError(file, "poi", "expected {\"name\": ..., \"bounds\": [lo, hi]}");
    for (const auto& [key, value] : p.items())
      if (key != "name" && key != "bounds") throw InputError(file, "poi." + key, "unknown key");
    if (p.contains("name")) {
      if (!p.at("name").is_string() || p.at("name").get<std::string>().empty())
        throw InputError(file, "poi.name", "expected a name");
      s.poi = p.at("name").get<std::string>();
    }
    if (p.contains("bounds")) {
      const nlohmann::json& b = p.at("bounds");
      if (!b.is_array() || b.size() != 2 || !b[0].is_number() || !b[1].is_number() ||
          !(b[0].get<double>() < b[1].get<double>()))
        throw InputError(file, "poi.bounds", "expected [lo, hi] with lo < hi");
      s.poi_lower = b[0].get<double>();
      s.poi_upper = b[1].get<double>();
    }
  }
  if (doc.contains("nuisance_prefix")) {
    if (!doc.at("nuisance_prefix").is_string()) throw InputError(file, "nuisance_prefix", "expected a string");
    s.nuisance_prefix = doc.at("nuisance_prefix").get<std::string>();
  }
  return s;
}

double max_third_moment(double variance) { return std::sqrt(8.0 * variance * variance * variance); }

SkewedBackground skewed_background(const Eigen::VectorXd& m1, const Eigen::MatrixXd& m2, const Eigen::VectorXd& m3,
                                   const std::string& file) {
  const int n = int(m1.size());
  SkewedBackground f;
  f.a = m1;
  f.b.resize(n);
  f.c = Eigen::VectorXd::Zero(n);
  for (int i = 0; i < n; ++i) {
    const double v = m2(i, i);
    if (m3.size() > 0 && m3[i] != 0.0) {
      const double limit = max_third_moment(v);
      if (std::abs(m3[i]) > limit) {
        std::ostringstream os;
        os << "|" << m3[i] << "| exceeds sqrt(8 variance^3) = " << limit
           << ": no quadratic form a + b theta + c theta^2 has this skew";
        throw InputError(file, "third_moments[" + std::to_string(i) + "]", os.str());
      }
      const double t = std::atan(std::sqrt(std::max(0.0, 8.0 * v * v * v / (m3[i] * m3[i]) - 1.0)));
      f.c[i] = -std::copysign(1.0, m3[i]) * std::sqrt(2.0 * v) * std::cos(4.0 * M_PI / 3.0 + t / 3.0);
    }
    f.b[i] = std::sqrt(std::max(0.0, v - 2.0 * f.c[i] * f.c[i]));
    f.a[i] = m1[i] - f.c[i];
  }
  f.rho.resize(n, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      if (i == j) {
        f.rho(i, j) = 1.0;
        continue;
      }
      const double cc = f.c[i] * f.c[j], bb = f.b[i] * f.b[j];
      // The paper's root of 2 cc rho^2 + bb rho = m2_ij, rationalised: no
      // cancellation for small cc, and m2_ij / bb at cc = 0.
      f.rho(i, j) = 2.0 * m2(i, j) / (bb + std::sqrt(bb * bb + 8.0 * cc * m2(i, j)));
      if (!std::isfinite(f.rho(i, j)))
        throw InputError(file, entry("covariance", i, j), "no correlation of the quadratic form reproduces it");
    }
  Eigen::LLT<Eigen::MatrixXd> llt(f.rho);
  if (llt.info() != Eigen::Success)
    throw InputError(file, "covariance", "its correlation matrix (of the skewed form, with third moments) is not positive definite");
  return f;
}

SimplifiedLikelihoodModel::SimplifiedLikelihoodModel(const SimplifiedLikelihoodSpec& spec) : spec_(spec) {
  form_ = skewed_background(spec.background, spec.covariance, spec.third_moments, spec.file);
  chol_ = Eigen::LLT<Eigen::MatrixXd>(form_.rho).matrixL();
  Parameter poi;
  poi.name = spec.poi;
  poi.init = std::clamp(1.0, spec.poi_lower, spec.poi_upper);
  poi.lower = spec.poi_lower;
  poi.upper = spec.poi_upper;
  poi.poi = true;
  parameters_.push_back(poi);
  for (const auto& bin : spec.bins) {
    Parameter p;
    p.name = spec.nuisance_prefix + "theta_" + bin;
    p.init = 0.0;
    p.lower = -5.0;
    p.upper = 5.0;
    p.constraint = Constraint::kGaussian;
    p.width = 1.0;
    p.aux = 0.0;
    if (p.name == poi.name) throw InputError(spec.file, "poi.name", "'" + poi.name + "' is also a nuisance's name");
    parameters_.push_back(p);
  }
}

Eigen::VectorXd SimplifiedLikelihoodModel::expected(const Eigen::VectorXd& x) const {
  const int n = int(spec_.signal.size());
  const Eigen::VectorXd theta = chol_ * x.segment(1, n);
  return x[0] * spec_.signal + form_.a + form_.b.cwiseProduct(theta) + form_.c.cwiseProduct(theta.cwiseAbs2());
}

double SimplifiedLikelihoodModel::data_nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad,
                                           Eigen::MatrixXd* hess) const {
  const int n = int(spec_.signal.size());
  const Eigen::VectorXd theta = chol_ * x.segment(1, n);
  const Eigen::VectorXd lambda = expected(x);
  if (grad) grad->setZero(size());
  if (hess) hess->setZero(size(), size());
  double nll = 0.0;
  for (int i = 0; i < n; ++i) {
    const double l = lambda[i], k = spec_.observed[i];
    if (!(l > 0.0)) {
      if (k > 0.0 || l < 0.0) return std::numeric_limits<double>::infinity();
      continue;  // l = 0 with k = 0: a zero term
    }
    nll += l - k * std::log(l) + std::lgamma(k + 1.0);
    if (!grad && !hess) continue;
    // d lambda_i / d x: s_i for the POI, (b_i + 2 c_i theta_i) L_ij for eta_j.
    Eigen::VectorXd d = Eigen::VectorXd::Zero(size());
    d[0] = spec_.signal[i];
    const double slope = form_.b[i] + 2.0 * form_.c[i] * theta[i];
    d.segment(1, n) = slope * chol_.row(i).transpose();
    const double r = 1.0 - k / l;
    if (grad) *grad += r * d;
    if (hess) {
      *hess += (k / (l * l)) * d * d.transpose();
      if (form_.c[i] != 0.0)  // d^2 lambda_i / d eta_j d eta_k = 2 c_i L_ij L_ik
        hess->block(1, 1, n, n) += (r * 2.0 * form_.c[i]) * chol_.row(i).transpose() * chol_.row(i);
    }
  }
  return nll;
}

std::vector<ProcessYields> SimplifiedLikelihoodModel::observed_yields() const {
  return {{"signal_region", "data", std::vector<double>(spec_.observed.data(), spec_.observed.data() + spec_.observed.size())}};
}

std::vector<ProcessYields> SimplifiedLikelihoodModel::expected_yields(const Eigen::VectorXd& x) const {
  const Eigen::VectorXd s = x[0] * spec_.signal;
  const Eigen::VectorXd b = expected(x) - s;
  return {{"signal_region", "signal", std::vector<double>(s.data(), s.data() + s.size())},
          {"signal_region", "background", std::vector<double>(b.data(), b.data() + b.size())}};
}

std::unique_ptr<Model> SimplifiedLikelihoodModel::with_asimov_data(const Eigen::VectorXd& x) const {
  auto m = std::make_unique<SimplifiedLikelihoodModel>(*this);
  m->spec_.observed = expected(x).cwiseMax(0.0);
  return m;
}

std::unique_ptr<Model> SimplifiedLikelihoodModel::with_toy_data(const Eigen::VectorXd& x, std::mt19937_64& rng) const {
  auto m = std::make_unique<SimplifiedLikelihoodModel>(*this);
  const Eigen::VectorXd lambda = expected(x);
  for (int i = 0; i < lambda.size(); ++i)
    m->spec_.observed[i] = lambda[i] > 0.0 ? double(std::poisson_distribution<long long>(lambda[i])(rng)) : 0.0;
  return m;
}

std::string SimplifiedLikelihoodModel::describe() const {
  return "simplified likelihood " + spec_.file + " (" + std::to_string(spec_.bins.size()) + " bins, " +
         (spec_.third_moments.size() > 0 ? "skewed background" : "Gaussian background") + ")";
}

}  // namespace refinery::stats
