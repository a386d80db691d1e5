// A simulator with two theory parameters and a known likelihood (issue 17
// item 1), MadMiner's setting in miniature: a latent angle z = cos(theta*)
// in [-1, 1] produced with the amplitude
//     A(z|theta) = a_0(z) + theta_1 a_1(z) + theta_2 a_2(z),
//     a_0 = 1 + 0.4 z (the SM, forward-backward asymmetric),
//     a_1 = z, a_2 = (3 z^2 - 1) / 2 (the Legendre polynomial P_2),
//     dsigma/dz = sigma_0 A^2,  sigma(theta) = sigma_0 int A^2 dz
// (a quadratic form in (1, theta_1, theta_2): morphing is exact with 6
// components); a detector that measures
//     x_1 = k(nu) z + N(0, 0.15),  x_2 = z^2 + N(0, 0.1),  k(nu) = 1 + 0.05 nu,
// with an energy-scale nuisance nu (prior N(0, 1)). Known exactly:
//   - p(z|theta) = sigma_0 A^2 / sigma(theta) and the total rate sigma(theta);
//   - the joint log ratio log r(x,z|theta0,theta1) = log p(z|theta0) - log p(z|theta1)
//     and the joint score t(x,z|theta) = d log p(z|theta) / d theta (the
//     detector's factor cancels: it does not depend on theta);
//   - the detector-level density p(x|theta,nu) = int p(z|theta) N(x_1; k z, 0.15)
//     N(x_2; z^2, 0.1) dz, by Gauss-Legendre quadrature (320 nodes in 40
//     panels; tested to 1e-9 against a finer rule).
// LibTorch-free.
#pragma once
#include <Eigen/Dense>

#include <cstdint>
#include <random>
#include <vector>

namespace refinery::analytic {

class TheoryToy {
 public:
  static constexpr double kSigma0 = 10.0;  // fb: sigma at theta = 0 is sigma_0 int a_0^2 dz
  static constexpr double kScaleSlope = 0.05, kResolution1 = 0.15, kResolution2 = 0.1;

  // Amplitude A(z|theta) and the basis amplitudes a(z) = (a_0, a_1, a_2).
  static Eigen::Vector3d basis_amplitudes(double z);
  static double amplitude(double z, const Eigen::Vector2d& theta);
  // sigma(theta) and its gradient.
  static double cross_section(const Eigen::Vector2d& theta, Eigen::Vector2d* gradient = nullptr);
  static double log_pdf_z(double z, const Eigen::Vector2d& theta);
  static double joint_log_ratio(double z, const Eigen::Vector2d& theta0, const Eigen::Vector2d& theta1);
  static Eigen::Vector2d joint_score(double z, const Eigen::Vector2d& theta);
  // The detector response p(x|z, nu) and the detector-level density.
  static double log_response(const Eigen::Vector2d& x, double z, double nu);
  static double pdf_x(const Eigen::Vector2d& x, const Eigen::Vector2d& theta, double nu);

  // Fisher information on theta for a luminosity L (fb^-1) in the extended
  // likelihood (a Poisson number of events times their densities): events
  // of intensity lambda(v) = L dsigma/dv give I_ij = int d_i lambda d_j lambda / lambda.
  //   parton level (v = z): 4 L sigma_0 int a_i a_j dz, the same at every theta;
  //   detector level (v = x, nu known): a trapezoid rule on 161^2 points
  //     over x_1 in [-2.1, 2.1], x_2 in [-0.7, 1.7], lambda and its
  //     derivatives by the z quadrature at each;
  //   histograms of the observables: bins of x_1 (`edges1`) times bins of
  //     x_2 (`edges2`; empty: x_2 not binned), the outer bins open to
  //     infinity, each bin's expected count exact through the smearing's
  //     normal distribution functions.
  static Eigen::Matrix2d fisher_parton(double luminosity);
  static Eigen::Matrix2d fisher_detector(const Eigen::Vector2d& theta, double nu, double luminosity);
  static Eigen::Matrix2d fisher_histogram(const Eigen::Vector2d& theta, double nu, double luminosity,
                                          const std::vector<double>& edges1, const std::vector<double>& edges2);

  struct Event {
    double z;
    Eigen::Vector2d x;
  };
  // n events at (theta, nu): z by inverting the CDF (a polynomial of degree
  // 5, bisection to 1e-14), the smearing from `rng`.
  static std::vector<Event> sample(const Eigen::Vector2d& theta, double nu, std::int64_t n, std::mt19937_64& rng);

  // Training events of a ratio estimator (train/ratio_estimator.h): for
  // i < n, row 2i an event drawn at theta = reference + U([-1, 1]^2) (and,
  // with the nuisance, nu ~ N(0, 1) clipped at 3; else nu = 0), row 2i + 1
  // an event drawn at (reference, 0) paired with the same parameters; the
  // joint log ratio log p(x,z|theta,nu) - log p(x,z|reference,0) and the
  // joint score in (theta, nu) of every row; label 0 (drawn at theta) or 1.
  // The reference events are drawn first, then each pair's parameters and
  // event in turn, from `rng`.
  struct RatioSample {
    Eigen::MatrixXd x, parameters, joint_score;  // [2n, 2], [2n, P], [2n, P]; P = 2 (+ 1 with the nuisance)
    Eigen::VectorXd joint_log_ratio, label;      // [2n]
  };
  static RatioSample ratio_sample(const Eigen::Vector2d& reference, bool with_nuisance, std::int64_t n, std::mt19937_64& rng);
  // The same with a stated prior (MadMiner's sample_train_ratio): theta
  // (the numerator, label 0) uniform in the box [prior_lower, prior_upper];
  // the denominator theta_1 (label 1) the reference, or drawn from the same
  // prior; with the nuisance, nu ~ N(0, 1) clipped at 3 for the numerator
  // and, where theta_1 is drawn, for the denominator too (else 0). Rows 2i
  // and 2i + 1 share (theta, nu) and (theta_1, nu_1); the joint log ratio
  // is log p(x,z|theta,nu) - log p(x,z|theta_1,nu_1) and the joint score is
  // at (theta, nu) for every row. `denominators` [2n, P] holds (theta_1, nu_1).
  struct RatioSampling {
    Eigen::Vector2d reference{0.0, 0.0}, prior_lower{-1.0, -1.0}, prior_upper{1.0, 1.0};
    bool with_nuisance = false;
    bool denominator_from_prior = false;
  };
  struct PairedRatioSample : RatioSample {
    Eigen::MatrixXd denominators;
  };
  static PairedRatioSample ratio_sample(const RatioSampling& sampling, std::int64_t n, std::mt19937_64& rng);
  // n events at (theta, nu = 0) from `rng`: observables x [n, 2] and joint
  // scores t(x,z|theta) [n, 2] (SALLY's training data and its estimate's).
  struct ScoreSample {
    Eigen::MatrixXd x, score;
  };
  static ScoreSample score_sample(const Eigen::Vector2d& theta, std::int64_t n, std::mt19937_64& rng);
  // d log p(x|z, nu) / d nu.
  static double response_score(const Eigen::Vector2d& x, double z, double nu);
};

}  // namespace refinery::analytic
