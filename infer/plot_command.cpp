// `refinery plot KIND RESULT.json --out FILE`: figures of results, drawn by
// python/refinery_plot.py with Debian's python3 and matplotlib (Python
// serves figures, never the computation). This command finds the script
// (share/refinery/ next to the executable in the build tree, ../share/
// refinery/ when installed), checks what it can before starting Python, and
// passes the script's exit code on (2: bad input, one line naming the file
// and key; 1: matplotlib missing or an internal failure). LibTorch-free.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "src/cli/options.h"
#include "src/core/error.h"
#include "src/core/executable_directory.h"

namespace refinery::cli {

namespace {

std::string plot_script() {
  const std::string dir = executable_directory();
  for (const std::string& candidate : {dir + "/share/refinery/refinery_plot.py", dir + "/../share/refinery/refinery_plot.py",
                                      dir + "/../../share/refinery/refinery_plot.py"})
    if (std::filesystem::exists(candidate)) return candidate;
  return "";
}

}  // namespace

int run_plot(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Figures of results: refinery plot KIND RESULT.json --out FILE.{png,pdf,svg}; KIND: "
                           "distributions (yields), pulls (fit, impacts), correlation (fit), impacts, scan, contour "
                           "(scan --poi2), gof, teststat (hypotest --calculator toybased)");
  options.add_options()("kind", "The figure", cxxopts::value<std::string>())(
      "result", "The result file (JSON) of the command the figure shows", cxxopts::value<std::string>())(
      "out", "The figure; its format from the extension (.png, .pdf, .svg)", cxxopts::value<std::string>())(
      "region", "distributions: one region only", cxxopts::value<std::string>())(
      "prefit", "distributions: the pre-fit yields even where the result holds post-fit ones")("h,help", "Show this help");
  options.parse_positional({"kind", "result"});
  options.positional_help("KIND RESULT.json");
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  if (!r->count("kind")) throw InputError("", "KIND", "which figure (see refinery plot --help)");
  if (!r->count("result")) throw InputError("", "RESULT", "no result file given");
  if (!r->count("out")) throw InputError("", "--out", "where to write the figure (FILE.png, FILE.pdf or FILE.svg)");
  const std::string script = plot_script();
  if (script.empty())
    throw std::runtime_error("refinery_plot.py is not installed next to " + executable_directory() +
                             " (share/refinery/)");
  const char* env = std::getenv("REFINERY_PYTHON");
  const std::string python = env && *env ? env : "/usr/bin/python3";
  std::vector<std::string> args = {python, script, (*r)["kind"].as<std::string>(), (*r)["result"].as<std::string>(),
                                   (*r)["out"].as<std::string>()};
  if (r->count("region")) args.insert(args.end(), {"--region", (*r)["region"].as<std::string>()});
  if (r->count("prefit")) args.push_back("--prefit");
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  std::cout.flush();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("cannot start " + python);
  if (pid == 0) {
    execv(python.c_str(), cargs.data());
    std::cerr << "refinery plot: error: cannot run " << python
              << ": plotting needs Debian's python3 with matplotlib (scripts/setup --plot)\n";
    _exit(1);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error("waiting for " + python + " failed");
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  std::cerr << "refinery plot: error: " << python << " " << script << " stopped by signal " << WTERMSIG(status) << "\n";
  return 1;
}

}  // namespace refinery::cli
