#include "models/dcr_network.h"

#include "src/core/error.h"
#include "src/likelihood/dcr_ansatz.h"

namespace refinery {

int64_t dcr_coefficients(int64_t k, int order, const std::vector<int>& powers) {
  if (order != 1 && order != 2)
    throw InputError("", "order", "ansatz order must be 1 (linear) or 2 (quadratic), got " + std::to_string(order));
  if (order == 1 && likelihood::appended_terms(powers) > 0)
    throw InputError("", "coordinates", "a cubic term or a knot needs the quadratic ansatz (order 2)");
  return likelihood::ansatz_size(k, order, powers);
}

torch::Tensor dcr_phi(const torch::Tensor& nu, int order, const std::vector<int>& powers) {
  return likelihood::dcr_ansatz(nu, order, powers);
}

std::vector<int> dcr_powers_of(const nlohmann::json& metadata, const std::string& source) {
  std::vector<int> powers;
  if (!metadata.contains("coordinates")) return powers;
  const auto& c = metadata.at("coordinates");
  const size_t K = metadata.contains("nuisances") ? metadata.at("nuisances").size() : c.size();
  if (!c.is_array() || c.size() != K)
    throw InputError(source, "metadata.json: coordinates", "one coordinate (linear, square, cubic or knot:T) per nuisance");
  for (const auto& v : c) {
    try {
      powers.push_back(likelihood::coordinate_power(v.is_string() ? v.get<std::string>() : v.dump()));
    } catch (const std::invalid_argument& e) {
      throw InputError(source, "metadata.json: coordinates", e.what());
    }
  }
  if (likelihood::all_linear(powers)) powers.clear();
  return powers;
}

nlohmann::json dcr_coordinates_json(const std::vector<int>& powers, int64_t n_nuisances) {
  nlohmann::json c = nlohmann::json::array();
  for (int64_t k = 0; k < n_nuisances; ++k)
    c.push_back(likelihood::coordinate_name(powers.empty() ? 1 : powers[k]));
  return c;
}

DCRNetworkImpl::DCRNetworkImpl(const DCRNetworkOptions& o) : options(o) {
  dcr_coefficients(o.n_nuisances(), o.order(), o.powers());  // validates the order
  if (!o.powers().empty() && int64_t(o.powers().size()) != o.n_nuisances())
    throw InputError("", "coordinates", "one coordinate per nuisance of the ansatz");
  preprocess = register_module("preprocess", FeaturePreprocessor(o.n_features(), o.n_indicators()));
  net = register_module("net", MLP(MLPOptions(o.n_features() + o.n_indicators(), o.hidden(), n_coefficients())
                                       .activation(o.activation())));
}

torch::Tensor DCRNetworkImpl::forward(const torch::Tensor& x) { return net->forward(preprocess->forward(x)); }

torch::Tensor DCRNetworkImpl::log_r(const torch::Tensor& x, const torch::Tensor& nu) {
  torch::Tensor phi = dcr_phi(nu.to(torch::kFloat32), options.order(), options.powers());
  torch::Tensor delta = forward(x);
  if (phi.dim() == 1) return torch::mv(delta, phi);
  return (delta * phi).sum(1);
}

}  // namespace refinery
