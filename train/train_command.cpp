// `refinery train dcr` (parametric DCR networks).
//   refinery train dcr --toy dcr_toy_3d --out dcr.pt          (closed-form toy: closure report)
//   refinery train dcr --nominal runs/h/nominal.h5 --variations runs/h/variations.h5
//                      --process PROCESS --out dcr_PROCESS.pt
// Writes the TorchScript archive (metadata inside) and OUT.json (training
// report, closure or validation); --checkpoint / --resume continue an
// interrupted training. With --ensemble M: --shard i/M trains member i alone
// (a job of an array, --emit), --merge joins the members (docs/cluster.md).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>

#include "data/analytic/dcr_toy.h"
#include "models/torchscript_export.h"
#include "src/cli/options.h"
#include "src/config/schema.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/io/event_reader.h"
#include "src/core/text.h"
#include "src/core/worker_threads.h"
#include "train/dcr_training.h"
#include "train/dcr_point_weights.h"
#include "src/cli/job_array.h"
#include "src/distributed/local_launcher.h"
#include "train/training_flags.h"
#include "train/dcr_validation.h"
#include "models/dcr_ensemble.h"
#include "train/dcr_baseline.h"
#include "src/likelihood/dcr_ansatz.h"

namespace refinery::cli {


namespace {

// The key of the DCR ensemble members' seed streams (ensemble_member_options).
constexpr std::uint64_t kDcrMemberSeedTag = 0xe45e;

// "a,b,c": a JSON array's items as a flag value (strings bare, numbers as written).
std::string comma_list(const nlohmann::json& a) {
  std::string s;
  for (const auto& v : a) s += (s.empty() ? "" : ",") + (v.is_string() ? v.get<std::string>() : v.dump());
  return s;
}

// --coordinates "a=square,b=linear" -> powers per nuisance of the ansatz
// (empty when every one is linear); unknown names and coordinates exit 2.
std::vector<int> coordinate_powers(const std::string& text, const std::vector<std::string>& nuisances) {
  std::vector<int> powers(nuisances.size(), 1);
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string::npos) throw InputError("", "--coordinates", "expected name=linear, name=square, name=cubic or name=knot:T, got '" + item + "'");
    const std::string name = item.substr(0, eq);
    const auto it = std::find(nuisances.begin(), nuisances.end(), name);
    if (it == nuisances.end())
      throw InputError("", "--coordinates", "'" + name + "' is not a nuisance of the ansatz (" + join(nuisances) + ")");
    try {
      powers[it - nuisances.begin()] = likelihood::coordinate_power(item.substr(eq + 1));
    } catch (const std::invalid_argument& e) {
      throw InputError("", "--coordinates", name + ": " + e.what());
    }
  }
  if (likelihood::all_linear(powers)) powers.clear();
  return powers;
}

}  // namespace

// The nominal and variation files of a DCR training, read and checked as a
// pair. `train dcr --config` reads them once for all of its processes.
struct DCREventFiles {
  std::string nominal_path, variations_path;
  EventMeta m0, mv;
  EventSet nominal, varied;
};

namespace {

DCREventFiles read_dcr_event_files(const std::string& nominal_path, const std::string& variations_path) {
  DCREventFiles f{nominal_path, variations_path, {}, {}, {}, {}};
  f.nominal = read_events(nominal_path, &f.m0);
  f.varied = read_events(variations_path, &f.mv);
  const EventMeta &m0 = f.m0, &mv = f.mv;
  const EventSet &nominal = f.nominal, &varied = f.varied;
  // The two samples of one training come from one simulation: another
  // config's variations describe other nuisances or selections, and event
  // numbers of another seed would pair unrelated events. (Files that record
  // no config, such as a user's own, are not compared.)
  if (!m0.config_hash.empty() && !mv.config_hash.empty() && m0.config_hash != mv.config_hash)
    throw InputError(variations_path, "attribute config_hash",
                     "simulated with config " + mv.config_hash + ", but " + nominal_path + " with config " + m0.config_hash +
                         ": simulate the nominal and variation samples together (refinery simulate --config ...)");
  if (nominal.has_event_numbers() && varied.has_event_numbers() && m0.seed != mv.seed)
    throw InputError(variations_path, "attribute seed",
                     "simulated with seed " + std::to_string(mv.seed) + ", but " + nominal_path + " with seed " +
                         std::to_string(m0.seed) + ": their event numbers would pair unrelated events");
  if (!varied.has_nuisances()) throw InputError(variations_path, "nuisances", "variation samples carry no nu tag (dataset missing)");
  if (m0.feature_names != mv.feature_names)
    throw InputError(variations_path, "attribute feature_names", "differs from the nominal file's");
  return f;
}

// The distinct rows of nu [n, K] (float32, finite) in lexicographic order,
// and the index of each row's point among them: torch::unique_dim's result
// in one pass over the rows (unique_dim sorted the millions of rows of a
// sample with a few dozen points). A row like the one before costs a
// comparison, another a lookup.
std::pair<torch::Tensor, torch::Tensor> distinct_points(const torch::Tensor& nu) {
  const int64_t n = nu.size(0), K = nu.size(1);
  const float* v = nu.data_ptr<float>();
  std::map<std::vector<float>, int64_t> found;  // point -> index in order of appearance
  std::vector<int64_t> first(n);
  const float* previous = nullptr;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = v + i * K;
    if (previous && std::equal(row, row + K, previous)) {
      first[i] = first[i - 1];
    } else {
      first[i] = found.emplace(std::vector<float>(row, row + K), int64_t(found.size())).first->second;
      previous = row;
    }
  }
  // The map's order is the lexicographic one.
  std::vector<int64_t> rank(found.size());
  torch::Tensor unique = torch::empty({int64_t(found.size()), K}, torch::kFloat32);
  int64_t r = 0;
  for (const auto& [point, index] : found) {
    rank[index] = r;
    std::copy(point.begin(), point.end(), unique.data_ptr<float>() + r * K);
    ++r;
  }
  torch::Tensor index = torch::empty({n}, torch::kInt64);
  int64_t* ip = index.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) ip[i] = rank[first[i]];
  return {unique, index};
}

