#include "src/stats/region_model.h"

#include "src/core/error.h"

namespace refinery::stats {

RegionModel::RegionModel(std::shared_ptr<const likelihood::LikelihoodModel> model, std::string description,
                         AsimovSource asimov, ToySource toy)
    : model_(std::move(model)), description_(std::move(description)), asimov_(std::move(asimov)),
      toy_(std::move(toy)) {
  for (const auto& lp : model_->spec().parameters) {
    Parameter p;
    p.name = lp.name;
    p.init = lp.init;
    p.lower = lp.lower;
    p.upper = lp.upper;
    p.poi = lp.kind == likelihood::ParameterKind::kPoi;
    if (lp.constraint == likelihood::Constraint::kGaussian) p.constraint = Constraint::kGaussian;
    if (lp.constraint == likelihood::Constraint::kLogNormal) p.constraint = Constraint::kLogNormal;
    p.width = lp.width;
    p.aux = lp.centre;
    parameters_.push_back(p);
  }
}

double RegionModel::data_nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const {
  return model_->evaluate(x, grad, hess);
}

std::vector<ProcessYields> RegionModel::observed_yields() const {
  std::vector<ProcessYields> out;
  for (const auto& r : model_->regions())
    out.push_back({r.name, "data", r.observed});
  return out;
}

std::vector<ProcessYields> RegionModel::expected_yields(const Eigen::VectorXd& x) const {
  std::vector<ProcessYields> out;
  const auto per_process = model_->expected_per_process(x);
  for (size_t r = 0; r < per_process.size(); ++r)
    for (int p = 0; p < model_->spec().P(); ++p)
      out.push_back({model_->regions()[r].name, model_->spec().processes[p], per_process[r][p]});
  return out;
}

bool RegionModel::all_binned() const {
  for (const auto& r : model_->regions())
    if (!r.binned) return false;
  return true;
}

std::unique_ptr<Model> RegionModel::with_likelihood(likelihood::LikelihoodModel model) const {
  auto m = std::make_unique<RegionModel>(*this);
  m->model_ = std::make_shared<const likelihood::LikelihoodModel>(std::move(model));
  return m;
}

std::unique_ptr<Model> RegionModel::with_asimov_data(const Eigen::VectorXd& x) const {
  if (asimov_) return with_likelihood(asimov_(x));
  if (!all_binned())
    throw InputError("", describe(), "Asimov data of an unbinned region need its simulated events");
  likelihood::LikelihoodModel copy = *model_;
  const auto expected = copy.expected(x);
  for (size_t i = 0; i < copy.regions().size(); ++i) copy.regions()[i].observed = expected[i];
  return with_likelihood(std::move(copy));
}

std::unique_ptr<Model> RegionModel::with_toy_data(const Eigen::VectorXd& x, std::mt19937_64& rng) const {
  if (toy_) return with_likelihood(toy_(x, rng));
  if (!all_binned())
    throw InputError("", describe(), "pseudo-experiments of an unbinned region need a generator or simulated events");
  likelihood::LikelihoodModel copy = *model_;
  const auto expected = copy.expected(x);
  for (size_t i = 0; i < copy.regions().size(); ++i)
    for (size_t b = 0; b < expected[i].size(); ++b)
      copy.regions()[i].observed[b] =
          expected[i][b] > 0.0 ? double(std::poisson_distribution<long long>(expected[i][b])(rng)) : 0.0;
  return with_likelihood(std::move(copy));
}

}  // namespace refinery::stats
