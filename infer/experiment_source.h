// An experiment's measurement as a model source (infer/model_source.h): the
// configured measurement (networks, regions, simulated-sample statistics) on
// Asimov data, a pseudo-experiment or an event file. The LibTorch part of the
// inference commands: register_infer_commands installs load_experiment_source
// as the experiment loader of load_model_source.
#pragma once
#include <string>

#include <cxxopts.hpp>

#include "infer/measurement.h"
#include "infer/model_source.h"
#include "src/cli/options.h"

namespace refinery::cli {

// The measurement options of the data flags (--inputs, --reference, --labels,
// --recalibration, --mc-statistics, --no-cache).
MeasurementOptions measurement_options(const cxxopts::ParseResult& r);

// The experiment branch of load_model_source (same arguments).
ModelSource load_experiment_source(const cxxopts::ParseResult& r, CommonOptions& common, const std::string& result);

}  // namespace refinery::cli
