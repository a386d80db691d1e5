// Profile-likelihood fits and asymptotic hypothesis tests on a binned
// model (Cowan, Cranmer, Gross, Vitells, arXiv:1007.1727): test statistics
// q_mu, q~_mu and q0; CLs+b, CLb and CLs observed and the expected band from
// the Asimov data set; 95% CLs upper limits by root finding.
#pragma once
#include <array>
#include <string>

#include "src/fit/newton_minimizer.h"
#include "src/histfactory/hf_model.h"

namespace refinery::histfactory {

enum class TestStat { kQtilde, kQ, kQ0 };
TestStat parse_test_stat(const std::string& name);  // "qtilde", "q", "q0"

// Refuses (InputError naming `flag`) a POI value that is not finite or lies
// outside the POI's bounds, as pyhf does: the test would fit a model the
// workspace does not define. Widen the bounds explicitly to test it.
void check_poi_value(const HistFactoryModel& model, double value, const std::string& flag);

struct FitResult {
  Eigen::VectorXd x;
  double twice_nll = 0.0;
  MinimizerResult minimizer;
  Eigen::VectorXd errors;  // sqrt(diag(H^-1)) over the free parameters, 0 otherwise
  Eigen::MatrixXd covariance;
};

// Maximum-likelihood fit; `poi_value` fixes the POI when finite.
FitResult fit(const HistFactoryModel& model, const Data& data,
              double poi_value = std::numeric_limits<double>::quiet_NaN(),
              const Eigen::VectorXd* start = nullptr, bool with_errors = false);

struct HypotestResult {
  double mu = 1.0;
  double q_obs = 0.0, q_asimov = 0.0;
  double clsb = 0.0, clb = 0.0, cls = 0.0;  // for q0: clsb = p0
  // q, q~: expected CLs at -2, -1, 0, +1, +2 sigma of the background-only
  // expectation (ascending). q0: expected p0 in pyhf's order (ascending:
  // +2 sigma of the signal expectation first).
  std::array<double, 5> cls_exp{};
  bool converged = true;
  std::string message;  // why a fit failed, when one did
};

// Asymptotic calculator for one model and data set: the free fits and the
// Asimov data are computed once and reused across tested mu values.
class AsymptoticCalculator {
 public:
  AsymptoticCalculator(const HistFactoryModel& model, const Data& data, TestStat stat = TestStat::kQtilde);
  HypotestResult hypotest(double mu);
  // 95% (level 0.05) CLs upper limits on the POI: observed and the five
  // expected quantiles, by Brent's method in [lower bound, upper bound].
  struct Limits {
    double observed;
    std::array<double, 5> expected;
  };
  Limits upper_limits(double level = 0.05);

 private:
  double test_statistic(const Data& data, const FitResult& free_fit, double mu, Eigen::VectorXd* warm);
  const HistFactoryModel& model_;
  Data data_, asimov_;
  TestStat stat_;
  FitResult free_data_, free_asimov_;
  Eigen::VectorXd warm_data_, warm_asimov_;
  bool converged_ = true;
  std::string message_;
  void record(const FitResult& f, const char* which);
};

}  // namespace refinery::histfactory
