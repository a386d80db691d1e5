// ONNX export of the networks refinery trains (issue 18 item 3): a
// classifier, a SANNT network or a DCR network, from its TorchScript
// archive (models/torchscript_export.h), as one ONNX graph holding the whole
// evaluation path of the archive's methods, so that onnxruntime or any other
// runtime gives what refinery gives:
//
//   features [N,F] -> standardisation (sentinel -> 0, indicator columns)
//     -> MLP (Gemm, activation, ..., Gemm; a merged DCR ensemble member by
//        member, summed)
//   classifier, sannt:
//     -> softmax, process fractions in log space (double), the staged
//        isotonic calibration (piecewise-linear tables, double)
//     -> "fractions" [N,C] double (the archive's fractions(x)),
//        "probabilities" [N,C] float (its forward(x))
//   sannt also: "bin" [N] int64, the bin of the binned analysis the network
//        defines (its summary: score, softmax or class; src/autograd/histogram.h)
//   dcr: -> "coefficients" [N,n_coef] float (forward(x)); with the input
//        "nu" [K] float: "log_r" [N] float = coefficients . phi(nu) (log_r(x, nu))
//
// Metadata properties follow the Les Houches guide to reusable ML models
// (arXiv:2312.14575) and refinery's surrogates (src/stats/yield_surrogate.h):
// refinery_format, kind, description, inputs, outputs, input_standardisation,
// the process or nuisance names, range_of_validity where the archive knows it,
// and the archive's whole metadata as refinery_metadata.
#pragma once
#include <torch/script.h>

#include <string>

#include <nlohmann/json.hpp>

#include "src/core/onnx_model.h"

namespace refinery {

// The ONNX model of a loaded archive; InputError naming `source` for an
// archive of another kind or with parameters that do not form a network.
onnx::Model archive_to_onnx(const torch::jit::Module& module, const nlohmann::json& metadata, const std::string& source);

}  // namespace refinery