// Events of one process from the nominal and variation files; variation
// rows grouped by their nu tag restricted to `nuisances`.
DCRTrainingData file_training_data(const DCREventFiles& files, const std::string& process,
                                   const std::vector<std::string>& nuisances) {
  const EventMeta &m0 = files.m0, &mv = files.mv;
  const EventSet &nominal = files.nominal, &varied = files.varied;
  const std::string &nominal_path = files.nominal_path, &variations_path = files.variations_path;
  auto proc_index = [&](const EventMeta& m, const std::string& file) {
    for (size_t i = 0; i < m.process_names.size(); ++i)
      if (m.process_names[i] == process) return static_cast<int>(i);
    throw InputError(file, "--process", "no process '" + process + "' in the file");
  };
  std::vector<int64_t> cols;
  const std::vector<std::string> names = nuisances.empty() ? mv.nuisance_names : nuisances;
  if (names.empty()) throw InputError(variations_path, "attribute nuisance_names", "the variation samples name no nuisance");
  for (const auto& n : names) {
    auto it = std::find(mv.nuisance_names.begin(), mv.nuisance_names.end(), n);
    if (it == mv.nuisance_names.end()) throw InputError(variations_path, "attribute nuisance_names", "no nuisance '" + n + "'");
    cols.push_back(it - mv.nuisance_names.begin());
  }
  DCRTrainingData d;
  torch::Tensor sel0 = nominal.process == proc_index(m0, nominal_path);
  d.x0 = nominal.features.index({sel0}).contiguous();
  d.w0 = nominal.weights.index({sel0}).contiguous();
  torch::Tensor selv = varied.process == proc_index(mv, variations_path);
  d.xv = varied.features.index({selv}).contiguous();
  d.wv = varied.weights.index({selv}).contiguous();
  const torch::Tensor nu = varied.nuisances.index({selv}).index_select(1, torch::tensor(cols)).contiguous();
  std::tie(d.nu_points, d.point) = distinct_points(nu);
  d.nuisance_names = names;
  if (nominal.has_event_numbers() && varied.has_event_numbers()) {  // paired samples
    d.e0 = nominal.event.index({sel0}).contiguous();
    d.ev = varied.event.index({selv}).contiguous();
  }
  return d;
}

// Moves the nu-points named in `spec` ("a=1,b=0.5;c=1.5") out of
// the training data into validation points.
std::vector<DCRValidationPoint> split_holdout(DCRTrainingData& d, const std::string& spec) {
  std::vector<DCRValidationPoint> held;
  if (spec.empty()) return held;
  std::stringstream points(spec);
  torch::Tensor keep_point = torch::ones({d.nu_points.size(0)}, torch::kBool);
  for (std::string item; std::getline(points, item, ';');) {
    torch::Tensor nu = torch::zeros({(int64_t)d.nuisance_names.size()});
    std::stringstream kv(item);
    for (std::string pair; std::getline(kv, pair, ',');) {
      auto eq = pair.find('=');
      auto it = std::find(d.nuisance_names.begin(), d.nuisance_names.end(), pair.substr(0, eq));
      if (eq == std::string::npos || it == d.nuisance_names.end())
        throw InputError("", "--holdout", "expected name=value with a trained nuisance, got '" + pair + "'");
      nu[it - d.nuisance_names.begin()] = std::stof(pair.substr(eq + 1));
    }
    torch::Tensor match = (d.nu_points - nu).abs().amax(1) < 1e-6;
    if (!match.any().item<bool>()) throw InputError("", "--holdout", "no variation sample at " + item);
    const int64_t p = match.nonzero()[0][0].item<int64_t>();
    torch::Tensor sel = d.point == p;
    held.push_back({d.nu_points[p].clone(), d.xv.index({sel}), d.wv.index({sel}), true});
    keep_point[p] = false;
  }
  // Renumber the remaining points.
  torch::Tensor new_index = torch::cumsum(keep_point.to(torch::kLong), 0) - 1;
  torch::Tensor keep_rows = keep_point.index_select(0, d.point);
  d.xv = d.xv.index({keep_rows});
  d.wv = d.wv.index({keep_rows});
  if (d.ev.defined()) d.ev = d.ev.index({keep_rows});
  d.point = new_index.index_select(0, d.point.index({keep_rows}));
  d.nu_points = d.nu_points.index({keep_point});
  return held;
}

// The priors of the ansatz's nuisances, as the config's measurement.nuisances
// declare them (constraint, centre, width, range); for --point-weights prior.
std::vector<NuisancePrior> measurement_priors(const ExperimentConfig& config, const std::vector<std::string>& names) {
  const nlohmann::json& declared = config.section("measurement").at("nuisances");
  std::vector<NuisancePrior> priors;
  for (const auto& name : names) {
    auto it = std::find_if(declared.begin(), declared.end(), [&](const nlohmann::json& n) { return n.at("name") == name; });
    if (it == declared.end())
      throw InputError(config.file, "measurement.nuisances",
                       "no nuisance '" + name + "' to weigh the training points by (--point-weights prior)");
    const std::size_t i = std::size_t(it - declared.begin());
    const std::string field = "measurement.nuisances[" + std::to_string(i) + "]";
    const std::string constraint = it->at("constraint").get<std::string>();
    if (constraint != "gaussian" && constraint != "lognormal")
      throw InputError(config.file, field + ".constraint",
                       "'" + name + "' has no prior to weigh the training points by (--point-weights prior): give it a "
                       "gaussian or lognormal constraint");
    NuisancePrior p;
    p.name = name;
    p.constraint = constraint == "gaussian" ? stats::Constraint::kGaussian : stats::Constraint::kLogNormal;
    p.centre = it->at("centre").get<double>();
    p.width = it->at("width").get<double>();
    p.lower = it->at("range").at(0).get<double>();
    p.upper = it->at("range").at(1).get<double>();
    if (!(p.scale() > 0.0)) throw InputError(config.file, field + ".width", "a prior needs a positive width (and centre)");
    priors.push_back(p);
  }
  return priors;
}

}  // namespace


