#include "models/process_fractions.h"

#include <cmath>

#include "src/core/error.h"

namespace refinery {

ProcessFractionsImpl::ProcessFractionsImpl(int64_t n) {
  log_yields = register_buffer("log_yields", torch::zeros({n}, torch::kFloat64));
}

void ProcessFractionsImpl::set_yields(const std::vector<double>& yields) {
  if (static_cast<int64_t>(yields.size()) != log_yields.size(0))
    throw InputError("", "yields", "expected " + std::to_string(log_yields.size(0)) + " process yields, got " +
                                       std::to_string(yields.size()));
  torch::NoGradGuard guard;
  for (size_t p = 0; p < yields.size(); ++p) {
    if (!(yields[p] > 0) || !std::isfinite(yields[p]))
      throw InputError("", "yields", "process " + std::to_string(p) + " has yield " + std::to_string(yields[p]) +
                                         " (must be positive)");
    log_yields[p] = std::log(yields[p]);
  }
}

std::vector<double> ProcessFractionsImpl::yields() const {
  torch::Tensor y = log_yields.exp();
  return std::vector<double>(y.data_ptr<double>(), y.data_ptr<double>() + y.numel());
}

torch::Tensor ProcessFractionsImpl::log_fractions(const torch::Tensor& g) {
  torch::Tensor a = torch::log(g.to(torch::kFloat64)) + log_yields;
  return a - torch::logsumexp(a, 1, true);
}

torch::Tensor ProcessFractionsImpl::balanced(const torch::Tensor& f) {
  torch::Tensor a = torch::log(f.to(torch::kFloat64)) - log_yields;
  return (a - torch::logsumexp(a, 1, true)).exp();
}

torch::Tensor ProcessFractionsImpl::forward(const torch::Tensor& g) { return log_fractions(g).exp(); }

}  // namespace refinery
