// `refinery hypotest --calculator toybased`: CLs (or p0) from
// pseudo-experiments (src/stats/toy_calculator.h) for any model, sharded
// (--shard i/N) and merged (`refinery hypotest --merge SHARD.json...`).
// Every shard's result holds its toys' test statistics and the identity of
// the model and the options that drew them; the merge refuses shards of
// another model or options, a missing or repeated shard, and gives the
// unsharded result exactly. LibTorch-free (runs in the front end).
#pragma once
#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "infer/model_source.h"
#include "src/stats/hypotest.h"

namespace refinery::cli {

// The options of the toy-based calculator, added to hypotest's.
void add_toy_hypotest_options(cxxopts::Options& options);
// Whether --calculator asks for toys (InputError for an unknown calculator;
// toy options without it are refused).
bool toy_calculator_requested(const cxxopts::ParseResult& r);
// The result of one toy-based hypotest, in hypotest's JSON keys plus the
// toys and their errors; `text` receives the human-readable summary.
nlohmann::json toy_hypotest_json(const ModelSource& s, const cxxopts::ParseResult& r, double mu, stats::TestStat stat,
                                 const std::string& stat_name, int threads, bool quiet, std::string* text);
// The options of a toy-based limit (--calculator, --ntoys, --toys-at).
void add_toy_limit_options(cxxopts::Options& options);
// `refinery limit --calculator toybased --scan LO:HI:N`: toy-based CLs at
// each scanned POI value and the upper limits where CLs crosses `level`
// (observed and the five expected quantiles), linear in log CLs between the
// two scan points around the first crossing; null where the scan does not
// cross. Keys as the asymptotic limit's plus `scan` with the errors.
nlohmann::json toy_limit_json(const ModelSource& s, const cxxopts::ParseResult& r, double level,
                              const std::vector<double>& mus, int threads, bool quiet, std::string* text);
// `refinery hypotest --merge FILE...`: argv without the command name's
// options other than --merge, --out, --json, --quiet.
int run_hypotest_merge(int argc, char** argv);

}  // namespace refinery::cli
