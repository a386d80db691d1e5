// Batch-system job arrays for sharded work (docs/cluster.md): a command that
// splits into shards (`toys --shard i/N`, `hypotest --calculator toybased
// --shard i/N`, `scan --shard i/N`) given `--emit slurm|condor|local --shards N` writes, instead
// of running, a directory with
//   shard.sh        runs shard I of N (the command line as given, with
//                   --shard I/N, its output in shards/, --quiet, --threads)
//   submit.slurm    a Slurm array job over I = 0..N-1 (sbatch submit.slurm)
//   submit.condor   an HTCondor cluster of N jobs (condor_submit submit.condor)
//   run-local.sh    the same array on this machine, the shards in parallel
//   merge.sh        the command's --merge over the shards' outputs
//   logs/, shards/  each shard's log and output
// Resource requests: --job-cpus (threads per shard), --job-memory, --job-time.
// The scripts use absolute paths for refinery and the job directory and run
// in the directory the command was given in, so relative paths keep their
// meaning. No batch system is contacted.
#pragma once
#include <cxxopts.hpp>
#include <string>
#include <vector>

namespace refinery::cli {

void add_job_array_options(cxxopts::Options& options);
bool job_array_requested(const cxxopts::ParseResult& flags);

struct JobArrayCommand {
  std::string name;                       // "toys": the logs' and shards' file names
  std::string extension;                  // of a shard's output: ".csv", ".json"
  std::vector<std::string> merge_prefix;  // the merge command before the shards' files (after `refinery`)
  std::string merged_output;              // where merge.sh writes (absolute or relative to the working directory)
};

// Writes the job directory (--job-dir, default NAME-jobs/ in the working
// directory) for this process's command line; returns the exit code.
// InputError naming the flag for a bad request (--shards < 1, an unknown
// --emit, --shard together with --emit).
int emit_job_array(const cxxopts::ParseResult& flags, const JobArrayCommand& command);

// This process's command line (/proc/self/cmdline), argv[0] included.
std::vector<std::string> process_command_line();
// The command line as a shard runs it: without argv[0], the job-array flags
// and those each shard sets itself (--shard, --out, --threads, --quiet).
std::vector<std::string> job_arguments();

}  // namespace refinery::cli
