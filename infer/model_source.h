// Where the inference commands (fit, scan, impacts, hypotest, limit) get
// their model: a pyhf workspace (positional WORKSPACE.json, with patches) or
// an experiment's measurement (--config EXPERIMENT.json, or the built-in
// experiment), each with one data set, behind the model interface
// (src/stats/model.h). Both kinds take the same options where they mean the
// same thing:
//   --asimov        the Asimov data set at --mu-true and --nu-true
//   --toy I         pseudo-experiment I at --mu-true and --nu-true
//   --data FILE     an event file (experiments)
//   --poi NAME      the parameter of interest (default: the model's first)
//   --poi-bounds    LO,HI for it
// The default data set is the workspace's observations, or an experiment's
// Asimov data at mu 1.
//
// This file and model_source.cpp are LibTorch-free: the `refinery` front end
// runs the commands on workspaces without loading LibTorch. An experiment's
// measurement is loaded by the function that infer/experiment_source.h
// registers (set_experiment_loader); where none is registered, the command
// throws NeedsFullProcess and the front end hands the command line to the
// full executable (app/front_end.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "src/cli/options.h"
#include "src/histfactory/hf_model.h"
#include "src/histfactory/workspace.h"
#include "src/stats/model.h"

namespace refinery::cli {

struct ModelSource {
  std::unique_ptr<stats::Model> model;  // with its data set
  int poi = -1;                         // index of --poi (or the first POI; -1 for none)
  nlohmann::json header;  // what the model and the data are: {model, data, kind, ...}
  std::string description;  // of the data, one line
  std::string file;         // the workspace or config file (messages)
  std::string out;          // where the result goes: --out, an experiment's output_dir/<name>, or "" (stdout only)
  bool workspace = false;
  std::string data_kind;  // "observed", "asimov", "toy", "data"
  // What the model's Asimov data need alive (an experiment's measurement).
  std::shared_ptr<const void> keep_alive;
  std::optional<ExperimentConfig> config;
  // Experiments with --data or Asimov data: the same data and parameters
  // with every unbinned region binned in `variable` at `edges` (`refinery
  // yields --variable`, Measurement::binned_view); empty otherwise.
  std::function<std::unique_ptr<stats::Model>(const std::string& variable, const std::vector<double>& edges)>
      binned_view;
};

// Thrown (not a std::exception: no command catches it) where a command needs
// what this process does not hold, an experiment's measurement in the
// LibTorch-free front end; nothing has been written when it is thrown.
struct NeedsFullProcess {};

// Loads an experiment's model source (infer/experiment_source.cpp), with the
// same arguments as load_model_source.
using ExperimentLoader = ModelSource (*)(const cxxopts::ParseResult& r, CommonOptions& common,
                                         const std::string& result);
void set_experiment_loader(ExperimentLoader loader);

// The model of an HDF5 file given in a workspace's place (a learned-ratio
// likelihood, src/io/learned_ratio_file.h), with what it is in `header`
// ({kind, ...}); registered by the full executable (infer/commands.cpp).
// Where none is registered, file_source throws NeedsFullProcess.
using EventFileModelLoader = std::unique_ptr<stats::Model> (*)(const std::string& path, nlohmann::json* header);
void set_event_file_model_loader(EventFileModelLoader loader);

// Workspace options (WORKSPACE, --patch, --patchset, --patch-name,
// --skip-digest-check, --measurement, --interp, --verbose), data options
// (--asimov, --toy, --data, --mu-true, --nu-true; experiments: --reference,
// --labels, --recalibration, --inputs), --poi, --poi-bounds and --json.
// positional_workspace false: --workspace only (the command's positional
// arguments are its own).
void add_model_options(cxxopts::Options& options, bool positional_workspace = true);

// The model a command runs on. `result` names the experiment's default
// output file ("fit" -> fit_<asimov|toy|data>[_reference].json, others
// <result>.json). InputError for options of the other kind; NeedsFullProcess
// for an experiment where no loader is registered.
ModelSource load_model_source(const cxxopts::ParseResult& r, CommonOptions& common, const std::string& result);

// Pieces the experiment's toys command shares.
void add_data_options(cxxopts::Options& options);
std::uint64_t toy_seed(std::uint64_t seed, double mu);
// Whether --nu-true asks for nuisances drawn from their priors: exactly
// "from-priors", or "from-priors,NAME=VALUE,..." (those held).
bool asks_from_priors(const std::string& nu_true);
std::string default_out(const ExperimentConfig& config, const CommonOptions& common, const std::string& name);

// One NAME=VALUE item of a comma-separated option (--nu-true, --fix).
struct Assignment {
  int index = -1;    // into the parameter names
  std::string name, item;
  double value = 0;  // finite
};
// Parses "NAME=VALUE,..." over the parameter `names`; InputError at `flag`
// for an item that is not NAME=VALUE with a known name, for the POI (index
// `poi`; `poi_hint` says where its value goes) and for a value that is not
// a finite number.
std::vector<Assignment> parse_assignments(const std::string& text, const std::vector<std::string>& names, int poi,
                                          const std::string& flag, const std::string& poi_hint);

// The truth point of Asimov data or toys: `start` with the POI (index `poi`,
// -1 for none) at mu and `nus` ("nominal" or NAME=VALUE,...) applied over the
// parameter `names`; `text` describes it. InputError at --nu-true.
Eigen::VectorXd parse_truth(const std::vector<std::string>& names, Eigen::VectorXd start, int poi, double mu,
                            const std::string& nus, std::string* text);

// Workspace pieces `hypotest --all` shares.
histfactory::Workspace load_workspace(const cxxopts::ParseResult& r);
histfactory::Workspace load_workspace(const cxxopts::ParseResult& r, const std::string& path);
// A hash of what defines a workspace's model: the files' contents, the patch
// name, measurement, interpolation, POI and its bounds.
std::string workspace_identity(const cxxopts::ParseResult& r, const std::string& path);
// The truth point of a workspace's Asimov data or toys: the parameters'
// initial values, the POI at --mu-true, --nu-true NAME=VALUE,... applied;
// `text` describes it.
Eigen::VectorXd workspace_truth(const stats::Model& model, int poi, const cxxopts::ParseResult& r, std::string* text);
std::string workspace_path(const cxxopts::ParseResult& r);
bool verify_digest(const cxxopts::ParseResult& r);
// One data source: --asimov, --toy I or --data FILE; "" for none (InputError
// for two).
std::string data_source(const cxxopts::ParseResult& r);
// Sets s.poi by --poi (default: the model's first POI) and applies --poi-bounds.
void choose_poi(ModelSource& s, const cxxopts::ParseResult& r);

// --interp's value: "default" or "code4" (pyhf's), "code1" (normsys code1,
// histosys code0); InputError naming --interp otherwise.
histfactory::InterpOptions interp_options(const std::string& name);

// A workspace's model with --measurement, --interp, --poi-bounds (notes to
// stderr with --verbose); `header` gets {workspace, notes}.
ModelSource workspace_source(const histfactory::Workspace& ws, const cxxopts::ParseResult& r);
// The model of a file in a workspace's place: a pyhf workspace (with the
// patch options), a simplified likelihood (docs/simplified_likelihood.md), a
// combination (docs/combination.md) or a learned-ratio likelihood (HDF5;
// docs/madminer.md), each with its observed data.
ModelSource file_source(const std::string& path, const cxxopts::ParseResult& r);

// What the model is, by content: its parameter table (with the auxiliary
// data), its observed data and its expectation at the initial values. Two
// shards of one model and data set agree on it whatever the files are called.
std::string model_digest(const stats::Model& model);

// Writes the result to source.out (atomically) when set; prints it as one
// JSON line with --json, else `text` (or the indented JSON when empty).
void emit_result(const nlohmann::json& out, const ModelSource& source, const cxxopts::ParseResult& r,
                 const CommonOptions& common, const std::string& text);

}  // namespace refinery::cli
