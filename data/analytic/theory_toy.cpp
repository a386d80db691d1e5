#include "data/analytic/theory_toy.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace refinery::analytic {

namespace {

constexpr double kPi = 3.14159265358979323846;

// The 8-point Gauss-Legendre rule on [-1, 1] (Abramowitz and Stegun, table 25.4).
constexpr std::array<double, 4> kNodes8{0.1834346424956498, 0.5255324099163290, 0.7966664774136267, 0.9602898564975363};
constexpr std::array<double, 4> kWeights8{0.3626837833783620, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763};

// visit(z, w) for every node z and weight w of the 8-point rule on `panels`
// equal panels of [a, b].
template <typename V>
void for_nodes(double a, double b, int panels, V visit) {
  const double h = (b - a) / panels;
  for (int i = 0; i < panels; ++i) {
    const double mid = a + (i + 0.5) * h, half = 0.5 * h;
    for (int k = 0; k < 4; ++k) {
      visit(mid - half * kNodes8[k], half * kWeights8[k]);
      visit(mid + half * kNodes8[k], half * kWeights8[k]);
    }
  }
}

// int_a^b f by that rule.
template <typename F>
double integrate(F f, double a, double b, int panels) {
  double sum = 0.0;
  for_nodes(a, b, panels, [&](double z, double w) { sum += w * f(z); });
  return sum;
}

// G_ab = int_{-1}^{1} a_a a_b dz: A^2 is a polynomial of degree 4, exact with one 8-point panel.
Eigen::Matrix3d gram() {
  Eigen::Matrix3d G = Eigen::Matrix3d::Zero();
  for_nodes(-1.0, 1.0, 1, [&](double z, double w) {
    const Eigen::Vector3d a = TheoryToy::basis_amplitudes(z);
    G += w * a * a.transpose();
  });
  return G;
}

const Eigen::Matrix3d& gram_matrix() {
  static const Eigen::Matrix3d G = gram();
  return G;
}

Eigen::Vector3d extended(const Eigen::Vector2d& theta) { return {1.0, theta[0], theta[1]}; }

}  // namespace

Eigen::Vector3d TheoryToy::basis_amplitudes(double z) { return {1.0 + 0.4 * z, z, 0.5 * (3.0 * z * z - 1.0)}; }

double TheoryToy::amplitude(double z, const Eigen::Vector2d& theta) { return basis_amplitudes(z).dot(extended(theta)); }

double TheoryToy::cross_section(const Eigen::Vector2d& theta, Eigen::Vector2d* gradient) {
  const Eigen::Vector3d t = extended(theta);
  const Eigen::Vector3d Gt = gram_matrix() * t;
  if (gradient) *gradient = 2.0 * kSigma0 * Gt.tail<2>();
  return kSigma0 * t.dot(Gt);
}

double TheoryToy::log_pdf_z(double z, const Eigen::Vector2d& theta) {
  const double A = amplitude(z, theta);
  return std::log(kSigma0 * A * A) - std::log(cross_section(theta));
}

double TheoryToy::joint_log_ratio(double z, const Eigen::Vector2d& theta0, const Eigen::Vector2d& theta1) {
  return log_pdf_z(z, theta0) - log_pdf_z(z, theta1);
}

Eigen::Vector2d TheoryToy::joint_score(double z, const Eigen::Vector2d& theta) {
  const Eigen::Vector3d a = basis_amplitudes(z);
  const double A = a.dot(extended(theta));
  Eigen::Vector2d dsigma;
  const double sigma = cross_section(theta, &dsigma);
  return 2.0 * a.tail<2>() / A - dsigma / sigma;
}

double TheoryToy::log_response(const Eigen::Vector2d& x, double z, double nu) {
  const double k = 1.0 + kScaleSlope * nu;
  const double u1 = (x[0] - k * z) / kResolution1, u2 = (x[1] - z * z) / kResolution2;
  return -0.5 * (u1 * u1 + u2 * u2) - std::log(2.0 * kPi * kResolution1 * kResolution2);
}

double TheoryToy::pdf_x(const Eigen::Vector2d& x, const Eigen::Vector2d& theta, double nu) {
  const double sigma = cross_section(theta);
  return integrate(
      [&](double z) {
        const double A = amplitude(z, theta);
        return kSigma0 * A * A / sigma * std::exp(log_response(x, z, nu));
      },
      -1.0, 1.0, 40);
}

Eigen::Matrix2d TheoryToy::fisher_parton(double luminosity) {
  return 4.0 * luminosity * kSigma0 * gram_matrix().bottomRightCorner<2, 2>();
}

