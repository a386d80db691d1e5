// Asymptotic hypothesis tests of any model (Cowan, Cranmer, Gross, Vitells,
// arXiv:1007.1727): test statistics q_mu, q~_mu and q0 on one POI (the other
// free parameters, other POIs included, profiled); CLs+b, CLb and CLs
// observed and the expected band from the Asimov data set; 95% CLs upper
// limits by root finding. Conventions as pyhf's (infer.hypotest with the
// asymptotic calculator).
#pragma once
#include <array>
#include <limits>
#include <memory>
#include <string>

#include "src/stats/fit.h"
#include "src/stats/model.h"

namespace refinery::stats {

enum class TestStat { kQtilde, kQ, kQ0 };
TestStat parse_test_stat(const std::string& name);  // "qtilde", "q", "q0"; InputError naming --test-stat

// Refuses (InputError naming `flag`) a POI value that is not finite or lies
// outside the POI's bounds, as pyhf does: the test would fit a model the
// workspace does not define. Widen the bounds explicitly to test it.
void check_poi_value(const Model& model, int poi, double value, const std::string& flag);

// The test statistic `stat` at POI value mu (0 for q0) on a model with its
// data, given its free fit: the conditional fit, started from `start`, is
// returned in *cond. q and q~ are 0 where the free fit's POI lies above mu,
// q0 where it lies below 0 (the lower bound of the POI makes q~ of q).
double test_statistic(const Model& data, int poi, TestStat stat, double mu, const FitResult& free_fit,
                      const Eigen::VectorXd& start, const FitOptions& options, FitResult* cond);

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

// Asymptotic calculator for one model (with its data) and one POI: the free
// fits and the Asimov data are computed once and reused across tested values.
class AsymptoticCalculator {
 public:
  AsymptoticCalculator(const Model& model, int poi, TestStat stat = TestStat::kQtilde,
                       const FitOptions& options = {});
  HypotestResult hypotest(double mu);
  // Upper limits at CLs = level (0.05: 95% CL): observed and the five
  // expected quantiles, by Brent's method in [max(lower bound, 0), upper bound].
  struct Limits {
    double observed;
    std::array<double, 5> expected;
  };
  Limits upper_limits(double level = 0.05);
  const FitResult& free_fit() const { return free_data_; }
  const Model& asimov() const { return *asimov_; }

 private:
  double test_statistic(const Model& data, const FitResult& free_fit, double mu, Eigen::VectorXd* warm);
  void record(const FitResult& f, const char* which);
  const Model& model_;
  int poi_;
  TestStat stat_;
  FitOptions options_;
  std::unique_ptr<Model> asimov_;
  FitResult free_data_, free_asimov_;
  Eigen::VectorXd warm_data_, warm_asimov_;
  bool converged_ = true;
  std::string message_;
};

}  // namespace refinery::stats
