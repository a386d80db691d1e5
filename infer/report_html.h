// `refinery report --html`: one static page for a run directory, readable
// offline and self-contained (figures embedded as data: URIs, no script or
// style from outside): the summary table, each fit's parameters, the toys'
// coverage table, the impacts, and every figure in OUTPUT_DIR/figures
// (`refinery plot` writes them) with its kind and the series it drew. A
// script in the page marks <body data-figures="LOADED/TOTAL"> once the
// browser has decoded the images (what the test reads from a headless
// browser).
#pragma once
#include <string>

#include "src/config/experiment_config.h"

namespace refinery::cli {

// The page's HTML. `summary` is the text table of `refinery report`; `dir`
// the run directory (its result JSON files and figures/). InputError names
// a result or sidecar file that is not valid JSON.
std::string report_html(const ExperimentConfig& config, const std::string& dir, const std::string& summary);

// Base64 (RFC 4648, with padding) of bytes.
std::string base64(const std::string& bytes);

}  // namespace refinery::cli
