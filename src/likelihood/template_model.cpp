#include "src/likelihood/template_model.h"

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
  for (const auto& n : o_.norms) {
    if (!(n.size > 0)) throw InputError("", "nuisance " + n.name, "size must be > 0");
    code4_.push_back(histfactory::code4_coefficients(1.0 + n.size, 1.0 / (1.0 + n.size)));
  }
}

int64_t BinnedTemplateModel::n_parameters() const {
  return static_cast<int64_t>(o_.pois.size() + o_.shapes.size() + o_.norms.size());
}

torch::Tensor BinnedTemplateModel::nominal_parameters() const {
  torch::Tensor x = torch::zeros({n_parameters()}, torch::kFloat64);
  x.narrow(0, 0, n_pois()).fill_(1.0);
  return x;
}

torch::Tensor BinnedTemplateModel::expected(const torch::Tensor& nominal, const torch::Tensor& up,
                                            const torch::Tensor& down, const torch::Tensor& params) const {
  return expected_per_process(nominal, up, down, params).sum(0) + o_.empty_bin_floor;
}

torch::Tensor BinnedTemplateModel::expected_per_process(const torch::Tensor& nominal_in, const torch::Tensor& up_in,
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
    torch::Tensor f = n.linear ? 1.0 + n.size * th
                               : histfactory::normsys_factor(o_.normsys, th, 1.0 + n.size, 1.0 / (1.0 + n.size),
                                                             code4_[j]);
    for (int64_t p : n.processes) factor[p] = factor[p] * f;
  }
  return torch::stack(factor).unsqueeze(1) * shaped;
}

}  // namespace refinery
