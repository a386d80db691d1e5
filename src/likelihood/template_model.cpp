#include "src/likelihood/template_model.h"

#include <algorithm>
#include <cmath>

#include "src/core/error.h"

namespace refinery {

BinnedTemplateModel::BinnedTemplateModel(TemplateModelOptions o) : o_(std::move(o)) {
  const int64_t P = static_cast<int64_t>(o_.processes.size());
  if (P == 0) throw InputError("", "template model", "no processes");
  if (o_.pois.empty()) throw InputError("", "template model", "no parameter of interest");
  auto check_processes = [&](const std::vector<int64_t>& list, const std::string& who) {
    for (int64_t p : list)
      if (p < 0 || p >= P) throw InputError("", who, "process index " + std::to_string(p) + " out of range");
  };
  for (const auto& poi : o_.pois) check_processes(poi.processes, "poi " + poi.name);
  for (const auto& n : o_.norms) check_processes(n.processes, "nuisance " + n.name);
  for (const auto& s : o_.shapes)
    if (s.constraint < 0) throw InputError("", "nuisance " + s.name, "constraint width must be >= 0");
  if (!(o_.empty_bin_floor >= 0)) throw InputError("", "empty_bin_floor", "must be >= 0");
}

int64_t BinnedTemplateModel::n_parameters() const {
  return static_cast<int64_t>(o_.pois.size() + o_.shapes.size() + o_.norms.size());
}

torch::Tensor BinnedTemplateModel::nominal_parameters() const {
  torch::Tensor x = torch::zeros({n_parameters()}, torch::kFloat64);
  x.narrow(0, 0, n_pois()).fill_(1.0);
  return x;
}

torch::Tensor BinnedTemplateModel::expected(const torch::Tensor& nominal_in, const torch::Tensor& up_in,
                                            const torch::Tensor& down_in, const torch::Tensor& params) const {
  const int64_t P = static_cast<int64_t>(o_.processes.size()), K = static_cast<int64_t>(o_.shapes.size());
  if (nominal_in.dim() != 2 || nominal_in.size(0) != P)
    throw InputError("", "templates", "nominal templates must be [" + std::to_string(P) + ", bins]");
  if (K > 0 && (up_in.dim() != 3 || up_in.size(0) != K || up_in.size(1) != P || up_in.sizes() != down_in.sizes() ||
                up_in.size(2) != nominal_in.size(1)))
    throw InputError("", "templates", "up/down templates must be [" + std::to_string(K) + ", " + std::to_string(P) +
                                          ", bins] like the nominal");
  torch::Tensor nominal = nominal_in.to(torch::kFloat64);
  torch::Tensor shaped = nominal;
  for (int64_t k = 0; k < K; ++k) {
    torch::Tensor up = up_in[k].to(torch::kFloat64) - nominal, down = nominal - down_in[k].to(torch::kFloat64);
    shaped = shaped + histfactory::histosys_delta(o_.interpolation, params[n_pois() + k], up, down);
  }
  // Per-process normalisation: POIs and norm nuisances.
  std::vector<torch::Tensor> factor(P, torch::ones({}, torch::kFloat64));
  for (int64_t i = 0; i < n_pois(); ++i)
    for (int64_t p : o_.pois[i].processes) factor[p] = factor[p] * params[i];
  for (size_t j = 0; j < o_.norms.size(); ++j) {
    const auto& n = o_.norms[j];
    torch::Tensor th = params[n_pois() + K + static_cast<int64_t>(j)];
    torch::Tensor f = n.linear ? 1.0 + n.size * th : torch::exp(th * std::log1p(n.size));
    for (int64_t p : n.processes) factor[p] = factor[p] * f;
  }
  torch::Tensor lambda = (torch::stack(factor).unsqueeze(1) * shaped).sum(0);
  return lambda + o_.empty_bin_floor;
}

torch::Tensor BinnedTemplateModel::nll(const torch::Tensor& nominal, const torch::Tensor& up, const torch::Tensor& down,
                                       const torch::Tensor& params, const torch::Tensor& observed) const {
  torch::Tensor lambda = expected(nominal, up, down, params);
  torch::Tensor value = (lambda - observed.to(torch::kFloat64) * torch::log(lambda)).sum();
  const int64_t K = static_cast<int64_t>(o_.shapes.size());
  for (int64_t k = 0; k < K; ++k)
    if (o_.shapes[k].constraint > 0) value = value + 0.5 * (params[n_pois() + k] / o_.shapes[k].constraint).pow(2);
  for (size_t j = 0; j < o_.norms.size(); ++j)
    if (o_.norms[j].constraint > 0)
      value = value + 0.5 * (params[n_pois() + K + static_cast<int64_t>(j)] / o_.norms[j].constraint).pow(2);
  return value;
}

torch::Tensor BinnedTemplateModel::asimov_fisher(const torch::Tensor& nominal, const torch::Tensor& up,
                                                 const torch::Tensor& down) const {
  torch::AutoGradMode grad_mode(true);  // a Hessian needs the graph, also under NoGradGuard
  torch::Tensor x = nominal_parameters().requires_grad_(true);
  torch::Tensor asimov = expected(nominal, up, down, nominal_parameters());
  torch::Tensor value = nll(nominal, up, down, x, asimov);
  torch::Tensor g = torch::autograd::grad({value}, {x}, {}, true, true)[0];
  std::vector<torch::Tensor> rows;
  for (int64_t i = 0; i < n_parameters(); ++i)
    rows.push_back(torch::autograd::grad({g[i]}, {x}, {}, true, true, /*allow_unused=*/true)[0]);
  return torch::stack(rows);
}

torch::Tensor BinnedTemplateModel::poi_uncertainties(const torch::Tensor& nominal, const torch::Tensor& up,
                                                     const torch::Tensor& down, bool stat_only) const {
  torch::Tensor F = asimov_fisher(nominal, up, down);
  if (stat_only) F = F.narrow(0, 0, n_pois()).narrow(1, 0, n_pois());
  torch::Tensor cov = torch::linalg::inv(F);
  return torch::sqrt(cov.diagonal().narrow(0, 0, n_pois()));
}

std::vector<BinnedTemplateModel::Impact> BinnedTemplateModel::impacts(const torch::Tensor& nominal,
                                                                       const torch::Tensor& up,
                                                                       const torch::Tensor& down) const {
  torch::NoGradGuard guard;
  torch::Tensor C = torch::linalg::inv(asimov_fisher(nominal, up, down).detach());
  std::vector<Impact> out;
  const int64_t K = static_cast<int64_t>(o_.shapes.size());
  for (int64_t i = n_pois(); i < n_parameters(); ++i) {
    const double ckk = C[i][i].item<double>(), c0k = C[0][i].item<double>();
    const std::string& name = i - n_pois() < K ? o_.shapes[i - n_pois()].name : o_.norms[i - n_pois() - K].name;
    out.push_back({name, c0k / ckk, c0k / std::sqrt(ckk), std::sqrt(ckk)});
  }
  std::sort(out.begin(), out.end(), [](const Impact& a, const Impact& b) { return std::abs(a.postfit) > std::abs(b.postfit); });
  return out;
}

}  // namespace refinery
