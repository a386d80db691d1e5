// Job arrays (src/cli/job_array.h): the scripts written for Slurm, HTCondor
// and this machine, a local run of the array merged into the unsharded
// result (toys and a toy-based hypotest), and bad requests.
#include "testing.hpp"

#include <nlohmann/json.hpp>

using refinery::testing::file_exists;
using refinery::testing::read_file;
using refinery::testing::run_command;
using refinery::testing::run_refinery;
using refinery::testing::TempDir;
using nlohmann::json;

TEST_CASE("A job array of toys run on this machine merges into the unsharded result", "[cluster][toys]") {
  TempDir tmp("job_array_toys");
  const std::string ws = refinery::testing::source_path("tests/data/pyhf/workspaces/sr_cr_coupled.json");
  const std::string toys = "toys " + ws + " --n 200 --mu-values 0.5,1.5 --seed 3";
  auto emit = run_refinery(toys + " --emit local --shards 3 --job-dir " + tmp.path("jobs") + " --out " + tmp.path("merged.csv"));
  INFO(emit.output);
  REQUIRE(emit.exit_code == 0);
  REQUIRE(emit.output.find("run: " + tmp.path("jobs") + "/run-local.sh") != std::string::npos);
  REQUIRE_FALSE(file_exists(tmp.path("merged.csv")));  // written, not run
  auto run = run_command("bash " + tmp.path("jobs/run-local.sh"));
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  for (int i = 0; i < 3; ++i) REQUIRE(file_exists(tmp.path("jobs/shards/toys-" + std::to_string(i) + ".csv")));
  REQUIRE(run_refinery(toys + " --quiet --out " + tmp.path("one.csv")).exit_code == 0);
  const json merged = json::parse(read_file(tmp.path("merged.csv.json")));
  const json one = json::parse(read_file(tmp.path("one.csv.json")));
  REQUIRE(merged["overall"]["toys"] == 400);
  CHECK(merged["overall"]["coverage"] == one["overall"]["coverage"]);
  CHECK(merged["overall"]["mean_width"].get<double>() == Approx(one["overall"]["mean_width"].get<double>()).epsilon(1e-9));
  CHECK(merged["overall"]["bias"].get<double>() == Approx(one["overall"]["bias"].get<double>()).epsilon(1e-6));
  // A shard that failed stops the merge with a line that names it.
  std::remove(tmp.path("jobs/shards/toys-1.csv").c_str());
  auto merge = run_command("bash " + tmp.path("jobs/merge.sh"));
  CHECK(merge.exit_code == 1);
  CHECK(merge.output == "merge.sh: shard 1 has no output (" + tmp.path("jobs/shards/toys-1.csv") + "): see " +
                            tmp.path("jobs/logs") + "\n");
}

TEST_CASE("A toy-based hypotest's job array merges into the unsharded CLs", "[cluster][hypotest]") {
  TempDir tmp("job_array_hypotest");
  const std::string ws = refinery::testing::source_path("tests/data/pyhf/workspaces/sr_cr_coupled.json");
  const std::string base = "hypotest " + ws + " --calculator toybased --ntoys 120 --seed 9";
  REQUIRE(run_refinery(base + " --emit local --shards 2 --job-dir " + tmp.path("jobs") + " --out " + tmp.path("m.json"))
              .exit_code == 0);
  auto run = run_command("bash " + tmp.path("jobs/run-local.sh"));
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  REQUIRE(run_refinery(base + " --quiet --out " + tmp.path("one.json")).exit_code == 0);
  const json m = json::parse(read_file(tmp.path("m.json"))), one = json::parse(read_file(tmp.path("one.json")));
  CHECK(m["toys"]["null"]["n"] == 120);
  CHECK(m["cls_obs"].get<double>() == Approx(one["cls_obs"].get<double>()).epsilon(1e-12));
}

TEST_CASE("Slurm and HTCondor job arrays request what was asked, each shard with its own shard and output", "[cluster]") {
  TempDir tmp("job_array_scripts");
  const std::string ws = refinery::testing::source_path("tests/data/pyhf/workspaces/sr_cr_coupled.json");
  REQUIRE(run_refinery("toys " + ws + " --n 100 --emit slurm --shards 16 --job-cpus 2 --job-memory 4G --job-time 00:30:00 "
                       "--job-dir " + tmp.path("s"))
              .exit_code == 0);
  const std::string slurm = read_file(tmp.path("s/submit.slurm"));
  for (const std::string line : std::vector<std::string>{"#SBATCH --array=0-15\n", "#SBATCH --cpus-per-task=2\n", "#SBATCH --mem=4G\n",
                                 "#SBATCH --time=00:30:00\n", "#SBATCH --output=" + tmp.path("s/logs") + "/toys-%a.log\n"}) {
    INFO(line);
    CHECK(slurm.find(line) != std::string::npos);
  }
  const std::string shard = read_file(tmp.path("s/shard.sh"));
  CHECK(shard.find("--threads 2 --quiet --shard \"$i/16\" --out '" + tmp.path("s/shards/toys-") + "'\"$i\"'.csv'") !=
        std::string::npos);
  CHECK(shard.find("export OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE") != std::string::npos);
  REQUIRE(run_refinery("hypotest " + ws + " --calculator toybased --ntoys 100 --emit condor --shards 5 --job-memory 3000M "
                       "--job-dir " + tmp.path("c"))
              .exit_code == 0);
  const std::string condor = read_file(tmp.path("c/submit.condor"));
  for (const std::string line : std::vector<std::string>{"queue 5\n", "request_memory = 3000 MB\n", "arguments      = $(Process)\n",
                                 "executable     = " + tmp.path("c/shard.sh") + "\n", "+MaxRuntime    = 7200\n"}) {
    INFO(line);
    CHECK(condor.find(line) != std::string::npos);
  }
  // A shard script runs one shard: shard 2 of 5 draws toys 2, 7, ...
  auto one = run_command("bash " + tmp.path("c/shard.sh") + " 2");
  INFO(one.output);
  REQUIRE(one.exit_code == 0);
  CHECK(json::parse(read_file(tmp.path("c/shards/hypotest-2.json")))["toys"]["shard"] == "2/5");
}

