// Validation report of a trained DCR network on simulated samples: for every
// nu-point (training or held out), the learned inclusive yield ratio
// R(nu) = sum_0 w r(x|nu) / sum_0 w against the variation sample's yield
// ratio, and in bins of key features the learned prediction
// sum_{nominal in bin} w r(x|nu) against the variation sample's yield in the
// bin: weighted mean and RMS over bins of log(learned / sample).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/dcr_network.h"

namespace refinery {

struct DCRValidationPoint {
  torch::Tensor nu;       // [K]
  torch::Tensor x, w;     // the variation sample at nu
  bool held_out = false;
};

// `features`: column indices binned (10 quantile bins of the nominal each).
nlohmann::json dcr_validation_report(DCRNetwork& net, const torch::Tensor& x0, const torch::Tensor& w0,
                                     const std::vector<DCRValidationPoint>& points,
                                     const std::vector<int64_t>& features,
                                     const std::vector<std::string>& feature_names);
// A printable table of the report.
std::string dcr_validation_table(const nlohmann::json& report);

}  // namespace refinery
