#include "src/stats/workspace_model.h"

#include <random>

#include "src/core/error.h"

namespace refinery::stats {

WorkspaceModel::WorkspaceModel(std::shared_ptr<const histfactory::HistFactoryModel> model)
    : WorkspaceModel(model, model->observed()) {}

WorkspaceModel::WorkspaceModel(std::shared_ptr<const histfactory::HistFactoryModel> model,
                               const histfactory::Data& data)
    : model_(std::move(model)), main_(data.main) {
  const auto& hp = model_->parameters();
  for (int i = 0; i < int(hp.size()); ++i) {
    Parameter p;
    p.name = hp[i].name;
    p.init = hp[i].init;
    p.lower = hp[i].lower;
    p.upper = hp[i].upper;
    p.fixed = hp[i].fixed;
    p.poi = i == model_->poi_index();
    parameters_.push_back(p);
  }
  const auto terms = model_->constraint_terms();
  if (data.aux.size() != static_cast<Eigen::Index>(terms.size()) || main_.size() != model_->bins())
    throw InputError(model_->file(), "data", "main or auxiliary data do not match the model's layout");
  for (size_t k = 0; k < terms.size(); ++k) {
    Parameter& p = parameters_[terms[k].param];
    p.constraint = terms[k].kind;
    p.width = terms[k].width;
    p.aux = data.aux[k];
  }
}

histfactory::Data WorkspaceModel::data() const {
  histfactory::Data d;
  d.main = main_;
  const auto terms = model_->constraint_terms();
  d.aux.resize(terms.size());
  for (size_t k = 0; k < terms.size(); ++k) d.aux[k] = parameters_[terms[k].param].aux;
  return d;
}

double WorkspaceModel::data_nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const {
  return model_->main_nll(x, main_, grad, hess);
}

std::vector<ProcessYields> WorkspaceModel::observed_yields() const {
  std::vector<ProcessYields> out;
  int offset = 0;
  for (const auto& s : model_->expected_per_sample(model_->init())) {
    if (!out.empty() && out.back().region == s.channel) continue;  // one entry per channel
    out.push_back({s.channel, "data", std::vector<double>(main_.data() + offset, main_.data() + offset + s.bins.size())});
    offset += static_cast<int>(s.bins.size());
  }
  return out;
}

std::vector<ProcessYields> WorkspaceModel::expected_yields(const Eigen::VectorXd& x) const {
  std::vector<ProcessYields> out;
  for (const auto& s : model_->expected_per_sample(x))
    out.push_back({s.channel, s.sample, std::vector<double>(s.bins.data(), s.bins.data() + s.bins.size())});
  return out;
}

std::unique_ptr<Model> WorkspaceModel::with_asimov_data(const Eigen::VectorXd& x) const {
  auto m = std::make_unique<WorkspaceModel>(*this);
  m->main_ = model_->expected_main(x);
  return m;
}

std::unique_ptr<Model> WorkspaceModel::with_toy_data(const Eigen::VectorXd& x, std::mt19937_64& rng) const {
  auto m = std::make_unique<WorkspaceModel>(*this);
  const Eigen::VectorXd expected = model_->expected_main(x);
  for (Eigen::Index b = 0; b < expected.size(); ++b)
    m->main_[b] = expected[b] > 0.0 ? double(std::poisson_distribution<long long>(expected[b])(rng)) : 0.0;
  return m;
}

std::vector<std::pair<int, double>> WorkspaceModel::breakpoints() const {
  std::vector<std::pair<int, double>> out;
  for (int i : model_->kinked_parameters()) out.push_back({i, 0.0});
  return out;
}

std::string WorkspaceModel::describe() const { return "pyhf workspace " + model_->file(); }

}  // namespace refinery::stats