namespace {

// At z: sigma_0 A^2 and its theta-gradient 2 sigma_0 A a_{1,2}.
void intensity(double z, const Eigen::Vector2d& theta, double* lambda, Eigen::Vector2d* gradient) {
  const Eigen::Vector3d a = TheoryToy::basis_amplitudes(z);
  const double A = a.dot(extended(theta));
  *lambda = TheoryToy::kSigma0 * A * A;
  *gradient = 2.0 * TheoryToy::kSigma0 * A * a.tail<2>();
}


double normal_cdf(double u) { return 0.5 * std::erfc(-u / std::sqrt(2.0)); }

// int sigma_0 A^2 factor(z) dz and its theta-gradient, by the z quadrature.
template <typename F>
void folded_intensity(const Eigen::Vector2d& theta, F factor, double* value, Eigen::Vector2d* gradient) {
  *value = 0.0;
  gradient->setZero();
  for_nodes(-1.0, 1.0, 40, [&](double z, double w) {  // pdf_x's quadrature
    double l;
    Eigen::Vector2d g;
    intensity(z, theta, &l, &g);
    const double f = factor(z);
    *value += w * l * f;
    *gradient += w * g * f;
  });
}

}  // namespace

Eigen::Matrix2d TheoryToy::fisher_detector(const Eigen::Vector2d& theta, double nu, double luminosity) {
  const int n = 160;
  const double x1lo = -2.1, x1hi = 2.1, x2lo = -0.7, x2hi = 1.7;
  Eigen::Matrix2d I = Eigen::Matrix2d::Zero();
  for (int i = 0; i <= n; ++i)
    for (int j = 0; j <= n; ++j) {
      const Eigen::Vector2d x(x1lo + (x1hi - x1lo) * i / n, x2lo + (x2hi - x2lo) * j / n);
      double lambda;
      Eigen::Vector2d d;
      folded_intensity(theta, [&](double z) { return std::exp(log_response(x, z, nu)); }, &lambda, &d);
      if (!(lambda > 0.0)) continue;
      const double wt = (i == 0 || i == n ? 0.5 : 1.0) * (j == 0 || j == n ? 0.5 : 1.0);
      I += wt * d * d.transpose() / lambda;
    }
  return luminosity * I * ((x1hi - x1lo) / n) * ((x2hi - x2lo) / n);
}

Eigen::Matrix2d TheoryToy::fisher_histogram(const Eigen::Vector2d& theta, double nu, double luminosity,
                                            const std::vector<double>& edges1, const std::vector<double>& edges2) {
  const double k = 1.0 + kScaleSlope * nu;
  const double inf = std::numeric_limits<double>::infinity();
  auto bins = [&](const std::vector<double>& edges) {
    std::vector<std::pair<double, double>> b;
    if (edges.empty()) return std::vector<std::pair<double, double>>{{-inf, inf}};
    b.push_back({-inf, edges.front()});
    for (std::size_t i = 0; i + 1 < edges.size(); ++i) b.push_back({edges[i], edges[i + 1]});
    b.push_back({edges.back(), inf});
    return b;
  };
  const auto b1 = bins(edges1), b2 = bins(edges2);
  Eigen::Matrix2d I = Eigen::Matrix2d::Zero();
  for (const auto& [lo1, hi1] : b1)
    for (const auto& [lo2, hi2] : b2) {
      double mu;
      Eigen::Vector2d d;
      folded_intensity(
          theta,
          [&](double z) {
            return (normal_cdf((hi1 - k * z) / kResolution1) - normal_cdf((lo1 - k * z) / kResolution1)) *
                   (normal_cdf((hi2 - z * z) / kResolution2) - normal_cdf((lo2 - z * z) / kResolution2));
          },
          &mu, &d);
      if (mu > 0.0) I += d * d.transpose() / mu;
    }
  return luminosity * I;
}

