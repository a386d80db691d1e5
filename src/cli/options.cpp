#include "src/cli/options.h"
#include "src/core/error.h"

#include <cmath>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "src/core/worker_threads.h"

namespace refinery::cli {

void add_common_options(cxxopts::Options& options, bool with_config, bool with_out) {
  auto add = options.add_options("Common");
  if (with_config) add("config", "Experiment config (JSON)", cxxopts::value<std::string>());
  add("threads", "Threads (default: all cores)", cxxopts::value<int>()->default_value("0"));
  add("seed", "Random seed (overrides the config's)", cxxopts::value<std::uint64_t>());
  if (with_out) add("out", "Output file or directory", cxxopts::value<std::string>());
  add("quiet", "No progress output");
  add("h,help", "Show this help");
}

std::optional<cxxopts::ParseResult> parse(cxxopts::Options& options, int argc, char** argv) {
  auto result = options.parse(argc, argv);
  if (result.count("help")) {
    std::cout << options.help() << std::endl;
    return std::nullopt;
  }
  if (!result.unmatched().empty())
    throw cxxopts::exceptions::no_such_option(result.unmatched().front());
  return result;
}

int checked_threads(long threads) {
  if (threads < 0 || threads > kMaxThreads)
    throw InputError("", "--threads", "must lie in 0.." + std::to_string(kMaxThreads) + " (0: all cores), got " +
                                          std::to_string(threads));
  return int(threads);
}

CommonOptions common_options(const cxxopts::ParseResult& r) {
  CommonOptions c;
  if (r.count("config")) c.config_path = r["config"].as<std::string>();
  if (r.count("threads")) c.threads = checked_threads(r["threads"].as<int>());
  if (r.count("seed")) c.seed = r["seed"].as<std::uint64_t>();
  if (r.count("out")) c.out = r["out"].as<std::string>();
  c.quiet = r.count("quiet") > 0;
  return c;
}

Shard parse_shard(const std::string& text, const std::string& option) {
  const auto slash = text.find('/');
  Shard s;
  try {
    if (slash == std::string::npos) throw std::invalid_argument("");
    std::size_t a = 0, b = 0;
    s.index = std::stoi(text.substr(0, slash), &a);
    s.count = std::stoi(text.substr(slash + 1), &b);
    if (a != slash || b != text.size() - slash - 1) throw std::invalid_argument("");
  } catch (const std::logic_error&) {
    throw InputError("", option, "expected i/N, got '" + text + "'");
  }
  if (s.count < 1 || s.index < 0 || s.index >= s.count)
    throw InputError("", option, "needs 0 <= i < N, got '" + text + "'");
  return s;
}

std::vector<double> parse_numbers(const std::string& text, const std::string& option) {
  std::vector<double> values;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    std::size_t used = 0;
    double v = 0.0;
    try {
      v = std::stod(item, &used);
    } catch (const std::logic_error&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || !std::isfinite(v))
      throw InputError("", option, "not a number: '" + item + "'");
    values.push_back(v);
  }
  return values;
}

std::optional<MergeCommand> parse_merge_command(int argc, char** argv, const std::string& what,
                                                const std::string& files_help) {
  cxxopts::Options options(argv[0], what);
  options.add_options()("merge", "Merge the shards given as the positional arguments")(
      "files", files_help, cxxopts::value<std::vector<std::string>>())("json", "Print the result as one JSON line");
  options.parse_positional({"files"});
  options.positional_help("SHARD.json...");
  add_common_options(options, false, true);
  auto r = parse(options, argc, argv);
  if (!r) return std::nullopt;
  if (!r->count("files")) throw InputError("", "--merge", "give the shard result files to merge");
  return MergeCommand{(*r)["files"].as<std::vector<std::string>>(), common_options(*r), r->count("json") > 0};
}

}  // namespace refinery::cli