// `files`: the event files already read (train dcr --config), used when
// --nominal and --variations name them.
int run_train_dcr_one(int argc, char** argv, std::shared_ptr<distributed::Collective> group = nullptr,
                      const DCREventFiles* files = nullptr);

namespace {
int train_dcr_processes(const std::vector<std::string>& processes, const nlohmann::json& d,
                        const std::string& config_path, const std::string& dir, const nlohmann::json& nuisances,
                        const std::vector<std::string>& passthrough, const std::vector<std::string>& thread_flags,
                        std::shared_ptr<distributed::Collective> group);
}  // namespace

// `refinery train dcr --config EXPERIMENT.json` (no --nominal, no --toy):
// one network per process from OUTPUT_DIR/nominal.h5 and variations.h5 into
// OUTPUT_DIR/dcr_<process>.pt, options from the config's `dcr` section.
int run_train_dcr(int argc, char** argv) {
  bool config = false, files = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config" || a.rfind("--config=", 0) == 0) config = true;
    if (a == "--nominal" || a == "--toy" || a.rfind("--nominal=", 0) == 0 || a.rfind("--toy=", 0) == 0) files = true;
    if (a == "-h" || a == "--help") files = true;
  }
  if (!config || files) return run_train_dcr_one(argc, argv);
  // Data-parallel: --world-size N without --rank starts the ranks here,
  // each running this whole command; a rank joins its group once and trains
  // every process's network in it.
  std::shared_ptr<distributed::Collective> group;
  {
    cxxopts::Options flags(argv[0]);
    add_distributed_options(flags);
    flags.allow_unrecognised_options();
    std::vector<char*> copy(argv, argv + argc);
    int n = argc;
    char** v = copy.data();
    const auto parsed = flags.parse(n, v);
    if (auto code = launch_ranks_if_asked(parsed)) return *code;
    group = join_training_group(parsed);
  }
  std::string config_path;
  std::string only;  // --process P[,Q...]: train these of the config's processes alone
  std::vector<std::string> passthrough;
  // The group's flags (joined above) are not passed on: 2 for "--flag VALUE",
  // 1 for "--flag=VALUE", 0 for any other argument.
  auto group_flag = [](const std::string& a) {
    for (const std::string f : {"--world-size", "--rank", "--master", "--join-timeout"}) {
      if (a == f) return 2;
      if (a.rfind(f + "=", 0) == 0) return 1;
    }
    return 0;
  };
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    const int taken = group_flag(a);
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else if (a == "--process" && i + 1 < argc) {
      only = argv[++i];
    } else if (a.rfind("--process=", 0) == 0) {
      only = a.substr(10);
    } else if (a == "--out" || a.rfind("--out=", 0) == 0) {
      throw InputError("", "--out", "with --config each network goes to output_dir/dcr_<process>.pt (the config's output_dir)");
    } else if (taken == 2 && i + 1 < argc) {
      ++i;
    } else if (taken == 1) {
    } else {
      passthrough.push_back(a);
    }
  }
  for (const std::string& a : passthrough)
    for (const std::string flag : {"--emit", "--shard", "--merge"})
      if (a == flag || a.rfind(flag + "=", 0) == 0)
        throw InputError("", flag,
                         "an ensemble's job array is one network's: refinery train dcr --nominal ... --variations ... "
                         "--process P --ensemble M " + flag + " ... (docs/cluster.md)");
  ExperimentConfig cfg = ExperimentConfig::load(config_path);
  const nlohmann::json& d = cfg.section("dcr");
  const std::string dir = cfg.document.at("output_dir").get<std::string>();
  std::vector<std::string> processes = d.at("processes").get<std::vector<std::string>>();
  const std::vector<std::string> in_file = EventReader(dir + "/nominal.h5").meta().process_names;
  if (processes.empty()) processes = in_file;
  for (std::size_t k = 0; k < processes.size(); ++k)
    if (std::find(in_file.begin(), in_file.end(), processes[k]) == in_file.end()) {
      throw InputError(cfg.file, "dcr.processes[" + std::to_string(k) + "]",
                       "no process '" + processes[k] + "' in " + dir + "/nominal.h5 (it has: " + join(in_file) + ")");
    }
  // The ansatz's nuisances: dcr.nuisances, else the calibration nuisances the
  // measurement declares, else every nuisance of the variation samples.
  nlohmann::json nuisances = d.at("nuisances");
  if (nuisances.empty())
    for (const auto& n : cfg.section("measurement").at("nuisances"))
      if (n.at("type") == "calibration") nuisances.push_back(n.at("name"));
  if (d.contains("coordinates"))
    for (const auto& item : d.at("coordinates").items())
      if (std::find(nuisances.begin(), nuisances.end(), item.key()) == nuisances.end())
        throw InputError(cfg.file, "dcr.coordinates." + item.key(),
                         "not a nuisance of the ansatz (" + comma_list(nuisances) + ")");
  // dcr.per_process: a process's own settings over the section's.
  for (const auto& item : d.at("per_process").items())
    if (std::find(processes.begin(), processes.end(), item.key()) == processes.end())
      throw InputError(cfg.file, "dcr.per_process." + item.key(),
                       "no DCR network is trained for a process '" + item.key() + "' (processes: " + comma_list(processes) + ")");
  if (!only.empty()) {  // the named processes alone, each checked against the config's
    std::vector<std::string> chosen;
    std::stringstream list(only);
    for (std::string p; std::getline(list, p, ',');) {
      if (std::find(processes.begin(), processes.end(), p) == processes.end())
        throw InputError("", "--process", "'" + p + "' is not one of the config's DCR processes (" + comma_list(processes) + ")");
      if (std::find(chosen.begin(), chosen.end(), p) == chosen.end()) chosen.push_back(p);
    }
    if (chosen.empty()) throw InputError("", "--process", "names no process");
    processes = chosen;
  }
  // Each network trains on one thread: the config's 128-128 networks take
  // steps too small for a second thread to help (two epochs of the main
  // job's signal network: 11.1 s on one thread, 12.4 s on two), so the
  // cores train several networks at once instead. The processes are split
  // over up to `threads` workers, longest first by members x epochs x steps:
  // this process and, for each further worker, `train dcr --config C
  // --process LIST --threads 1` started here with the same flags. One thread
  // per network in every case, so that a network's bytes do not depend on
  // how the work was split. (Data-parallel ranks keep their threads.)
  int threads = cfg.document.value("threads", 0);
  for (auto it = passthrough.begin(); it != passthrough.end();) {
    std::string value;
    if (*it == "--threads" && it + 1 != passthrough.end()) {
      value = *(it + 1);
      it = passthrough.erase(it, it + 2);
    } else if (it->rfind("--threads=", 0) == 0) {
      value = it->substr(10);
      it = passthrough.erase(it);
    } else {
      ++it;
      continue;
    }
    char* end = nullptr;
    const long t = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0')
      throw InputError("", "--threads", "must lie in 0.." + std::to_string(kMaxThreads) + " (0: all cores), got '" + value + "'");
    threads = checked_threads(t);
  }
  if (threads <= 0) threads = hardware_threads();
  std::vector<std::string> thread_flags = {"--threads", "1"};
  std::vector<pid_t> workers;
  // The workers' exit codes (a signal: 1), all waited for; `stop` ends them first.
  auto wait_workers = [&](bool stop) {
    int code = 0;
    for (pid_t pid : workers) {
      if (stop) ::kill(pid, SIGTERM);
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      const int c = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
      if (code == 0) code = c;
    }
    workers.clear();
    return code;
  };
  if (group->size() > 1) {
    thread_flags = {"--threads", std::to_string(threads)};
  } else if (threads > 1 && processes.size() > 1) {
    std::vector<std::pair<double, std::string>> cost;
    for (const auto& p : processes) {
      nlohmann::json own = d;
      if (d.at("per_process").contains(p)) own.update(d.at("per_process").at(p));
      cost.push_back({own.at("ensemble").get<double>() * own.at("epochs").get<double>() * own.at("steps").get<double>(), p});
    }
    std::stable_sort(cost.begin(), cost.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    const std::size_t n = std::min<std::size_t>(std::size_t(threads), processes.size());
    std::vector<double> load(n, 0.0);
    std::vector<std::vector<std::string>> share(n);
    for (const auto& [c, p] : cost) {
      const std::size_t w = std::min_element(load.begin(), load.end()) - load.begin();
      load[w] += c;
      share[w].push_back(p);
    }
    if (std::find(passthrough.begin(), passthrough.end(), "--quiet") == passthrough.end()) {
      std::cout << "train dcr: " << n << " networks at a time, one thread each: " << comma_list(share[0]) << " here";
      for (std::size_t w = 1; w < n; ++w) std::cout << "; " << comma_list(share[w]) << " in worker " << w;
      std::cout << "\n";
    }
    const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
    std::cout.flush();
    std::cerr.flush();
    for (std::size_t w = 1; w < n; ++w) {
      std::vector<std::string> args = {exe, "train", "dcr", "--config", config_path, "--process", comma_list(share[w]), "--threads", "1"};
      args.insert(args.end(), passthrough.begin(), passthrough.end());
      const pid_t pid = distributed::start_process(args);
      if (pid < 0) {  // the workers already started are stopped, not left to run alone
        wait_workers(true);
        throw std::runtime_error("train dcr: could not start a worker process");
      }
      workers.push_back(pid);
    }
    processes = share[0];
  }
  int own_code = 0;
  try {
    own_code = train_dcr_processes(processes, d, config_path, dir, nuisances, passthrough, thread_flags, group);
  } catch (...) {
    wait_workers(true);
    throw;
  }
  const int worker_code = wait_workers(own_code != 0);
  return own_code != 0 ? own_code : worker_code;
}

