#include "src/stats/learned_ratio_model.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "src/core/error.h"
#include "src/core/worker_threads.h"

namespace refinery::stats {

LearnedRatioModel::LearnedRatioModel(std::shared_ptr<const LearnedRatioInputs> inputs, Eigen::MatrixXd events,
                                     Eigen::VectorXd weights, const std::string& where)
    : inputs_(std::move(inputs)), events_(std::move(events)), weights_(std::move(weights)) {
  const auto& in = *inputs_;
  const int T = in.morphing.parameters(), K = in.nuisances, cols = in.morphing.size() * (1 + 2 * K);
  if (int(in.names.size()) != T + K) throw InputError(where, "parameters", "one name per theory parameter and nuisance expected");
  if (in.lower.size() != T || in.upper.size() != T) throw InputError(where, "bounds", "one range per theory parameter expected");
  if (events_.cols() != cols || in.reference.cols() != cols)
    throw InputError(where, "coefficients", std::to_string(cols) + " per event expected (basis points x (1 + 2 nuisances))");
  if (in.reference.rows() < 1 || !(in.reference_yield > 0)) throw InputError(where, "reference", "an empty reference sample or no yield");
  if (weights_.size() != 0 && weights_.size() != events_.rows()) throw InputError(where, "weights", "one weight per event expected");
  if (!events_.allFinite() || !in.reference.allFinite()) throw InputError(where, "coefficients", "not finite");
  for (int p = 0; p < T + K; ++p) {
    Parameter q;
    q.name = in.names[p];
    if (p < T) {
      q.poi = true;
      q.lower = in.lower[p];
      q.upper = in.upper[p];
      q.init = std::clamp(0.0, q.lower, q.upper);
    } else {
      q.constraint = Constraint::kGaussian;
      q.width = 1.0;
      q.aux = 0.0;
      q.lower = -5.0;
      q.upper = 5.0;
    }
    parameters_.push_back(q);
  }
}

namespace {

// Neumaier's compensated addition.
inline void add(double term, double* total, double* compensation) {
  const double t = *total + term;
  *compensation += std::abs(*total) >= std::abs(term) ? (*total - t) + term : (term - t) + *total;
  *total = t;
}

// One event's S = sum_j w_j rho_j, rho_j = exp(o_j + sum_k a_jk nu_k + b_jk
// nu_k^2) (the exponent clamped at +-30, as in training): the rho_j go to E
// [n] and, when D is set, d log rho_j / d nu_k = a_jk + 2 b_jk nu_k to D [n K].
double event_ratio(const Eigen::MatrixXd& rows, Eigen::Index e, const Eigen::VectorXd& w, const Eigen::VectorXd& nu,
                   double* E, double* D) {
  const int n = int(w.size()), K = int(nu.size()), cols = 1 + 2 * K;
  double S = 0.0;
  for (int j = 0; j < n; ++j) {
    double log_rho = rows(e, j * cols);
    for (int k = 0; k < K; ++k) {
      const double a = rows(e, j * cols + 1 + k), c = rows(e, j * cols + 1 + K + k);
      log_rho += (a + c * nu[k]) * nu[k];
      if (D) D[j * K + k] = a + 2.0 * c * nu[k];
    }
    E[j] = std::exp(std::clamp(log_rho, -30.0, 30.0));
    S += w[j] * E[j];
  }
  return S;
}

}  // namespace

double LearnedRatioModel::sum(const Eigen::MatrixXd& rows, const Eigen::VectorXd* weights, bool logarithm,
                              const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const {
  const auto& in = *inputs_;
  const int n = in.morphing.size(), T = in.morphing.parameters(), K = in.nuisances, P = T + K, cols = 1 + 2 * K;
  const Eigen::VectorXd theta = x.head(T), nu = x.segment(T, K);
  const Eigen::VectorXd w = in.morphing.weights(theta);
  const Eigen::MatrixXd dw = in.morphing.weight_gradient(theta);  // [n, T]
  std::vector<Eigen::VectorXd> d2w(std::size_t(T * T));
  if (hess)
    for (int p = 0; p < T; ++p)
      for (int q = 0; q < T; ++q) d2w[std::size_t(p * T + q)] = in.morphing.weight_hessian(theta, p, q);
  // Blocks of events summed apart (in parallel) and then in block order, so
  // the result does not depend on the thread count.
  struct Partial {
    double value = 0.0, compensation = 0.0;
    std::vector<double> g, h;
    bool outside = false;
  };
  const std::int64_t N = rows.rows(), block = 4096, blocks = (N + block - 1) / block;
  std::vector<Partial> parts(std::size_t(std::max<std::int64_t>(blocks, 0)));
  const bool derivatives = grad || hess;
  parallel_for(blocks, [&](std::int64_t b) {
    Partial& part = parts[std::size_t(b)];
    if (grad) part.g.assign(std::size_t(P), 0.0);
    if (hess) part.h.assign(std::size_t(P * P), 0.0);
    std::vector<double> E(static_cast<std::size_t>(n)), D(static_cast<std::size_t>(n * K)), dS(static_cast<std::size_t>(P)),
        d2S(static_cast<std::size_t>(P * P));
    for (std::int64_t e = b * block; e < std::min(N, (b + 1) * block); ++e) {
      const double u = weights && weights->size() ? (*weights)[e] : 1.0;
      if (u == 0.0) continue;
      const double S = event_ratio(rows, e, w, nu, E.data(), D.data());
      if (logarithm && !(S > 0.0)) {
        part.outside = true;
        return;
      }
      add(u * (logarithm ? std::log(S) : S), &part.value, &part.compensation);
      if (!derivatives) continue;
      for (int p = 0; p < P; ++p) dS[std::size_t(p)] = 0.0;
      for (int j = 0; j < n; ++j) {
        const double Ej = E[std::size_t(j)];
        for (int p = 0; p < T; ++p) dS[std::size_t(p)] += dw(j, p) * Ej;
        for (int k = 0; k < K; ++k) dS[std::size_t(T + k)] += w[j] * Ej * D[std::size_t(j * K + k)];
      }
      const double scale = logarithm ? u / S : u;
      if (grad)
        for (int p = 0; p < P; ++p) part.g[std::size_t(p)] += scale * dS[std::size_t(p)];
      if (!hess) continue;
      for (int p = 0; p < P * P; ++p) d2S[std::size_t(p)] = 0.0;
      for (int j = 0; j < n; ++j) {
        const double Ej = E[std::size_t(j)];
        for (int p = 0; p < T; ++p) {
          for (int q = 0; q <= p; ++q) d2S[std::size_t(p * P + q)] += d2w[std::size_t(p * T + q)][j] * Ej;
          for (int k = 0; k < K; ++k) d2S[std::size_t((T + k) * P + p)] += dw(j, p) * Ej * D[std::size_t(j * K + k)];
        }
        for (int k = 0; k < K; ++k)
          for (int l = 0; l <= k; ++l)
            d2S[std::size_t((T + k) * P + T + l)] +=
                w[j] * Ej * (D[std::size_t(j * K + k)] * D[std::size_t(j * K + l)] + (k == l ? 2.0 * rows(e, j * cols + 1 + K + k) : 0.0));
      }
      for (int p = 0; p < P; ++p)
        for (int q = 0; q <= p; ++q) {
          double v = scale * d2S[std::size_t(p * P + q)];
          if (logarithm) v -= u * dS[std::size_t(p)] * dS[std::size_t(q)] / (S * S);
          part.h[std::size_t(p * P + q)] += v;
        }
    }
  });
  double total = 0.0, compensation = 0.0;
  if (grad) grad->setZero(P);
  if (hess) hess->setZero(P, P);
  for (const Partial& part : parts) {
    if (part.outside) return std::numeric_limits<double>::infinity();
    add(part.value, &total, &compensation);
    add(part.compensation, &total, &compensation);
    if (grad)
      for (int p = 0; p < P; ++p) (*grad)[p] += part.g[std::size_t(p)];
    if (hess)
      for (int p = 0; p < P; ++p)
        for (int q = 0; q <= p; ++q) (*hess)(p, q) = (*hess)(q, p) = (*hess)(p, q) + part.h[std::size_t(p * P + q)];
  }
  return total + compensation;
}

double LearnedRatioModel::expected_yield(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const {
  const auto& in = *inputs_;
  const double scale = in.reference_yield / double(in.reference.rows());
  const double y = scale * sum(in.reference, nullptr, false, x, grad, hess);
  if (grad) *grad *= scale;
  if (hess) *hess *= scale;
  return y;
}

double LearnedRatioModel::data_nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const {
  Eigen::VectorXd g_yield, g_data;
  Eigen::MatrixXd h_yield, h_data;
  const double data = sum(events_, &weights_, true, x, grad ? &g_data : nullptr, hess ? &h_data : nullptr);
  if (!std::isfinite(data)) return std::numeric_limits<double>::infinity();
  const double yield = expected_yield(x, grad ? &g_yield : nullptr, hess ? &h_yield : nullptr);
  if (grad) *grad = g_yield - g_data;
  if (hess) *hess = h_yield - h_data;
  return yield - data;
}

Eigen::VectorXd LearnedRatioModel::ratios(const Eigen::MatrixXd& coefficients, const Eigen::VectorXd& x) const {
  const auto& in = *inputs_;
  const int T = in.morphing.parameters();
  const Eigen::VectorXd w = in.morphing.weights(x.head(T)), nu = x.segment(T, in.nuisances);
  std::vector<double> E(static_cast<std::size_t>(w.size()));
  Eigen::VectorXd S(coefficients.rows());
  for (Eigen::Index e = 0; e < coefficients.rows(); ++e) S[e] = event_ratio(coefficients, e, w, nu, E.data(), nullptr);
  return S;
}

std::vector<ProcessYields> LearnedRatioModel::expected_yields(const Eigen::VectorXd& x) const {
  return {{"events", "expected (learned ratio)", {expected_yield(x, nullptr, nullptr)}}};
}

std::vector<ProcessYields> LearnedRatioModel::observed_yields() const {
  const double n = weights_.size() ? weights_.sum() : double(events_.rows());
  return {{"events", "data", {n}}};
}

std::unique_ptr<Model> LearnedRatioModel::with_asimov_data(const Eigen::VectorXd& x) const {
  const auto& in = *inputs_;
  const Eigen::VectorXd u = in.reference_yield / double(in.reference.rows()) * ratios(in.reference, x);
  auto m = std::make_unique<LearnedRatioModel>(inputs_, in.reference, u);
  m->copy_parameters(*this);
  return m;
}

std::unique_ptr<Model> LearnedRatioModel::with_toy_data(const Eigen::VectorXd&, std::mt19937_64&) const {
  throw InputError("learned ratio", "toys", "pseudo-experiments need the simulator and the network: draw events and evaluate them");
}

std::string LearnedRatioModel::describe() const {
  return "learned likelihood ratio (" + std::to_string(events_.rows()) + " events, " +
         std::to_string(inputs_->morphing.size()) + " morphing basis points, " + std::to_string(inputs_->nuisances) +
         " nuisances)";
}

}  // namespace refinery::stats
