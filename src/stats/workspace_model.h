// A pyhf workspace (HistFactoryModel, compiled once and shared) with its
// main data, behind the model interface. Parameters, bounds, constraints
// and auxiliary data as the workspace's measurement declares them; the POI
// is the measurement's (none for a background-only workspace).
#pragma once
#include <memory>
#include <string>

#include "src/histfactory/hf_model.h"
#include "src/stats/model.h"

namespace refinery::stats {

class WorkspaceModel : public Model {
 public:
  // The workspace's observed data.
  explicit WorkspaceModel(std::shared_ptr<const histfactory::HistFactoryModel> model);
  explicit WorkspaceModel(const histfactory::HistFactoryModel& model)
      : WorkspaceModel(std::make_shared<const histfactory::HistFactoryModel>(model)) {}
  WorkspaceModel(std::shared_ptr<const histfactory::HistFactoryModel> model, const histfactory::Data& data);

  const histfactory::HistFactoryModel& histfactory() const { return *model_; }
  const Eigen::VectorXd& main_data() const { return main_; }
  // Main and auxiliary data in the workspace's layout.
  histfactory::Data data() const;

  double data_nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const override;
  std::vector<ProcessYields> observed_yields() const override;
  std::vector<ProcessYields> expected_yields(const Eigen::VectorXd& x) const override;
  std::unique_ptr<Model> with_asimov_data(const Eigen::VectorXd& x) const override;
  std::unique_ptr<Model> with_toy_data(const Eigen::VectorXd& x, std::mt19937_64& rng) const override;
  std::vector<int> multimodal_parameters() const override { return model_->multimodal_parameters(); }
  std::vector<std::pair<int, double>> breakpoints() const override;
  std::string describe() const override;

 private:
  std::shared_ptr<const histfactory::HistFactoryModel> model_;
  Eigen::VectorXd main_;
};

}  // namespace refinery::stats
