// A combination of models: one model whose parts share parameters by name
// (a pyhf workspace's channels and unbinned regions, two workspaces, ...).
// Its NLL is the sum of the parts' data terms plus one constraint per
// parameter: a parameter that several parts constrain must be constrained
// alike (kind, width, auxiliary datum), or the combination is refused.
// Bounds are intersected; a parameter is fixed if any part fixes it; it is a
// POI if any part makes it one (a POI constrained elsewhere is refused).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "src/stats/model.h"

namespace refinery::stats {

class CombinedModel : public Model {
 public:
  // InputError naming the parameter on a conflict.
  explicit CombinedModel(std::vector<std::shared_ptr<const Model>> parts);

  int parts() const { return static_cast<int>(parts_.size()); }
  const Model& part(int k) const { return *parts_[k]; }
  // Index in the combination of parameter i of part k.
  int map(int k, int i) const { return maps_[k][i]; }

  double data_nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const override;
  // The parts' yields, in part order.
  std::vector<ProcessYields> observed_yields() const override;
  std::vector<ProcessYields> expected_yields(const Eigen::VectorXd& x) const override;
  std::unique_ptr<Model> with_asimov_data(const Eigen::VectorXd& x) const override;
  std::unique_ptr<Model> with_toy_data(const Eigen::VectorXd& x, std::mt19937_64& rng) const override;
  std::vector<int> multimodal_parameters() const override;
  std::vector<std::pair<int, double>> breakpoints() const override;
  std::string describe() const override;

 private:
  Eigen::VectorXd part_x(int k, const Eigen::VectorXd& x) const;
  std::vector<std::shared_ptr<const Model>> parts_;
  std::vector<std::vector<int>> maps_;
};

}  // namespace refinery::stats
