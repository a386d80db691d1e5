#include "src/cli/job_array.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <regex>
#include <sstream>
#include <thread>

#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/core/executable_directory.h"

namespace refinery::cli {

namespace fs = std::filesystem;

namespace {

// One word for bash: single-quoted, a quote as '\''.
std::string quote(const std::string& word) {
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string quoted(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + quote(w);
  return out;
}

// The user's front end (`refinery`): beside this executable in the build
// tree, bin/ when installed (this is libexec/refinery/refinery-full), or
// this executable itself.
std::string front_end() {
  const std::string dir = executable_directory();
  for (const std::string& candidate : {dir + "/refinery", dir + "/../../bin/refinery"})
    if (!dir.empty() && fs::exists(candidate)) return fs::weakly_canonical(candidate).string();
  return fs::read_symlink("/proc/self/exe").string();
}

// The command line without the job-array flags and those each shard sets.
std::vector<std::string> shard_arguments(const std::vector<std::string>& line) {
  static const std::vector<std::string> with_value = {"--emit", "--shards", "--job-dir", "--job-cpus", "--job-memory",
                                                      "--job-time", "--shard", "--out", "--threads"};
  std::vector<std::string> out;
  for (size_t i = 1; i < line.size(); ++i) {
    const std::string& a = line[i];
    bool drop = a == "--quiet";
    for (const auto& flag : with_value) {
      if (a == flag) {
        drop = true;
        ++i;  // its value
        break;
      }
      if (a.rfind(flag + "=", 0) == 0) drop = true;
    }
    if (!drop) out.push_back(a);
  }
  return out;
}

void write_script(const fs::path& path, const std::string& text, bool executable) {
  write_text_atomically(path.string(), text);
  if (executable) fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                                  fs::perm_options::add);
}

}  // namespace

std::vector<std::string> job_arguments() { return shard_arguments(process_command_line()); }

std::vector<std::string> process_command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> out;
  std::string item;
  for (char c : all) {
    if (c == '\0') {
      out.push_back(item);
      item.clear();
    } else {
      item += c;
    }
  }
  if (!item.empty()) out.push_back(item);
  return out;
}

void add_job_array_options(cxxopts::Options& options) {
  options.add_options("Job arrays")(
      "emit", "Write a job array instead of running: slurm, condor or local (docs/cluster.md)", cxxopts::value<std::string>())(
      "shards", "Shards of the job array (--emit)", cxxopts::value<int>())(
      "job-dir", "Directory for the job array's scripts, logs and shard outputs (default: NAME-jobs)",
      cxxopts::value<std::string>())("job-cpus", "Threads per shard (--emit)", cxxopts::value<int>()->default_value("1"))(
      "job-memory", "Memory per shard, e.g. 2G (--emit)", cxxopts::value<std::string>()->default_value("2G"))(
      "job-time", "Wall time per shard, HH:MM:SS (--emit)", cxxopts::value<std::string>()->default_value("02:00:00"));
}

bool job_array_requested(const cxxopts::ParseResult& flags) {
  if (flags.count("emit")) return true;
  for (const char* f : {"shards", "job-dir"})
    if (flags.count(f)) throw InputError("", std::string("--") + f, "needs --emit slurm|condor|local");
  return false;
}

