// TorchScript export of refinery networks: a torch::jit::Module whose
// parameters and buffers are copies of the trained module's, with its
// methods written as TorchScript source (define()), saved with a JSON
// metadata file inside the archive ("metadata.json"). The archive loads with
// torch::jit::load in C++ and torch.jit.load in Python:
//   m = torch.jit.load("dcr.pt", _extra_files={"metadata.json": ""})
#pragma once
#include <torch/script.h>

#include <string>

#include <nlohmann/json.hpp>

#include "models/dcr_network.h"
#include "models/multiclassifier.h"

namespace refinery {

// forward(x) -> Delta [N, n_coef]; log_r(x, nu [K]) -> [N]; phi(nu) -> [n_coef].
torch::jit::Module dcr_to_torchscript(DCRNetwork& net);
// forward(x) -> calibrated class-balanced probabilities g [N,C] (float32);
// fractions(x) -> calibrated process fractions f [N,C] (float64); logits(x),
// raw_probabilities(x), raw_fractions(x), calibrate(f).
torch::jit::Module classifier_to_torchscript(MultiClassifier& clf);
// The TorchScript source of a stack of dense layers on `h` (parameters
// self.w<i><suffix>, self.b<i><suffix>; activation between them), for
// exporters of other networks (train/estimator_export.h).
std::string torchscript_layers_source(size_t layers, const std::string& activation, const std::string& suffix = "",
                                      bool last_bias = true);
// Saves atomically with the metadata.
void save_torchscript(torch::jit::Module& module, const nlohmann::json& metadata, const std::string& path);
// Loads an archive and its metadata; errors name the file.
torch::jit::Module load_torchscript(const std::string& path, nlohmann::json* metadata = nullptr);

}  // namespace refinery
