// Regions of events (unbinned: classifier fractions and per-process DCRs;
// binned: counts) behind the model interface: a likelihood::LikelihoodModel
// (fused kernels) for the data term, its parameters' constraints in the
// table (Gaussian or log-normal around the auxiliary measurement `centre`).
//
// Asimov data and toys of an unbinned region need the simulated events, which
// the measurement holds: it passes them as sources. Without sources a model
// whose regions are all binned observes its expected counts (Asimov) or
// Poisson draws of them (toys); an unbinned one refuses with an InputError.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "src/likelihood/likelihood_model.h"
#include "src/stats/model.h"

namespace refinery::stats {

class RegionModel : public Model {
 public:
  using AsimovSource = std::function<likelihood::LikelihoodModel(const Eigen::VectorXd& x)>;
  using ToySource = std::function<likelihood::LikelihoodModel(const Eigen::VectorXd& x, std::mt19937_64& rng)>;

  RegionModel(std::shared_ptr<const likelihood::LikelihoodModel> model, std::string description,
              AsimovSource asimov = {}, ToySource toy = {});

  const likelihood::LikelihoodModel& likelihood() const { return *model_; }

  double data_nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const override;
  std::vector<ProcessYields> observed_yields() const override;
  std::vector<ProcessYields> expected_yields(const Eigen::VectorXd& x) const override;
  std::unique_ptr<Model> with_asimov_data(const Eigen::VectorXd& x) const override;
  std::unique_ptr<Model> with_toy_data(const Eigen::VectorXd& x, std::mt19937_64& rng) const override;
  std::string describe() const override { return description_; }

 private:
  std::unique_ptr<Model> with_likelihood(likelihood::LikelihoodModel model) const;
  bool all_binned() const;
  std::shared_ptr<const likelihood::LikelihoodModel> model_;
  std::string description_;
  AsimovSource asimov_;
  ToySource toy_;
};

}  // namespace refinery::stats