int emit_job_array(const cxxopts::ParseResult& flags, const JobArrayCommand& command) {
  const std::string system = flags["emit"].as<std::string>();
  if (system != "slurm" && system != "condor" && system != "local")
    throw InputError("", "--emit", "unknown batch system '" + system + "' (known: slurm, condor, local)");
  if (!flags.count("shards")) throw InputError("", "--shards", "how many shards the job array has");
  const int shards = flags["shards"].as<int>();
  if (shards < 1 || shards > 100000) throw InputError("", "--shards", "must be in 1..100000, got " + std::to_string(shards));
  if (flags.count("shard") && flags["shard"].as<std::string>() != "0/1")
    throw InputError("", "--shard", "each job of the array sets its own shard (drop --shard with --emit)");
  const int cpus = flags["job-cpus"].as<int>();
  if (cpus < 1 || cpus > 1024) throw InputError("", "--job-cpus", "must be in 1..1024, got " + std::to_string(cpus));
  const std::string memory = flags["job-memory"].as<std::string>();
  const std::string time = flags["job-time"].as<std::string>();
  {
    int h = 0, m = 0, s = 0;
    char c1 = 0, c2 = 0;
    std::istringstream in(time);
    if (!(in >> h >> c1 >> m >> c2 >> s) || c1 != ':' || c2 != ':' || !in.eof() || h < 0 || m < 0 || m > 59 || s < 0 ||
        s > 59)
      throw InputError("", "--job-time", "expected HH:MM:SS, got '" + time + "'");
  }
  if (!std::regex_match(memory, std::regex("[0-9]+[KMGT]?")))
    throw InputError("", "--job-memory", "expected a size like 2048M or 2G, got '" + memory + "'");

  const fs::path work = fs::current_path();
  const fs::path dir = fs::absolute(flags.count("job-dir") ? fs::path(flags["job-dir"].as<std::string>())
                                                           : fs::path(command.name + "-jobs"));
  fs::create_directories(dir / "logs");
  fs::create_directories(dir / "shards");
  const std::string exe = front_end();
  const std::vector<std::string> args = shard_arguments(process_command_line());
  const std::string n = std::to_string(shards);
  const std::string shard_out = (dir / "shards" / command.name).string() + "-";

  std::ostringstream shard;
  shard << "#!/usr/bin/env bash\n"
        << "# Shard I (0.." << shards - 1 << ") of a job array written by `refinery ... --emit " << system << "`:\n"
        << "#   " << quoted(args) << "\n"
        << "set -euo pipefail\n"
        << "i=\"${1:?usage: shard.sh I}\"\n"
        << "cd " << quote(work.string()) << "\n"
        << "# One thread per requested CPU, threads that sleep while they wait (a shared node).\n"
        << "export OMP_NUM_THREADS=" << cpus << " OMP_WAIT_POLICY=PASSIVE\n"
        << "exec " << quote(exe) << " " << quoted(args) << " --threads " << cpus << " --quiet --shard \"$i/" << n
        << "\" --out " << quote(shard_out) << "\"$i\"" << quote(command.extension) << "\n";
  write_script(dir / "shard.sh", shard.str(), true);

  std::vector<std::string> merge = command.merge_prefix;
  std::ostringstream merge_script;
  merge_script << "#!/usr/bin/env bash\n"
               << "# Merges the shards of the job array (run after every shard has finished).\n"
               << "set -euo pipefail\n"
               << "cd " << quote(work.string()) << "\n"
               << "shards=()\n"
               << "for i in $(seq 0 " << shards - 1 << "); do\n"
               << "  f=" << quote(shard_out) << "\"$i\"" << quote(command.extension) << "\n"
               << "  [[ -f \"$f\" ]] || { echo \"merge.sh: shard $i has no output ($f): see "
               << (dir / "logs").string() << "\" >&2; exit 1; }\n"
               << "  shards+=(\"$f\")\n"
               << "done\n"
               << "exec " << quote(exe) << " " << quoted(merge) << " \"${shards[@]}\" --out "
               << quote(command.merged_output) << "\n";
  write_script(dir / "merge.sh", merge_script.str(), true);

  std::string how;
  if (system == "slurm") {
    std::ostringstream s;
    s << "#!/usr/bin/env bash\n"
      << "#SBATCH --job-name=refinery-" << command.name << "\n"
      << "#SBATCH --array=0-" << shards - 1 << "\n"
      << "#SBATCH --cpus-per-task=" << cpus << "\n"
      << "#SBATCH --mem=" << memory << "\n"
      << "#SBATCH --time=" << time << "\n"
      << "#SBATCH --output=" << (dir / "logs").string() << "/" << command.name << "-%a.log\n"
      << "exec " << quote((dir / "shard.sh").string()) << " \"$SLURM_ARRAY_TASK_ID\"\n";
    write_script(dir / "submit.slurm", s.str(), false);
    how = "sbatch " + (dir / "submit.slurm").string() + ", then (after the array) " + (dir / "merge.sh").string() +
          " (or sbatch --dependency=afterok:JOBID " + (dir / "merge.sh").string() + ")";
  } else if (system == "condor") {
    // HTCondor takes memory in MB, or with a unit suffix.
    std::string mem = memory;
    const char unit = mem.back();
    if (unit == 'K' || unit == 'M' || unit == 'G' || unit == 'T') mem = mem.substr(0, mem.size() - 1) + " " + unit + "B";
    int h = 0, m = 0, sec = 0;
    char c = 0;
    std::istringstream(time) >> h >> c >> m >> c >> sec;
    std::ostringstream s;
    s << "# HTCondor: one job per shard (condor_submit " << (dir / "submit.condor").string() << ")\n"
      << "universe       = vanilla\n"
      << "executable     = " << (dir / "shard.sh").string() << "\n"
      << "arguments      = $(Process)\n"
      << "initialdir     = " << work.string() << "\n"
      << "output         = " << (dir / "logs").string() << "/" << command.name << "-$(Process).log\n"
      << "error          = " << (dir / "logs").string() << "/" << command.name << "-$(Process).err\n"
      << "log            = " << (dir / "logs").string() << "/condor.log\n"
      << "request_cpus   = " << cpus << "\n"
      << "request_memory = " << mem << "\n"
      << "+MaxRuntime    = " << (h * 3600 + m * 60 + sec) << "\n"
      << "should_transfer_files = NO\n"
      << "queue " << shards << "\n";
    write_script(dir / "submit.condor", s.str(), false);
    how = "condor_submit " + (dir / "submit.condor").string() + ", then (after the jobs) " + (dir / "merge.sh").string();
  }
  {
    // The same array on this machine: as many shards at once as the cores
    // allow for the requested threads each, then the merge.
    std::ostringstream s;
    s << "#!/usr/bin/env bash\n"
      << "# Runs the job array on this machine, then merges.\n"
      << "set -euo pipefail\n"
      << "parallel=${PARALLEL:-$(( $(nproc) / " << cpus << " > 0 ? $(nproc) / " << cpus << " : 1 ))}\n"
      << "seq 0 " << shards - 1 << " | xargs -P \"$parallel\" -I{} bash -c "
      << quote(quote((dir / "shard.sh").string()) + " {} > " + quote((dir / "logs").string() + "/" + command.name) +
               "-{}.log 2>&1 || { echo \"shard {} failed: see " + (dir / "logs").string() + "/" + command.name +
               "-{}.log\" >&2; exit 255; }")
      << "\n"
      << "exec " << quote((dir / "merge.sh").string()) << "\n";
    write_script(dir / "run-local.sh", s.str(), true);
    if (system == "local") how = (dir / "run-local.sh").string();
  }
  std::cout << "wrote a job array of " << shards << " shard" << (shards == 1 ? "" : "s") << " in " << dir.string()
            << "\nrun: " << how << "\n";
  return 0;
}

}  // namespace refinery::cli