std::vector<TheoryToy::Event> TheoryToy::sample(const Eigen::Vector2d& theta, double nu, std::int64_t n,
                                                std::mt19937_64& rng) {
  const double sigma = cross_section(theta);
  // CDF(z) = int_{-1}^{z} sigma_0 A^2 / sigma: exact with one 8-point panel.
  auto cdf = [&](double z) {
    return integrate(
        [&](double v) {
          const double A = amplitude(v, theta);
          return kSigma0 * A * A / sigma;
        },
        -1.0, z, 1);
  };
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> g(0.0, 1.0);
  const double k = 1.0 + kScaleSlope * nu;
  std::vector<Event> out;
  out.reserve(std::size_t(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double target = u(rng);
    double lo = -1.0, hi = 1.0;
    while (hi - lo > 1e-14) {
      const double mid = 0.5 * (lo + hi);
      (cdf(mid) < target ? lo : hi) = mid;
    }
    const double z = 0.5 * (lo + hi);
    out.push_back({z, Eigen::Vector2d(k * z + kResolution1 * g(rng), z * z + kResolution2 * g(rng))});
  }
  return out;
}

double TheoryToy::response_score(const Eigen::Vector2d& x, double z, double nu) {
  const double k = 1.0 + kScaleSlope * nu;
  return (x[0] - k * z) * z * kScaleSlope / (kResolution1 * kResolution1);
}

TheoryToy::ScoreSample TheoryToy::score_sample(const Eigen::Vector2d& theta, std::int64_t n, std::mt19937_64& rng) {
  const auto events = sample(theta, 0.0, n, rng);
  ScoreSample r;
  r.x.resize(n, 2);
  r.score.resize(n, 2);
  for (std::int64_t i = 0; i < n; ++i) {
    r.x.row(i) = events[std::size_t(i)].x.transpose();
    r.score.row(i) = joint_score(events[std::size_t(i)].z, theta).transpose();
  }
  return r;
}

TheoryToy::RatioSample TheoryToy::ratio_sample(const Eigen::Vector2d& reference, bool with_nuisance, std::int64_t n,
                                               std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::normal_distribution<double> g;
  const int P = with_nuisance ? 3 : 2;
  const auto at_reference = sample(reference, 0.0, n, rng);
  RatioSample r;
  r.x.resize(2 * n, 2);
  r.parameters.resize(2 * n, P);
  r.joint_score.resize(2 * n, P);
  r.joint_log_ratio.resize(2 * n);
  r.label.resize(2 * n);
  for (std::int64_t i = 0; i < n; ++i) {
    const Eigen::Vector2d theta(reference[0] + u(rng), reference[1] + u(rng));
    const double nu = with_nuisance ? std::clamp(g(rng), -3.0, 3.0) : 0.0;
    const Event e = sample(theta, nu, 1, rng).front();
    for (std::int64_t row : {2 * i, 2 * i + 1}) {
      const Event& ev = row == 2 * i ? e : at_reference[std::size_t(i)];
      r.x.row(row) = ev.x.transpose();
      r.parameters(row, 0) = theta[0], r.parameters(row, 1) = theta[1];
      r.joint_log_ratio[row] = joint_log_ratio(ev.z, theta, reference) + log_response(ev.x, ev.z, nu) - log_response(ev.x, ev.z, 0.0);
      r.joint_score.row(row).head<2>() = joint_score(ev.z, theta).transpose();
      if (with_nuisance) {
        r.parameters(row, 2) = nu;
        r.joint_score(row, 2) = response_score(ev.x, ev.z, nu);
      }
      r.label[row] = row == 2 * i ? 0.0 : 1.0;
    }
  }
  return r;
}

TheoryToy::PairedRatioSample TheoryToy::ratio_sample(const RatioSampling& s, std::int64_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> g;
  const int P = s.with_nuisance ? 3 : 2;
  auto draw = [&](Eigen::Vector2d* theta, double* nu) {
    for (int p = 0; p < 2; ++p) (*theta)[p] = s.prior_lower[p] + (s.prior_upper[p] - s.prior_lower[p]) * u(rng);
    *nu = s.with_nuisance ? std::clamp(g(rng), -3.0, 3.0) : 0.0;
  };
  PairedRatioSample r;
  r.x.resize(2 * n, 2);
  r.parameters.resize(2 * n, P);
  r.denominators.resize(2 * n, P);
  r.joint_score.resize(2 * n, P);
  r.joint_log_ratio.resize(2 * n);
  r.label.resize(2 * n);
  for (std::int64_t i = 0; i < n; ++i) {
    Eigen::Vector2d theta, theta1 = s.reference;
    double nu = 0.0, nu1 = 0.0;
    draw(&theta, &nu);
    if (s.denominator_from_prior) draw(&theta1, &nu1);
    const Event numerator = sample(theta, nu, 1, rng).front();
    const Event denominator = sample(theta1, nu1, 1, rng).front();
    for (std::int64_t row : {2 * i, 2 * i + 1}) {
      const Event& ev = row == 2 * i ? numerator : denominator;
      r.x.row(row) = ev.x.transpose();
      r.parameters.row(row).head<2>() = theta.transpose();
      r.denominators.row(row).head<2>() = theta1.transpose();
      r.joint_log_ratio[row] =
          joint_log_ratio(ev.z, theta, theta1) + log_response(ev.x, ev.z, nu) - log_response(ev.x, ev.z, nu1);
      r.joint_score.row(row).head<2>() = joint_score(ev.z, theta).transpose();
      if (s.with_nuisance) {
        r.parameters(row, 2) = nu;
        r.denominators(row, 2) = nu1;
        r.joint_score(row, 2) = response_score(ev.x, ev.z, nu);
      }
      r.label[row] = row == 2 * i ? 0.0 : 1.0;
    }
  }
  return r;
}

}  // namespace refinery::analytic
