// Pseudo-experiments of an experiment's measurement (`refinery toys
// --config`, `fit|scan|... --config --toy I`), for any analysis the config
// declares. The events come from (measurement.toys.events):
//   generator  the config's simulator (simulation.generator), run at the
//              truth: the honest check of the learned pieces;
//   resample   an independent simulated sample (measurement.toys.sample,
//              not mc.h5), each event entering k ~ Poisson(w R(x|theta))
//              times, R the measurement's own model at the truth: toys for
//              an analysis without a generator. Weights must be >= 0 (an
//              event cannot be drawn a negative number of times): a sample
//              with negative weights is refused, naming the file and row.
// The truth (measurement.toys.nu_true or --nu-true):
//   nominal      the nuisances at their constraints' centres, NAME=VALUE,...
//                overrides: auxiliary data drawn around the truth (the
//                frequentist ensemble);
//   from-priors  each constrained nuisance drawn from its constraint and
//                clipped to its fit range and, for generator toys, to the
//                simulator's (its prior's clip), auxiliary data kept at
//                the centres (the challenge's ensemble);
//                from-priors,NAME=VALUE,... holds the named nuisances at
//                those values and draws the rest, each toy's draws the
//                same as without them (conditional coverage, paired with
//                the unconditional toys).
// Toy I at POI value mu is seeded by (config seed, mu, I): shards and reruns
// reproduce it.
#pragma once
#include <Eigen/Dense>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "infer/measurement.h"
#include "src/config/experiment_config.h"
#include "src/stats/region_model.h"

namespace refinery::cli {

class ExperimentToys {
 public:
  // `nu_true` as above; `events` "auto", "generator" or "resample" (auto:
  // the generator when the config sets one that draws pseudo-experiments).
  ExperimentToys(std::shared_ptr<Measurement> measurement, const ExperimentConfig& config, const std::string& nu_true,
                 const std::string& events = "");

  // The measurement's parameter table (the POI is parameter 0); a model
  // without data (no regions): draw() gives the toys' models.
  const stats::Model& model() const { return *base_; }
  // Where the events come from, one line.
  const std::string& source() const { return source_; }

  struct Toy {
    Eigen::VectorXd truth;
    std::unique_ptr<stats::Model> model;  // its data: the toy's events and auxiliary data
    double events = 0;                    // observed events, all regions
    std::string description;
  };
  Toy draw(double mu, std::int64_t index) const;

  // Draws of `other` and of this one share their generated events: a
  // pseudo-experiment the other drew last (the same generator seed, truth
  // and luminosity) is not generated again. For two analyses of the same
  // toys (`refinery toys --with-reference`): draw(mu, i) of both gives the
  // same truths and events.
  void share_events_with(const ExperimentToys& other);

 private:
  struct Source;
  std::shared_ptr<Source> state_;
  std::unique_ptr<stats::RegionModel> base_;
  Eigen::VectorXd truth_;
  bool from_priors_ = false;
  std::vector<bool> fixed_;  // per parameter: held at truth_ under from-priors
  std::vector<double> truth_lower_, truth_upper_;  // per parameter: where drawn truths are clipped
  std::uint64_t seed_ = 0;
  std::string source_;
};

}  // namespace refinery::cli
