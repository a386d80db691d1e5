// The statistical model: one interface behind which every likelihood of
// refinery sits (a pyhf workspace, regions of events with learned pieces,
// their combination), and over which every inference routine works
// (src/stats/fit.h, profile.h, hypotest.h, impacts.h).
//
// A model holds its parameter table and its data. Its negative
// log-likelihood is the data term (the derived class's, main data: counts or
// events) plus one constraint term per constrained parameter
// (constraint.h), whose auxiliary datum is stored in the table: so Asimov
// data and toys replace the main data (derived class) and the auxiliary data
// (here), and a combination holds each shared parameter's constraint once.
#pragma once
#include <Eigen/Dense>

#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "src/stats/constraint.h"

namespace refinery::stats {

struct Parameter {
  std::string name;
  double init = 0.0;
  double lower = -std::numeric_limits<double>::infinity();
  double upper = std::numeric_limits<double>::infinity();
  bool fixed = false;
  bool poi = false;  // a parameter of interest
  Constraint constraint = Constraint::kNone;
  double width = 1.0;  // Gaussian / log-normal: sigma; Poisson: tau
  double aux = 0.0;    // the auxiliary measurement (observed, Asimov or toy)
};

// The expected yield of one process in one region: per bin (a binned region,
// a workspace channel) or per cell of the classifier output (an unbinned
// region with the simulated-sample statistics; one total without).
struct ProcessYields {
  std::string region, process;
  std::vector<double> bins;
};

class Model {
 public:
  virtual ~Model() = default;

  // --- parameter table
  const std::vector<Parameter>& parameters() const { return parameters_; }
  int size() const { return static_cast<int>(parameters_.size()); }
  int index(const std::string& name) const;  // -1 if absent
  std::vector<std::string> names() const;
  std::vector<int> pois() const;
  // The POI named (or the first POI for ""): InputError naming `flag` when
  // the model has none or none of that name.
  int poi(const std::string& name = "", const std::string& flag = "--poi") const;
  Eigen::VectorXd init() const;
  Eigen::VectorXd lower() const;
  Eigen::VectorXd upper() const;
  std::vector<bool> fixed() const;
  // Overrides one parameter's bounds (init clamped into them); InputError
  // naming `flag` if !(lo < hi).
  void set_bounds(int index, double lo, double hi, const std::string& flag = "--poi-bounds");
  void set_fixed(int index, bool fixed) { parameters_.at(index).fixed = fixed; }
  void set_init(int index, double value) { parameters_.at(index).init = value; }
  // Renames a parameter (a combination's prefixes and shared names; the
  // likelihood does not depend on names). InputError naming `where` if
  // another parameter already has the name.
  void rename(int index, const std::string& name, const std::string& where = "parameter");
  // Adopts `other`'s parameter table (bounds, fixed flags, initial values,
  // auxiliary data): this model as a view of the same parameters on other
  // bins. std::logic_error unless the names agree.
  void copy_parameters(const Model& other);

  // --- likelihood
  // -log L(x) of the model's data: data term plus constraints; gradient and
  // Hessian when the pointers are set. +inf outside the domain.
  double nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad = nullptr, Eigen::MatrixXd* hess = nullptr) const;
  // The constraint terms alone (added to grad/hess when set, which must be
  // sized).
  double constraint_nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const;
  // The data term alone: sets grad [size] and hess [size, size] when given.
  virtual double data_nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const = 0;

  // Expected yields per region and process at x (pre-fit at init(), post-fit
  // at the best fit): the expectation of the main data, with the
  // simulated-sample statistics' factors at 1.
  virtual std::vector<ProcessYields> expected_yields(const Eigen::VectorXd& x) const = 0;
  // The observed main data in the same layout, process "data" (an unbinned
  // region: its events per cell, weighted for Asimov data).
  virtual std::vector<ProcessYields> observed_yields() const = 0;

  // --- data sets
  // The same model observing its expectation at x (main and auxiliary).
  std::unique_ptr<Model> asimov(const Eigen::VectorXd& x) const;
  // A pseudo-experiment drawn at x: main data, then auxiliary data, from one
  // stream seeded by `seed`.
  std::unique_ptr<Model> toy(const Eigen::VectorXd& x, std::uint64_t seed) const;
  // The auxiliary data alone set to their Asimov values at x (for a model
  // built on main data that are already Asimov at x).
  void set_asimov_aux(const Eigen::VectorXd& x);
  // The main data alone replaced (auxiliary data as in this model).
  virtual std::unique_ptr<Model> with_asimov_data(const Eigen::VectorXd& x) const = 0;
  virtual std::unique_ptr<Model> with_toy_data(const Eigen::VectorXd& x, std::mt19937_64& rng) const = 0;

  // --- hints for the minimiser (newton_minimizer.h)
  // Parameters along which the NLL may have a minimum on each side.
  virtual std::vector<int> multimodal_parameters() const { return {}; }
  // (parameter, value) where the NLL's first derivative jumps.
  virtual std::vector<std::pair<int, double>> breakpoints() const { return {}; }

  // One line: what the model is ("pyhf workspace FILE", ...).
  virtual std::string describe() const = 0;

 protected:
  Model() = default;
  Model(const Model&) = default;
  Model& operator=(const Model&) = default;
  std::vector<Parameter> parameters_;
};

}  // namespace refinery::stats
