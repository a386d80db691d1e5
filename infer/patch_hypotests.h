// Asymptotic hypotests of every patch of a patchset, in parallel (`hypotest
// --all`, `contour`): one JSON result per patch in the patchset's order,
// {patch, ...hypotest keys..., status}; a bad patch is that point's status
// "error", a failed fit "failed", never the batch's. LibTorch-free.
#pragma once
#include <string>
#include <vector>

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "src/stats/hypotest.h"

namespace refinery::cli {

std::vector<nlohmann::json> hypotest_patches(const cxxopts::ParseResult& r, const nlohmann::json& patchset,
                                             const nlohmann::json& base, const std::string& patchset_file,
                                             const std::vector<std::string>& names, double mu, stats::TestStat stat,
                                             const std::string& stat_name);

// The exit code of a batch over patches (2 if any patch was bad input, 1 if
// any fit failed, else 0), with one line on stderr naming them:
// "refinery COMMAND: error: K of N WHAT; bad input: ...; fit failed: ...".
int report_patch_failures(const std::string& command, const std::vector<std::string>& names,
                          const std::vector<std::string>& bad_input, const std::vector<std::string>& failed,
                          const std::string& what);

}  // namespace refinery::cli
