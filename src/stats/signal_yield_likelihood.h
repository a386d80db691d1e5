// The likelihood of a background-only workspace as a function of the signal
// yields s in a template of bins (issue 18 item 1): what a reinterpretation
// needs from a published likelihood for a new signal, and what a learned
// surrogate (src/stats/yield_surrogate.h) replaces.
//
// A signal of yields s is the workspace plus, in every channel of the
// template, one sample whose expected count in bin b is mu * s_b (a
// normfactor, the measurement's POI, times one free factor per bin, the
// yield), with no other modifier: the nominal yields of a signal without its
// systematics. The label of s is the negative log-likelihood at mu = 1,
// minimised over the nuisances, for the observed data and for the
// background-only Asimov data (the nuisances at their background-only fit to
// the observed data, as the asymptotic CLs calculator builds it):
//   f_obs(s) = min_theta -log L(mu = 1, s, theta | observed),
//   f_A(s)   = min_theta -log L(mu = 1, s, theta | Asimov(mu = 0)).
// f(0) are the background-only minima, constants of the workspace. A signal
// of strength mu is the point mu * s, so q~_mu and CLs follow from f along
// the ray (the surrogate's model does exactly that).
#pragma once
#include <Eigen/Dense>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/histfactory/hf_model.h"
#include "src/histfactory/workspace.h"
#include "src/stats/fit.h"
#include "src/stats/workspace_model.h"

namespace refinery::stats {

struct TemplateBin {
  std::string channel;
  int bin = 0;
  std::string name() const;  // "channel[bin]"
};

// The bins in which any of the signal workspaces (a background-only
// workspace with a patch applied) has a nonzero nominal yield of a sample
// scaled by the POI, in the channel order of `background`. InputError
// naming `where` when there is none.
std::vector<TemplateBin> signal_template(const histfactory::Workspace& background,
                                         const std::vector<histfactory::Workspace>& signals,
                                         const std::string& measurement, const std::string& where);
// Parses "CH" (every bin of a channel) or "CH[b]" items; InputError naming
// `flag` for a channel or bin the workspace does not have or a bin named twice.
std::vector<TemplateBin> parse_signal_template(const histfactory::Workspace& background,
                                               const std::vector<std::string>& items, const std::string& flag);
// The nominal yields of the POI-scaled samples of a signal workspace in the
// template's bins (0 where it has none); `outside`, when set, receives their
// sum over the bins outside the template.
Eigen::VectorXd signal_yields(const histfactory::Workspace& signal, const std::vector<TemplateBin>& bins,
                              const std::string& measurement, double* outside = nullptr);

class SignalYieldLikelihood {
 public:
  // `background` must not hold the POI's signal already (InputError).
  SignalYieldLikelihood(const histfactory::Workspace& background, std::vector<TemplateBin> bins,
                        const std::string& measurement = "", histfactory::InterpOptions interp = {});

  int dimension() const { return static_cast<int>(bins_.size()); }
  const std::vector<TemplateBin>& bins() const { return bins_; }
  std::vector<std::string> bin_names() const;
  const std::string& poi_name() const { return poi_name_; }

  struct Label {
    double nll = 0.0;
    bool ok = false;
    std::string reason;  // why the fit failed
    Eigen::VectorXd best;  // the model's parameters at the minimum (a warm start for a nearby point)
  };
  // f at yields s (>= 0, size dimension()): the lowest minimum of the fits
  // started from `start` when given (a previous Label's best), from the
  // background-only minimum and from the initial values (the profiled NLL
  // can have several minima where a large signal must be absorbed).
  Label observed(const Eigen::VectorXd& s, const Eigen::VectorXd* start = nullptr) const;
  Label asimov(const Eigen::VectorXd& s, const Eigen::VectorXd* start = nullptr) const;
  // f(0), the background-only minima.
  double background_observed() const { return background_observed_; }
  // f to second order at s = 0: its gradient and Hessian in s, exact from
  // the workspace. f(s) = min_theta L(s, theta), so at the background-only
  // minimum theta0 the envelope theorem gives grad f = L_s and implicit
  // differentiation of theta(s) gives Hess f = L_ss - L_s,theta
  // L_theta,theta^-1 L_theta,s (the free nuisances; those held at a bound
  // there count as fixed).
  struct Expansion {
    Eigen::VectorXd gradient;  // [K]
    Eigen::MatrixXd hessian;   // [K, K]
  };
  Expansion expansion(bool asimov) const;
  double background_asimov() const { return background_asimov_; }
  // The full model with signal yields s at mu (for cross-checks and
  // reference hypotests): the POI free between its bounds, the yields fixed.
  std::unique_ptr<WorkspaceModel> model_at(const Eigen::VectorXd& s) const;

 private:
  Label evaluate(const WorkspaceModel& data, const Eigen::VectorXd& s, const Eigen::VectorXd* start) const;
  std::vector<TemplateBin> bins_;
  std::string file_, poi_name_;
  std::shared_ptr<const histfactory::HistFactoryModel> model_;
  std::unique_ptr<WorkspaceModel> observed_, asimov_;
  int poi_ = -1;
  std::vector<int> yield_index_;  // model parameter of each template bin
  double background_observed_ = 0.0, background_asimov_ = 0.0;
  Eigen::VectorXd background_best_observed_, background_best_asimov_;  // their minima (a start of every fit)
};

}  // namespace refinery::stats