TEST_CASE("Job arrays: bad requests are one line and exit 2, and write nothing", "[cluster][bad-input]") {
  TempDir tmp("job_array_bad");
  const std::string ws = refinery::testing::source_path("tests/data/pyhf/workspaces/sr_cr_coupled.json");
  const std::string toys = "toys " + ws + " --n 10 --job-dir " + tmp.path("j");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {toys + " --emit pbs --shards 2", "refinery toys: error: --emit: unknown batch system 'pbs' (known: slurm, condor, local)\n"},
      {toys + " --shards 2", "refinery toys: error: --shards: needs --emit slurm|condor|local\n"},
      {toys + " --emit slurm", "refinery toys: error: --shards: how many shards the job array has\n"},
      {toys + " --emit slurm --shards 0", "refinery toys: error: --shards: must be in 1..100000, got 0\n"},
      {toys + " --emit slurm --shards 2 --shard 1/2",
       "refinery toys: error: --shard: each job of the array sets its own shard (drop --shard with --emit)\n"},
      {toys + " --emit slurm --shards 2 --job-time 1h", "refinery toys: error: --job-time: expected HH:MM:SS, got '1h'\n"},
      {toys + " --emit slurm --shards 2 --job-memory lots",
       "refinery toys: error: --job-memory: expected a size like 2048M or 2G, got 'lots'\n"},
      {toys + " --emit slurm --shards 2 --job-cpus 0", "refinery toys: error: --job-cpus: must be in 1..1024, got 0\n"},
      {"hypotest " + ws + " --emit slurm --shards 2", "refinery hypotest: error: --emit: shards the pseudo-experiments of --calculator toybased\n"},
  };
  for (const auto& [command, message] : cases) {
    auto r = run_refinery(command);
    INFO(command);
    CHECK(r.exit_code == 2);
    CHECK(r.output == message);
  }
  REQUIRE_FALSE(file_exists(tmp.path("j")));
}

