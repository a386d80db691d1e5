// Parametric DCR network (design.md section 3): an MLP maps the features x
// to coefficients Delta(x); the log of the differential cross-section ratio
// r(x|nu) = dsigma(x|nu)/dsigma(x|0) is the log-polynomial ansatz
//     log r(x|nu) = phi(nu) . Delta(x)
// with phi linear (nu_1..nu_K) or quadratic (then also nu_i nu_j, i <= j, in
// the order nu1^2, nu1 nu2, ..., nuK^2): K = 3 nuisances give 9 coefficients.
// log r(x|0) = 0 exactly, and the linear coefficients are d log r / d nu at 0.
#pragma once
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "models/feature_preprocessor.h"
#include "models/mlp.h"

namespace refinery {

struct DCRNetworkOptions {
  DCRNetworkOptions(int64_t n_features, int64_t n_nuisances)
      : n_features_(n_features), n_nuisances_(n_nuisances) {}
  TORCH_ARG(int64_t, n_features);
  TORCH_ARG(int64_t, n_nuisances);
  TORCH_ARG(int, order) = 2;  // 1: linear, 2: quadratic
  // The ansatz's coordinate of each nuisance: 1 the nuisance, 2 its square,
  // likelihood::kCubic the nuisance with a cubic term appended to phi
  // (src/likelihood/dcr_ansatz.h); empty: every one 1. log_r, the exported
  // phi(nu) and log_r(x, nu) take nu itself either way.
  TORCH_ARG(std::vector<int>, powers) = std::vector<int>{};
  // Indicator columns of the preprocessor (count_indicator_columns of the
  // training features).
  TORCH_ARG(int64_t, n_indicators) = 0;
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{256, 256};
  TORCH_ARG(std::string, activation) = "silu";
  // An ensemble merged into one network (models/dcr_ensemble.h): the hidden
  // widths are members x a member's, the hidden-to-hidden layers
  // block-diagonal. 1 for a single network.
  TORCH_ARG(int64_t, members) = 1;
};

// Number of coefficients of the ansatz.
int64_t dcr_coefficients(int64_t n_nuisances, int order, const std::vector<int>& powers = {});
// phi(u(nu)) for nu [B,K] (or [K]) -> [B, n_coef] (or [n_coef]); powers as
// DCRNetworkOptions::powers.
torch::Tensor dcr_phi(const torch::Tensor& nu, int order, const std::vector<int>& powers = {});
// The archive metadata's "coordinates" (["linear" | "square" | "cubic"] per nuisance;
// absent: all linear) as powers; errors name `source`.
std::vector<int> dcr_powers_of(const nlohmann::json& metadata, const std::string& source);
// ... and back, for the metadata (every nuisance named).
nlohmann::json dcr_coordinates_json(const std::vector<int>& powers, int64_t n_nuisances);

class DCRNetworkImpl : public torch::nn::Module {
 public:
  explicit DCRNetworkImpl(const DCRNetworkOptions& options);
  // Coefficients Delta(x): [N, n_coef], float32.
  torch::Tensor forward(const torch::Tensor& x);
  // log r(x|nu): nu [K] (one point for all events) or [N,K] (per event).
  torch::Tensor log_r(const torch::Tensor& x, const torch::Tensor& nu);
  int64_t n_coefficients() const { return dcr_coefficients(options.n_nuisances(), options.order(), options.powers()); }

  DCRNetworkOptions options;
  FeaturePreprocessor preprocess{nullptr};
  MLP net{nullptr};
};
TORCH_MODULE(DCRNetwork);

}  // namespace refinery
