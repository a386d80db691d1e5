#include "train/training_flags.h"

#include <cstdlib>

#include "src/core/error.h"
#include "src/distributed/gloo_group.h"
#include "src/cli/job_array.h"
#include "src/distributed/local_launcher.h"

namespace refinery {

std::vector<int64_t> parse_layer_sizes(const std::string& text, const std::string& flag) {
  std::vector<int64_t> out;
  if (text.empty()) return out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    const long long v = item.empty() ? 0 : std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 1 || v > 65536)
      throw InputError("", flag, "expected layer sizes in [1, 65536] separated by commas (e.g. 128,128), got '" + text + "'");
    out.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

void check_training_flags(const TrainOptions& opt, const cxxopts::ParseResult& flags,
                          const std::string& config_file, const std::string& config_section) {
  auto fail = [&](const char* flag, const char* key, const std::string& what) {
    if (flags.count(flag) || config_section.empty()) throw InputError("", std::string("--") + flag, what);
    throw InputError(config_file, config_section + "/" + key, what);
  };
  if (opt.epochs < 1) fail("epochs", "epochs", "must be >= 1, got " + std::to_string(opt.epochs));
  if (opt.steps_per_epoch < 1)
    fail("steps", "steps_per_epoch", "must be >= 1, got " + std::to_string(opt.steps_per_epoch));
  if (!(opt.learning_rate > 0)) fail("lr", "learning_rate", "must be positive");
  if (!(opt.lr_decay > 0 && opt.lr_decay <= 1)) fail("lr-decay", "lr_decay", "must lie in (0, 1]");
  if (opt.average_steps < 0)
    fail("average-steps", "average_steps", "must be >= 0 (0: no running average), got " + std::to_string(opt.average_steps));
}

void add_distributed_options(cxxopts::Options& options) {
  options.add_options("data-parallel")(
      "world-size", "Processes of a data-parallel training (alone: started here, on 127.0.0.1)",
      cxxopts::value<int>())("rank", "This process's rank in the group (0 .. world-size - 1)", cxxopts::value<int>())(
      "master", "HOST:PORT where rank 0 serves the group's rendezvous", cxxopts::value<std::string>())(
      "join-timeout", "Seconds a rank waits for the whole group to join, and for a peer in a collective (default 300)",
      cxxopts::value<int>());
}

std::optional<int> launch_ranks_if_asked(const cxxopts::ParseResult& flags) {
  if (!flags.count("world-size") || flags.count("rank")) return std::nullopt;
  const int n = flags["world-size"].as<int>();
  if (n < 1) throw InputError("", "--world-size", "must be >= 1, got " + std::to_string(n));
  if (flags.count("master")) throw InputError("", "--master", "needs --rank (without --rank the ranks are started here)");
  if (n == 1) return std::nullopt;
  return distributed::launch_local(n, cli::process_command_line(), "");
}

std::shared_ptr<distributed::Collective> join_training_group(const cxxopts::ParseResult& flags) {
  const bool any = flags.count("world-size") || flags.count("rank") || flags.count("master");
  if (!any) return std::shared_ptr<distributed::Collective>(&distributed::single_process(), [](auto*) {});
  if (!flags.count("world-size")) throw InputError("", "--world-size", "needed with --rank and --master");
  const int n = flags["world-size"].as<int>();
  if (n < 1) throw InputError("", "--world-size", "must be >= 1, got " + std::to_string(n));
  if (n == 1 && !flags.count("rank"))
    return std::shared_ptr<distributed::Collective>(&distributed::single_process(), [](auto*) {});
  if (!flags.count("rank")) throw InputError("", "--rank", "needed with --master");
  if (!flags.count("master")) throw InputError("", "--master", "needed with --rank (HOST:PORT of rank 0)");
  distributed::GroupAddress a = distributed::parse_master(flags["master"].as<std::string>());
  a.rank = flags["rank"].as<int>();
  a.size = n;
  int timeout = 300;
  if (flags.count("join-timeout")) {
    timeout = flags["join-timeout"].as<int>();
    if (timeout < 1) throw InputError("", "--join-timeout", "must be >= 1 (seconds), got " + std::to_string(timeout));
  }
  return distributed::join_gloo_group(a, std::chrono::seconds(timeout));
}

}  // namespace refinery