TEST_CASE("A scan's job array, 1D and 2D, merges into the unsharded scan, and bad merges are named", "[cluster][scan]") {
  TempDir tmp("job_array_scan");
  const std::string ws = refinery::testing::source_path("tests/data/pyhf/workspaces/sr_cr_coupled.json");
  auto same_points = [](const json& a, const json& b) {
    REQUIRE(a["scan"]["points"].size() == b["scan"]["points"].size());
    for (std::size_t k = 0; k < a["scan"]["points"].size(); ++k) {
      const json &p = a["scan"]["points"][k], &q = b["scan"]["points"][k];
      CHECK(p["value"] == q["value"]);
      CHECK(p["converged"] == q["converged"]);
      // Each shard's walk from the MLE starts at the MLE: equal to the fits' tolerance.
      CHECK(p["t"].get<double>() == Approx(q["t"].get<double>()).margin(1e-6));
    }
  };
  // 1D: a job array of 3 shards over 9 points, run here, merged by merge.sh.
  const std::string scan = "scan " + ws + " --points 9";
  REQUIRE(run_refinery(scan + " --emit local --shards 3 --job-dir " + tmp.path("jobs") + " --out " + tmp.path("m.json"))
              .exit_code == 0);
  auto run = run_command("bash " + tmp.path("jobs/run-local.sh"));
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  REQUIRE(run_refinery(scan + " --quiet --out " + tmp.path("one.json")).exit_code == 0);
  const json m = json::parse(read_file(tmp.path("m.json"))), one = json::parse(read_file(tmp.path("one.json")));
  CHECK(json::parse(read_file(tmp.path("jobs/shards/scan-1.json")))["scan"]["points"].size() == 3);
  same_points(m, one);
  CHECK(m["interval_68"] == one["interval_68"]);  // from shard 0, the same root finding
  CHECK(m["interval_95"] == one["interval_95"]);
  CHECK_FALSE(m["scan"].contains("shard"));
  // 2D: 5 rows of mu x 4 columns of k_bkg in 2 shards (rows 0-1 and 2-4).
  const std::string scan2 = "scan " + ws + " --poi2 k_bkg --points 5 --points2 4 --quiet";
  for (int i = 0; i < 2; ++i)
    REQUIRE(run_refinery(scan2 + " --shard " + std::to_string(i) + "/2 --out " + tmp.path("s" + std::to_string(i) + ".json"))
                .exit_code == 0);
  REQUIRE(run_refinery("scan --merge " + tmp.path("s1.json") + " " + tmp.path("s0.json") + " --quiet --out " +
                       tmp.path("m2.json"))
              .exit_code == 0);
  REQUIRE(run_refinery(scan2 + " --out " + tmp.path("two.json")).exit_code == 0);
  const json m2 = json::parse(read_file(tmp.path("m2.json")));
  CHECK(json::parse(read_file(tmp.path("s0.json")))["scan"]["points"].size() == 8);
  same_points(m2, json::parse(read_file(tmp.path("two.json"))));

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"scan --merge " + tmp.path("s0.json"), "refinery scan: error: --merge: shard 1/2 is missing\n"},
      {"scan --merge " + tmp.path("s0.json") + " " + tmp.path("s0.json"),
       "refinery scan: error: " + tmp.path("s0.json") + ": scan.shard.shard: shard 0/2 is given twice (also " +
           tmp.path("s0.json") + ")\n"},
      {"scan --merge " + tmp.path("s0.json") + " " + tmp.path("jobs/shards/scan-1.json"),
       "refinery scan: error: " + tmp.path("jobs/shards/scan-1.json") +
           ": scan.shard.grid: differs from " + tmp.path("s0.json") + ": a shard of another model or grid\n"},
      {"scan --merge " + tmp.path("one.json"),
       "refinery scan: error: " + tmp.path("one.json") + ": scan.shard: not a shard: the result of refinery scan without --shard i/N\n"},
      {scan + " --shard 2/10", "refinery scan: error: --shard: more shards (10) than points (9)\n"},
  };
  for (const auto& [command, message] : bad) {
    auto r = run_refinery(command + " --out " + tmp.path("bad.json"));
    INFO(command);
    CHECK(r.exit_code == 2);
    CHECK(r.output == message);
  }
  CHECK_FALSE(file_exists(tmp.path("bad.json")));
}

TEST_CASE("A DCR ensemble as a job array, one member per job, merges into the ensemble trained in one process",
          "[cluster][dcr]") {
  TempDir tmp("job_array_dcr");
  const std::string train = "train dcr --toy dcr_toy_1d --events 20000 --epochs 2 --steps 30";
  REQUIRE(run_refinery(train + " --ensemble 2 --emit local --shards 2 --job-dir " + tmp.path("jobs") + " --out " +
                       tmp.path("merged.pt"))
              .exit_code == 0);
  auto run = run_command("bash " + tmp.path("jobs/run-local.sh"));
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK(json::parse(read_file(tmp.path("jobs/shards/train-1.pt.json")))["member"] == 1);
  // In one process with the shards' one thread: the same members, bit for bit the same model.
  REQUIRE(run_refinery(train + " --ensemble 2 --threads 1 --quiet --out " + tmp.path("one.pt")).exit_code == 0);
  CHECK(read_file(tmp.path("merged.pt")) == read_file(tmp.path("one.pt")));
  const json m = json::parse(read_file(tmp.path("merged.pt.json"))), one = json::parse(read_file(tmp.path("one.pt.json")));
  CHECK(m["ensemble"] == one["ensemble"]);
  CHECK(m["closure"] == one["closure"]);
  CHECK(m["training"]["samples"] == one["training"]["samples"]);

  const std::string member0 = tmp.path("jobs/shards/train-0.pt");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {train + " --ensemble 2 --merge " + member0, "refinery train: error: --merge: member 1/2 is missing\n"},
      {train + " --ensemble 2 --merge " + member0 + " " + member0,
       "refinery train: error: " + member0 + ": member: member 0 is given twice (also " + member0 + ")\n"},
      {train + " --ensemble 3 --merge " + member0,
       "refinery train: error: " + member0 + ".json: identity.members: differs from this training's (2 vs 3): a member of another ensemble\n"},
      {train + " --emit local --shards 2 --job-dir " + tmp.path("j2"), "refinery train: error: --ensemble: a job array trains one ensemble member per job: give --ensemble M >= 2\n"},
      {train + " --ensemble 2 --emit slurm --shards 3 --job-dir " + tmp.path("j2"), "refinery train: error: --shards: one ensemble member per job: give --shards 2 (the --ensemble)\n"},
      {train + " --ensemble 2 --shard 1/3", "refinery train: error: --shard: member i of the ensemble: i/2 (the --ensemble), got 1/3\n"},
  };
  for (const auto& [command, message] : bad) {
    auto r = run_refinery(command + " --out " + tmp.path("bad.pt"));
    INFO(command);
    CHECK(r.exit_code == 2);
    CHECK(r.output == message);
  }
  CHECK_FALSE(file_exists(tmp.path("bad.pt")));
  CHECK_FALSE(file_exists(tmp.path("j2")));
}