namespace {

// The config's networks for `processes`, one after the other, in this process.
int train_dcr_processes(const std::vector<std::string>& processes, const nlohmann::json& d,
                        const std::string& config_path, const std::string& dir, const nlohmann::json& nuisances,
                        const std::vector<std::string>& passthrough, const std::vector<std::string>& thread_flags,
                        std::shared_ptr<distributed::Collective> group) {
  // Both files once for every process (each training selects its own rows).
  const DCREventFiles event_files = read_dcr_event_files(dir + "/nominal.h5", dir + "/variations.h5");
  for (const auto& p : processes) {
    nlohmann::json own = d;
    if (d.at("per_process").contains(p)) own.update(d.at("per_process").at(p));
    std::vector<std::string> args = {"train", "dcr", "--config", config_path, "--nominal", dir + "/nominal.h5",
                                     "--variations", dir + "/variations.h5", "--process", p, "--out", dir + "/dcr_" + p + ".pt",
                                     "--nuisances", comma_list(nuisances), "--hidden", comma_list(own.at("hidden")),
                                     "--epochs", own.at("epochs").dump(), "--steps", own.at("steps").dump(),
                                     "--batch", own.at("batch").dump(), "--lr", own.at("learning_rate").dump(),
                                     "--lr-decay", own.at("lr_decay").dump()};
    if (!own.at("paired").get<bool>()) args.push_back("--unpaired");
    if (own.contains("average_steps") && !own.at("average_steps").is_null())
      args.push_back("--average-steps"), args.push_back(own.at("average_steps").dump());
    if (d.contains("point_weights") && !d.at("point_weights").is_null())
      args.push_back("--point-weights"), args.push_back(d.at("point_weights").get<std::string>());
    if (d.contains("coordinates")) {
      std::string list;
      for (const auto& item : d.at("coordinates").items())
        list += (list.empty() ? "" : ",") + item.key() + "=" + item.value().get<std::string>();
      if (!list.empty()) args.push_back("--coordinates"), args.push_back(list);
    }
    args.push_back("--ensemble"), args.push_back(own.at("ensemble").dump());
    args.insert(args.end(), passthrough.begin(), passthrough.end());
    args.insert(args.end(), thread_flags.begin(), thread_flags.end());
    std::vector<char*> av;
    for (auto& a : args) av.push_back(a.data());
    av.push_back(nullptr);
    const int rc = run_train_dcr_one(int(args.size()), av.data(), group, &event_files);
    if (rc != 0) return rc;
  }
  return 0;
}

}  // namespace

