// Whole-process HistFactory hypotests (docs/performance.md, "Whole-process
// runs"): what a reinterpretation script pays per signal point when it calls
// the command line once per point, side by side in one run:
//   front end     `refinery hypotest` (app/front_end.cpp: no LibTorch loaded)
//   full          `refinery-full hypotest` (LibTorch loaded: every command
//                 ran this way before the front end)
//   in-process    reading the files, patching, building the model and the
//                 hypotest inside this process (what the command does, less
//                 process start-up and printing)
// and the start-up alone (`--help` of a command in each executable). The
// default case is the published ATLAS stau likelihood (tests/data/pyhf) with
// one signal patch: pyhf's whole-process hypotest on it takes 2.8 s on this
// machine (issue 15). Median of `repeats` runs each.
// Usage: bench_startup [repeats=20] [workspace] [patch]
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "src/core/executable_directory.h"
#include "src/config/schema.h"
#include "src/histfactory/hf_model.h"
#include "src/histfactory/workspace.h"
#include "src/stats/hypotest.h"
#include "src/stats/workspace_model.h"

using namespace refinery;

namespace {

double median(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double median_seconds(int repeats, const std::function<void()>& f) {
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(t);
}

// Runs argv with stdout and stderr to /dev/null; exits on failure. Spawned
// with posix_spawn (vfork-like): a fork of this LibTorch-linked process would
// copy its page tables and add tens of milliseconds to every run.
void run(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t io;
  posix_spawn_file_actions_init(&io);
  posix_spawn_file_actions_addopen(&io, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&io, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, argv[0], &io, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&io);
  int status = 0;
  if (err == 0) waitpid(pid, &status, 0);
  if (err != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench_startup: failed: %s ...\n", args[0].c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 20;
  const std::string ws = argc > 2 ? argv[2] : "tests/data/pyhf/atlas-susy-2018-04/BkgOnly.json";
  const std::string patch = argc > 3 ? argv[3] : "tests/data/pyhf/atlas-susy-2018-04/patch.DS_100_1_Staus.json";
  if (repeats < 1) {
    std::fprintf(stderr, "usage: bench_startup [repeats>=1] [workspace] [patch]\n");
    return 2;
  }
  const std::string bin = refinery::executable_directory() + "/..";
  const std::string front = bin + "/refinery", full = bin + "/refinery-full";
  const std::vector<std::string> args = {"hypotest", ws, "--patch", patch, "--mu", "1", "--json", "--threads", "1"};
  auto command = [&](const std::string& exe) {
    std::vector<std::string> a = {exe};
    a.insert(a.end(), args.begin(), args.end());
    return a;
  };
  run(command(front));  // warm the page cache
  run(command(full));
  const double t_front = median_seconds(repeats, [&] { run(command(front)); });
  const double t_full = median_seconds(repeats, [&] { run(command(full)); });
  const double s_front = median_seconds(repeats, [&] { run({front, "hypotest", "--help"}); });
  const double s_full = median_seconds(repeats, [&] { run({full, "hypotest", "--help"}); });
  double cls = 0;
  const double t_in = median_seconds(repeats, [&] {
    nlohmann::json doc = histfactory::apply_patch(read_json_file(ws), read_json_file(patch), patch);
    auto model = std::make_shared<histfactory::HistFactoryModel>(histfactory::Workspace::from_json(doc, ws));
    stats::WorkspaceModel wm(model);
    stats::AsymptoticCalculator calc(wm, model->require_poi());
    cls = calc.hypotest(1.0).cls;
  });
  std::printf("%s + %s, hypotest at mu = 1 (CLs %.6f), median of %d runs, 1 thread\n\n", ws.c_str(), patch.c_str(), cls,
              repeats);
  std::printf("| how | wall (s) | of which start-up (s) |\n|---|---|---|\n");
  std::printf("| `refinery hypotest` (front end, no LibTorch) | %.4f | %.4f |\n", t_front, s_front);
  std::printf("| `refinery-full hypotest` (LibTorch loaded) | %.4f | %.4f |\n", t_full, s_full);
  std::printf("| in-process (read, patch, build, hypotest) | %.4f | - |\n", t_in);
  return 0;
}
