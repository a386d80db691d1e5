#include "src/stats/template_model.h"

#include <algorithm>
#include <cmath>

#include "src/core/error.h"

namespace refinery::stats {

namespace {

torch::Tensor detached(const torch::Tensor& t) { return t.defined() ? t.detach().to(torch::kFloat64) : t; }

torch::Tensor from_eigen(const Eigen::VectorXd& x) {
  return torch::from_blob(const_cast<double*>(x.data()), {x.size()}, torch::kFloat64).clone();
}

}  // namespace

TemplateModel::TemplateModel(const BinnedTemplateModel& model, torch::Tensor nominal, torch::Tensor up,
                             torch::Tensor down, torch::Tensor observed)
    : model_(std::make_shared<const BinnedTemplateModel>(model)), nominal_(std::move(nominal)), up_(std::move(up)),
      down_(std::move(down)) {
  const auto& o = model_->options();
  if (!up_.defined() || up_.numel() == 0 || o.shapes.empty()) {
    up_ = torch::zeros({0}, torch::kFloat64);
    down_ = up_;
  }
  observed_ = observed.defined() ? observed.to(torch::kFloat64)
                                 : model_->expected(nominal_, up_, down_, model_->nominal_parameters());
  nominal_d_ = detached(nominal_);
  up_d_ = detached(up_);
  down_d_ = detached(down_);
  observed_d_ = detached(observed_);
  // Parameters: POIs, shape nuisances, normalisation nuisances.
  for (const auto& poi : o.pois) {
    Parameter p;
    p.name = poi.name;
    p.init = 1.0;
    p.lower = 0.0;
    p.upper = 10.0;
    p.poi = true;
    parameters_.push_back(p);
  }
  auto nuisance = [&](const std::string& name, double width, double lower) {
    Parameter p;
    p.name = name;
    p.lower = lower;
    p.upper = 5.0;
    if (width > 0) {
      p.constraint = Constraint::kGaussian;
      p.width = width;
      p.aux = 0.0;
    }
    parameters_.push_back(p);
  };
  for (const auto& s : o.shapes) nuisance(s.name, s.constraint, -5.0);
  // A linear factor 1 + a theta must stay positive.
  for (const auto& n : o.norms)
    nuisance(n.name, n.constraint, n.linear && n.size > 0 ? std::max(-5.0, -(1.0 - 1e-6) / n.size) : -5.0);
}

torch::Tensor TemplateModel::expected_torch(const torch::Tensor& x) const {
  return model_->expected(nominal_, up_, down_, x);
}

std::vector<ProcessYields> TemplateModel::observed_yields() const {
  const torch::Tensor n = observed_d_.to(torch::kFloat64).contiguous();
  return {{"templates", "data", std::vector<double>(n.data_ptr<double>(), n.data_ptr<double>() + n.numel())}};
}

std::vector<ProcessYields> TemplateModel::expected_yields(const Eigen::VectorXd& x) const {
  torch::NoGradGuard guard;
  const torch::Tensor t = torch::from_blob(const_cast<double*>(x.data()), {x.size()}, torch::kFloat64).clone();
  const torch::Tensor y = model_->expected_per_process(nominal_d_, up_d_, down_d_, t).contiguous();
  std::vector<ProcessYields> out;
  const int64_t B = y.size(1);
  for (int64_t p = 0; p < y.size(0); ++p)
    out.push_back({"templates", model_->options().processes[p],
                   std::vector<double>(y.data_ptr<double>() + p * B, y.data_ptr<double>() + (p + 1) * B)});
  return out;
}

torch::Tensor TemplateModel::data_term(const torch::Tensor& x, const torch::Tensor& nominal, const torch::Tensor& up,
                                       const torch::Tensor& down, const torch::Tensor& observed) const {
  const torch::Tensor lambda = model_->expected(nominal, up, down, x);
  const torch::Tensor n = observed;
  return (lambda - n * torch::log(lambda) + torch::lgamma(n.detach() + 1.0)).sum();
}

torch::Tensor TemplateModel::data_nll_torch(const torch::Tensor& x) const {
  return data_term(x, nominal_, up_, down_, observed_);
}

torch::Tensor TemplateModel::asimov_fisher() const {
  torch::AutoGradMode grad_mode(true);  // a Hessian needs the graph, also under NoGradGuard
  const torch::Tensor x0 = model_->nominal_parameters();
  torch::Tensor x = x0.clone().requires_grad_(true);
  const torch::Tensor asimov = model_->expected(nominal_, up_, down_, x0);
  const torch::Tensor value = data_term(x, nominal_, up_, down_, asimov);
  const torch::Tensor g = torch::autograd::grad({value}, {x}, {}, true, true)[0];
  std::vector<torch::Tensor> rows;
  for (int i = 0; i < size(); ++i) {
    torch::Tensor row = torch::autograd::grad({g[i]}, {x}, {}, true, true, /*allow_unused=*/true)[0];
    // The constraint's curvature at the nominal point on Asimov auxiliary data.
    const Parameter& p = parameters_[i];
    if (p.constraint != Constraint::kNone) {
      const double x0i = x0[i].item<double>();
      const double d2 = stats::constraint_nll(p.constraint, x0i, asimov_aux(p.constraint, x0i, p.width), p.width).d2;
      row = row + d2 * torch::one_hot(torch::tensor(int64_t(i)), size()).to(torch::kFloat64);
    }
    rows.push_back(row);
  }
  return torch::stack(rows);
}

torch::Tensor TemplateModel::poi_uncertainties(bool stat_only) const {
  const int64_t n_pois = model_->n_pois();
  torch::Tensor F = asimov_fisher();
  if (stat_only) F = F.narrow(0, 0, n_pois).narrow(1, 0, n_pois);
  return torch::sqrt(torch::linalg::inv(F).diagonal().narrow(0, 0, n_pois));
}

std::vector<TemplateModel::Impact> TemplateModel::impacts() const {
  torch::NoGradGuard guard;
  const torch::Tensor C = torch::linalg::inv(asimov_fisher().detach());
  std::vector<Impact> out;
  const int64_t n_pois = model_->n_pois();
  for (int64_t i = n_pois; i < size(); ++i) {
    const double ckk = C[i][i].item<double>(), c0k = C[0][i].item<double>();
    out.push_back({parameters_[i].name, c0k / ckk, c0k / std::sqrt(ckk), std::sqrt(ckk)});
  }
  std::sort(out.begin(), out.end(),
            [](const Impact& a, const Impact& b) { return std::abs(a.postfit) > std::abs(b.postfit); });
  return out;
}

double TemplateModel::data_nll(const Eigen::VectorXd& x_in, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const {
  torch::AutoGradMode grad_mode(grad || hess);
  torch::Tensor x = from_eigen(x_in);
  if (grad || hess) x.requires_grad_(true);
  const torch::Tensor lambda = model_->expected(nominal_d_, up_d_, down_d_, x);
  if (!(lambda.detach() > 0).all().item<bool>()) return std::numeric_limits<double>::infinity();
  const torch::Tensor value = (lambda - observed_d_ * torch::log(lambda) + torch::lgamma(observed_d_ + 1.0)).sum();
  const double v = value.item<double>();
  if (!std::isfinite(v)) return std::numeric_limits<double>::infinity();
  if (!grad && !hess) return v;
  const torch::Tensor g = torch::autograd::grad({value}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/hess != nullptr)[0];
  if (grad) {
    grad->resize(size());
    for (int i = 0; i < size(); ++i) (*grad)[i] = g[i].item<double>();
  }
  if (hess) {
    hess->resize(size(), size());
    for (int i = 0; i < size(); ++i) {
      const torch::Tensor row = torch::autograd::grad({g[i]}, {x}, {}, true, false, /*allow_unused=*/true)[0];
      for (int j = 0; j < size(); ++j) (*hess)(i, j) = row.defined() ? row[j].item<double>() : 0.0;
    }
  }
  return v;
}

std::unique_ptr<Model> TemplateModel::with_asimov_data(const Eigen::VectorXd& x) const {
  auto m = std::make_unique<TemplateModel>(*this);
  torch::NoGradGuard guard;
  m->observed_d_ = model_->expected(nominal_d_, up_d_, down_d_, from_eigen(x));
  m->observed_ = m->observed_d_;
  return m;
}

std::unique_ptr<Model> TemplateModel::with_toy_data(const Eigen::VectorXd& x, std::mt19937_64& rng) const {
  auto m = std::make_unique<TemplateModel>(*this);
  torch::NoGradGuard guard;
  const torch::Tensor lambda = model_->expected(nominal_d_, up_d_, down_d_, from_eigen(x)).contiguous();
  torch::Tensor n = torch::zeros_like(lambda);
  for (int64_t b = 0; b < lambda.numel(); ++b)
    n[b] = double(std::poisson_distribution<long long>(lambda[b].item<double>())(rng));
  m->observed_d_ = n;
  m->observed_ = n;
  return m;
}

}  // namespace refinery::stats