int run_train_dcr_one(int argc, char** argv, std::shared_ptr<distributed::Collective> group, const DCREventFiles* files) {
  cxxopts::Options options(argv[0], "Train a parametric DCR network (or, with --config alone, one per process of the experiment)");
  options.add_options()("what", "dcr", cxxopts::value<std::string>())(
      "toy", "Closed-form toy instead of files: dcr_toy_1d or dcr_toy_3d", cxxopts::value<std::string>())(
      "nominal", "Nominal event file", cxxopts::value<std::string>())(
      "variations", "Variation event file (rows tagged with nu)", cxxopts::value<std::string>())(
      "process", "Process to train for (with --config: the config's processes to train, comma separated; default all)",
      cxxopts::value<std::string>()->default_value(""))(
      "region", "Name of the analysis region the event files were selected for (recorded in the model)",
      cxxopts::value<std::string>()->default_value("inclusive"))(
      "nuisances", "Calibration nuisances of the ansatz, e.g. a,b (default: every nuisance of the variations file)",
      cxxopts::value<std::string>()->default_value(""))(
      "events", "Toy events per sample", cxxopts::value<int64_t>()->default_value("500000"))(
      "order", "Ansatz order: 1 linear, 2 quadratic", cxxopts::value<int>()->default_value("2"))(
      "coordinates", "The ansatz's coordinate of nuisances, NAME=square,... for one whose effect is even in it (the "
      "ansatz in nu^2: a smearing width), NAME=cubic for a term nu^3 added, NAME=knot:T for a term (nu - T)_+^2 "
      "added (a quadratic spline with a knot at T); the others linear",
      cxxopts::value<std::string>()->default_value(""))(
      "hidden", "Hidden layer sizes", cxxopts::value<std::string>()->default_value(""))(
      "epochs", "Epochs", cxxopts::value<int>()->default_value("30"))(
      "steps", "Steps per epoch", cxxopts::value<int64_t>()->default_value("300"))(
      "batch", "Events per step from each side", cxxopts::value<int64_t>()->default_value("8192"))(
      "lr", "Initial learning rate", cxxopts::value<double>()->default_value("0.003"))(
      "lr-decay", "Learning-rate factor per epoch", cxxopts::value<double>()->default_value("0.88"))(
      "average-steps", "Keep a running average of the weights with this time constant in steps, validated and "
      "kept instead of the last weights (0: none)", cxxopts::value<int64_t>()->default_value("0"))(
      "holdout", "nu-points held out of training for validation, e.g. 'a=1,b=0.5;c=1.5'",
      cxxopts::value<std::string>()->default_value(""))(
      "point-weights", "The nu-points' loss weights: uniform, or prior (each point weighs the prior probability "
      "of lying nearer to it than to any other point, from the config's measurement.nuisances)",
      cxxopts::value<std::string>()->default_value("uniform"))(
      "baseline", "Also train per-nu-point classifiers (plain likelihood-ratio trick) and compare (toys)")(
      "unpaired", "Draw nominal and variation events independently even where event numbers pair them")(
      "ensemble", "Train this many networks (seeds from the config's) and average their coefficients per event",
      cxxopts::value<int>()->default_value("1"))(
      "checkpoint", "Checkpoint file (default: OUT.ckpt)", cxxopts::value<std::string>())(
      "resume", "Continue from the checkpoint")(
      "shard", "With --ensemble M: train member i of the M alone (i/M), written as a member file for --merge",
      cxxopts::value<std::string>()->default_value("0/1"))(
      "merge", "With --ensemble M and the same options: average the M member files given as arguments into OUT")(
      "files", "Member files (--merge)", cxxopts::value<std::vector<std::string>>());
  add_common_options(options, true, true);
  add_distributed_options(options);
  add_job_array_options(options);
  options.parse_positional({"what", "files"});
  options.positional_help("dcr [MEMBER.pt...]");
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  // One ensemble member per job: --shard i/M trains member i, --merge joins them.
  const Shard part = parse_shard((*r)["shard"].as<std::string>());
  const bool merge = r->count("merge") > 0;
  const std::string weighting = (*r)["point-weights"].as<std::string>();
  if (weighting != "uniform" && weighting != "prior")
    throw InputError("", "--point-weights", "uniform or prior, got '" + weighting + "'");
  if (r->count("files") && !merge) throw InputError("", "--merge", "member files given without --merge");
  if (job_array_requested(*r) || part.count > 1 || merge) {
    const int m = (*r)["ensemble"].as<int>();
    if (m < 2) throw InputError("", "--ensemble", "a job array trains one ensemble member per job: give --ensemble M >= 2");
    if (r->count("emit") && (!r->count("shards") || (*r)["shards"].as<int>() != m))
      throw InputError("", "--shards", "one ensemble member per job: give --shards " + std::to_string(m) + " (the --ensemble)");
    if (part.count > 1 && part.count != m)
      throw InputError("", "--shard", "member i of the ensemble: i/" + std::to_string(m) + " (the --ensemble), got " +
                                          (*r)["shard"].as<std::string>());
    if (merge && part.count > 1) throw InputError("", "--merge", "merges the members: drop --shard");
    if (r->count("world-size") || r->count("rank"))
      throw InputError("", "--world-size", "an ensemble's members train one per job, each in one process");
    if (r->count("emit")) {
      if (!r->count("out")) throw InputError("", "--out", "no output model path given");
      std::vector<std::string> merge_command = job_arguments();
      merge_command.push_back("--merge");
      return emit_job_array(*r, {"train", ".pt", merge_command, (*r)["out"].as<std::string>()});
    }
  }
  if (!group)
    if (auto code = launch_ranks_if_asked(*r)) return *code;
  CommonOptions common = common_options(*r);
  ExperimentConfig config = setup_experiment(common);
  if (common.out.empty()) throw InputError("", "--out", "no output model path given");
  if (!group) group = join_training_group(*r);
  if (group->size() > 1 && r->count("baseline"))
    throw InputError("", "--baseline", "the per-point baseline classifiers train in one process (drop --world-size)");
  const uint64_t seed = config.document.at("seed").get<uint64_t>();
  torch::manual_seed(seed);

  DCRTrainingData data;
  std::vector<DCRValidationPoint> held;
  std::unique_ptr<analytic::DcrToy> toy;
  std::vector<std::string> feature_names;
  std::vector<int64_t> report_features;
  std::string process = (*r)["process"].as<std::string>();
  if (r->count("toy")) {
    const std::string t = (*r)["toy"].as<std::string>();
    if (t == "dcr_toy_1d") toy = std::make_unique<analytic::DcrToy>(analytic::DcrToy::one_nuisance());
    else if (t == "dcr_toy_3d") toy = std::make_unique<analytic::DcrToy>(analytic::DcrToy::three_nuisances());
    else throw InputError("", "--toy", "unknown toy '" + t + "' (known: dcr_toy_1d, dcr_toy_3d)");
    const int64_t n = (*r)["events"].as<int64_t>();
    if (n <= 0) throw InputError("", "--events", "must be positive");
    data = dcr_toy_training_data(*toy, n, toy->dim() == 1 ? 0.5 : 1.0, 2.0, stream_seed(seed, {0xdc7}));
    process = t;
  } else {
    if (!r->count("nominal") || !r->count("variations")) throw InputError("", "--nominal", "give --nominal and --variations (or --toy)");
    if (process.empty()) throw InputError("", "--process", "which process to train for");
    std::vector<std::string> nuis;
    std::stringstream ss((*r)["nuisances"].as<std::string>());
    for (std::string item; std::getline(ss, item, ',');) nuis.push_back(item);
    const std::string nominal_path = (*r)["nominal"].as<std::string>(), variations_path = (*r)["variations"].as<std::string>();
    if (files && files->nominal_path == nominal_path && files->variations_path == variations_path) {
      data = file_training_data(*files, process, nuis);
    } else {
      data = file_training_data(read_dcr_event_files(nominal_path, variations_path), process, nuis);
    }
    held = split_holdout(data, (*r)["holdout"].as<std::string>());
    // The features the validation report bins in: the config's (an
    // analysis' choice), else the first three; checked before training.
    feature_names = EventReader((*r)["nominal"].as<std::string>()).meta().feature_names;
    for (const auto& name : config.section("dcr").at("report_features").get<std::vector<std::string>>()) {
      auto it = std::find(feature_names.begin(), feature_names.end(), name);
      if (it == feature_names.end())
        throw ConfigError(config.file, "dcr.report_features",
                          "unknown feature '" + name + "' (the event files': " + join(feature_names) + ")");
      report_features.push_back(it - feature_names.begin());
    }
    if (report_features.empty())
      for (int64_t f = 0; f < std::min<int64_t>(3, int64_t(feature_names.size())); ++f) report_features.push_back(f);
  }
  const int64_t F = data.x0.size(1), K = data.nu_points.size(1);
  std::vector<int64_t> hidden = parse_layer_sizes((*r)["hidden"].as<std::string>(), "--hidden");
  if (hidden.empty()) hidden = toy ? std::vector<int64_t>{64, 64} : std::vector<int64_t>{256, 256};
  const int members = (*r)["ensemble"].as<int>();
  if (members < 1 || members > 32) throw InputError("", "--ensemble", "must be in [1, 32]");
  const std::vector<int> powers = coordinate_powers((*r)["coordinates"].as<std::string>(), data.nuisance_names);
  const DCRNetworkOptions net_options = DCRNetworkOptions(F, K)
                                            .order((*r)["order"].as<int>())
                                            .powers(powers)
                                            .hidden(hidden)
                                            .n_indicators(count_indicator_columns(torch::cat({data.x0, data.xv})));
  DCRTrainOptions opt;
  opt.train.epochs = (*r)["epochs"].as<int>();
  opt.train.steps_per_epoch = (*r)["steps"].as<int64_t>();
  opt.batch_size = (*r)["batch"].as<int64_t>();
  opt.train.learning_rate = (*r)["lr"].as<double>();
  opt.train.lr_decay = (*r)["lr-decay"].as<double>();
  opt.train.average_steps = (*r)["average-steps"].as<int64_t>();
  opt.train.seed = seed;
  opt.train.quiet = common.quiet;
  opt.train.label = "train dcr " + process;
  opt.train.checkpoint = r->count("checkpoint") ? (*r)["checkpoint"].as<std::string>() : common.out + ".ckpt";
  opt.train.resume = r->count("resume") > 0;
  opt.paired = r->count("unpaired") == 0;
  opt.train.group = group;
  if (weighting == "prior")
    opt.point_weights = dcr_prior_point_weights(data.nu_points, measurement_priors(config, data.nuisance_names),
                                                stream_seed(seed, {0x9e1647}), 400000, config.file);
  if (opt.point_weights.defined() && !common.quiet) {
    std::ostringstream line;
    line << std::setprecision(3) << "train dcr: loss weights of the " << data.nu_points.size(0) << " nu-points (prior):";
    for (int64_t p = 0; p < data.nu_points.size(0); ++p) line << " " << opt.point_weights[p].item<double>();
    std::cout << line.str() << std::endl;
  }
  check_training_flags(opt.train, *r, "", "");
  // Members: member 0 is the single network of the same seed; member m > 0
  // its own seed stream and checkpoint (OUT.ckpt.m).
  std::vector<DCRNetwork> trained;
  std::vector<uint64_t> member_seeds;
  TrainReport report;
  // What identifies the members of one ensemble: a member file of another
  // training is refused by --merge.
  nlohmann::json member_identity = {{"config_hash", config.hash}, {"seed", seed}, {"process", process},
                                          {"nuisances", data.nuisance_names}, {"members", members},
                                          {"layers", hidden}, {"order", net_options.order()},
                                          {"epochs", opt.train.epochs}, {"steps", opt.train.steps_per_epoch},
                                          {"batch", opt.batch_size}, {"learning_rate", opt.train.learning_rate},
                                          {"lr_decay", opt.train.lr_decay}, {"paired", opt.paired}};
  if (!powers.empty()) member_identity["coordinates"] = dcr_coordinates_json(powers, K);
  if (opt.point_weights.defined()) member_identity["point_weights"] = weighting;
  if (opt.train.average_steps > 0) member_identity["average_steps"] = opt.train.average_steps;
  if (merge) {
    if (!r->count("files")) throw InputError("", "--merge", "give the member files to merge");
    const auto files = (*r)["files"].as<std::vector<std::string>>();
    std::vector<std::string> file_of(members);
    std::vector<nlohmann::json> report_of(members);
    for (const auto& file : files) {
      const nlohmann::json j = read_json_file(file + ".json");
      if (!j.is_object() || !j.contains("member") || !j.contains("identity"))
        throw InputError(file + ".json", "member", "not an ensemble member of refinery train dcr --shard i/M");
      for (const auto& [key, value] : member_identity.items())
        if (j["identity"].value(key, nlohmann::json()) != value)
          throw InputError(file + ".json", "identity." + key,
                           "differs from this training's (" + j["identity"].value(key, nlohmann::json()).dump() + " vs " +
                               value.dump() + "): a member of another ensemble");
      const int k = j["member"].get<int>();
      if (k < 0 || k >= members) throw InputError(file + ".json", "member", "out of range");
      if (!file_of[k].empty())
        throw InputError(file, "member", "member " + std::to_string(k) + " is given twice (also " + file_of[k] + ")");
      file_of[k] = file;
      report_of[k] = j.at("training");
    }
    for (int k = 0; k < members; ++k) {
      if (file_of[k].empty())
        throw InputError("", "--merge", "member " + std::to_string(k) + "/" + std::to_string(members) + " is missing");
      DCRNetwork member(net_options);
      try {
        torch::load(member, file_of[k]);
      } catch (const c10::Error&) {
        throw InputError(file_of[k], "network", "cannot read the member's network");
      }
      const TrainReport member_report = TrainReport::from_json(report_of[k]);
      if (k == 0) report = member_report;
      else report.samples += member_report.samples, report.seconds += member_report.seconds;
      trained.push_back(member);
      member_seeds.push_back(ensemble_member_options(opt.train, k, members, kDcrMemberSeedTag).seed);
    }
  }
  std::shared_ptr<const DCRTrainingSetup> setup;  // prepared once for all members
  for (int m = 0; m < members && !merge; ++m) {
    if (part.count > 1 && m != part.index) continue;
    DCRTrainOptions mo = opt;
    // A job of the array trains its member alone: its checkpoint must be there.
    mo.train = ensemble_member_options(opt.train, m, members, kDcrMemberSeedTag, part.count > 1);
    const uint64_t member_seed = mo.train.seed;
    torch::manual_seed(member_seed);
    DCRNetwork member(net_options);
    if (!setup) setup = prepare_dcr_training(member, data, mo);
    TrainReport member_report = train_dcr(member, data, mo, setup.get());
    if (m == 0) report = member_report;
    else report.samples += member_report.samples, report.seconds += member_report.seconds;
    trained.push_back(member);
    member_seeds.push_back(member_seed);
  }
  // Every rank ends with the same networks; rank 0 finishes and writes.
  if (group->rank() != 0 || report.interrupted) return 0;
  if (part.count > 1) {
    // One member of the ensemble: its weights and report, for --merge.
    torch::save(trained.front(), common.out + ".tmp");
    std::filesystem::rename(common.out + ".tmp", common.out);
    write_text_atomically(common.out + ".json",
                          nlohmann::json({{"member", part.index}, {"identity", member_identity},
                                          {"seed", member_seeds.front()}, {"training", report.to_json()}})
                                  .dump(2) +
                              "\n");
    std::error_code ignored;
    std::filesystem::remove(member_checkpoint(opt.train.checkpoint, part.index), ignored);
    if (!common.quiet) std::cout << "wrote member " << part.index << "/" << members << " to " << common.out << "\n";
    return 0;
  }
  DCRNetwork net = trained.front();
  nlohmann::json ensemble;
  if (members > 1) {
    net = merge_dcr_ensemble(trained);
    auto [before, after] = dcr_normalise(net, data, opt.point_weights);  // the average's own inclusive normalisation
    report.normalisation_rms_before = before;
    report.normalisation_rms_after = after;
    // The members' spread of the inclusive ratio at the training points.
    std::vector<torch::Tensor> ratios;
    for (auto& m : trained)
      ratios.push_back(dcr_inclusive_ratio(dcr_coefficients_cache(m, data.x0), data.w0, data.nu_points, m->options.order(),
                                           m->options.powers()));
    const torch::Tensor sd = torch::stack(ratios).std(0).to(torch::kFloat64).contiguous();  // over members, [P]
    ensemble = {{"members", members},
                {"seeds", member_seeds},
                {"inclusive_ratio_sd", std::vector<double>(sd.data_ptr<double>(), sd.data_ptr<double>() + sd.size(0))},
                {"max_inclusive_ratio_sd", sd.max().item<double>()}};
    if (!common.quiet)
      std::cout << "ensemble of " << members << ": largest spread of the inclusive ratio over the training points "
                << ensemble["max_inclusive_ratio_sd"].get<double>() << "\n";
  }

  nlohmann::json out;
  out["training"] = report.to_json();
  if (!ensemble.is_null()) out["ensemble"] = ensemble;
  out["process"] = process;
  out["region"] = (*r)["region"].as<std::string>();
  out["nuisances"] = data.nuisance_names;
  out["order"] = net->options.order();
  out["coordinates"] = dcr_coordinates_json(net->options.powers(), K);
  out["nu_points"] = data.nu_points.size(0);
  if (opt.point_weights.defined()) {
    const torch::Tensor w = opt.point_weights.to(torch::kFloat64).contiguous();
    out["point_weights"] = {{"rule", weighting},
                            {"weights", std::vector<double>(w.data_ptr<double>(), w.data_ptr<double>() + w.numel())}};
  }
  out["config_hash"] = config.hash;
  out["seed"] = seed;
  if (toy) {
    // Closure: weighted RMS of (learned - exact) log r on fresh nominal
    // events, over nu on a grid of the ball |nu| <= 2.
    torch::Generator gen = make_generator(stream_seed(seed, {0xc105e}));
    EventSet test = toy->sample_at(toy->base(50000, gen), torch::zeros({K}, torch::kFloat64));
    torch::Tensor coef = dcr_coefficients_cache(net, test.features);
    double sum = 0.0;
    int count = 0;
    for (const auto& p : l1_grid(K, 0.5, 2.0 * std::sqrt((double)K))) {
      torch::Tensor nu = torch::tensor(p, torch::kFloat64);
      if (nu.norm().item<double>() > 2.0 + 1e-9) continue;
      torch::Tensor d = torch::mv(coef, dcr_phi(nu, net->options.order(), net->options.powers())) - toy->log_ratio(test.features, nu);
      sum += d.pow(2).mean().item<double>();
      ++count;
    }
    out["closure"] = {{"rms_log_r_error", std::sqrt(sum / count)}, {"nu_points", count}, {"test_events", 50000}};
    // At the training points: the parametric network against one classifier
    // per point (the baseline), on the same test events.
    auto rms_at = [&](const std::function<torch::Tensor(int64_t)>& learned) {
      double s2 = 0.0;
      for (int64_t p = 0; p < data.nu_points.size(0); ++p) {
        torch::Tensor nu = data.nu_points[p].to(torch::kFloat64);
        s2 += (learned(p) - toy->log_ratio(test.features, nu)).pow(2).mean().item<double>();
      }
      return std::sqrt(s2 / data.nu_points.size(0));
    };
    out["closure"]["rms_at_training_points"] =
        rms_at([&](int64_t p) {
          return torch::mv(coef, dcr_phi(data.nu_points[p].to(torch::kFloat64), net->options.order(), net->options.powers()));
        });
    if (r->count("baseline")) {
      PointwiseRatioClassifiers base = train_pointwise_classifiers(data, hidden, opt);
      out["closure"]["baseline_rms_at_training_points"] = rms_at([&](int64_t p) { return base.log_r(test.features, p); });
      if (!common.quiet)
        std::cout << "at the training points: parametric " << out["closure"]["rms_at_training_points"].get<double>()
                  << ", per-point classifiers " << out["closure"]["baseline_rms_at_training_points"].get<double>() << "\n";
    }
    if (!common.quiet)
      std::cout << "closure: RMS error of log r over " << count << " nu-points with |nu| <= 2: "
                << std::sqrt(sum / count) << "\n";
  } else {
    // Training and held-out points: learned vs sample yield ratios,
    // inclusive and in bins of key features.
    std::vector<DCRValidationPoint> points;
    for (int64_t p = 0; p < data.nu_points.size(0); ++p) {
      torch::Tensor sel = data.point == p;
      points.push_back({data.nu_points[p], data.xv.index({sel}), data.wv.index({sel}), false});
    }
    points.insert(points.end(), held.begin(), held.end());
    out["validation"] = dcr_validation_report(net, data.x0, data.w0, points, report_features, feature_names);
    if (!common.quiet) std::cout << dcr_validation_table(out["validation"]);
  }
  nlohmann::json meta = {{"kind", "dcr"}, {"process", process}, {"region", (*r)["region"].as<std::string>()},
                         {"nuisances", data.nuisance_names},
                         {"order", net->options.order()}, {"n_features", F}, {"activation", net->options.activation()},
                         {"config_hash", config.hash}};
  if (!net->options.powers().empty()) meta["coordinates"] = dcr_coordinates_json(net->options.powers(), K);
  if (!feature_names.empty()) meta["feature_names"] = feature_names;
  {
    // The training points' range per nuisance: where the ansatz was fitted.
    const torch::Tensor lo = std::get<0>(data.nu_points.to(torch::kFloat64).min(0)), hi = std::get<0>(data.nu_points.to(torch::kFloat64).max(0));
    meta["nu_range"] = {{"min", std::vector<double>(lo.data_ptr<double>(), lo.data_ptr<double>() + lo.numel())},
                        {"max", std::vector<double>(hi.data_ptr<double>(), hi.data_ptr<double>() + hi.numel())}};
  }
  torch::jit::Module ts = dcr_to_torchscript(net);
  save_torchscript(ts, meta, common.out);
  write_text_atomically(common.out + ".json", out.dump(2) + "\n");
  // The model is written: its checkpoint has served (a rerun starts afresh).
  std::error_code ignored;
  for (int m = 0; m < members; ++m) std::filesystem::remove(member_checkpoint(opt.train.checkpoint, m), ignored);
  if (!common.quiet) std::cout << "wrote " << common.out << " and " << common.out << ".json\n";
  return 0;
}

}  // namespace refinery::cli
