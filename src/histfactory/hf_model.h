// HistFactoryModel: a workspace compiled into flat arrays once, giving the
// expected counts and the negative log-likelihood of (main data, auxiliary
// data) as functions of the parameter vector, in double, with the exact
// gradient and Hessian (product rule over the modifiers of every sample and
// bin) for Newton fits. The same expected counts are also available as a
// LibTorch autograd function (expected_torch) for training and cross-checks.
//
// Conventions follow pyhf: parameters ordered by modifier type, then by
// first appearance over channels and samples sorted by name (modifiers sorted
// by name); per-bin parameters named "name[i]"; Poisson main terms and
// constraint terms with their normalisation (twice_nll = -2 log L):
//   normsys, histosys: N(0 | alpha, 1); lumi: N(aux | lumi, sigma);
//   staterror: N(1 | gamma_b, sigma_b), sigma_b = sqrt(sum_s err_sb^2) / sum_s nom_sb
//   (Barlow-Beeston lite); shapesys: Poisson(tau_b | gamma_b tau_b),
//   tau_b = (nom_b / err_b)^2; normfactor, shapefactor: free.
#pragma once
#include <Eigen/Dense>

#include <array>
#include <string>
#include <vector>

#include "src/histfactory/interpolation.h"
#include "src/histfactory/workspace.h"
#include "src/stats/constraint.h"

namespace refinery::histfactory {

struct Parameter {
  std::string name;  // "mu", "staterror_sr[2]"
  std::string type;  // modifier type that defines it
  double init = 0.0, lower = -5.0, upper = 5.0;
  bool fixed = false;
};

// Observed (or Asimov) data: main counts per bin and auxiliary data per constraint.
struct Data {
  Eigen::VectorXd main, aux;
};

// pyhf's defaults (pyhf.pdf._ModelConfig): normsys code4, histosys code4p.
struct InterpOptions {
  NormsysCode normsys = NormsysCode::kCode4;
  HistosysCode histosys = HistosysCode::kCode4p;
};

class HistFactoryModel {
 public:
  HistFactoryModel(const Workspace& ws, const std::string& measurement = "",
                   InterpOptions interp = {});

  const std::vector<Parameter>& parameters() const { return params_; }
  std::vector<std::string> parameter_names() const;
  // Index of the POI, -1 where no modifier defines it (background-only
  // workspace); require_poi() refuses that case with an InputError.
  int poi_index() const { return poi_; }
  int require_poi() const;
  // normsys (code1) / histosys (code0) parameters with a variation on the
  // same side of the nominal yield for both signs in some sample and bin:
  // the NLL may have a minimum on each side of 0 along them (the minimiser
  // probes both).
  const std::vector<int>& multimodal_parameters() const { return multimodal_; }
  // normsys (code1) / histosys (code0) parameters whose up and down
  // variations differ in size somewhere: the piecewise interpolation's first
  // derivative jumps at 0 (a kink of the NLL).
  const std::vector<int>& kinked_parameters() const { return kinked_; }
  // What the workspace and measurement held that the model does not use.
  const std::vector<std::string>& notes() const { return notes_; }
  int parameter_index(const std::string& name) const;  // -1 if absent
  Eigen::VectorXd init() const;
  Eigen::VectorXd lower() const;
  Eigen::VectorXd upper() const;
  std::vector<bool> fixed() const;
  // Overrides one parameter's bounds (e.g. the POI's, --poi-bounds); the
  // initial value is clamped into them. InputError if lo >= hi.
  void set_bounds(int index, double lo, double hi);
  int bins() const { return static_cast<int>(observed_.main.size()); }
  const Data& observed() const { return observed_; }
  const std::string& file() const { return file_; }
  std::vector<std::string> channel_names() const { return channel_names_; }
  int samples() const { return static_cast<int>(sample_count_); }

  // Expected main counts per bin (channels in workspace order).
  Eigen::VectorXd expected_main(const Eigen::VectorXd& x) const;
  // The same per sample: each sample's counts in its channel's bins
  // (channels in workspace order, samples in each channel's order).
  struct SampleYields {
    std::string channel, sample;
    Eigen::VectorXd bins;
  };
  std::vector<SampleYields> expected_per_sample(const Eigen::VectorXd& x) const;
  // Expected data at x: main counts and the auxiliary data the constraints
  // expect (Gaussian: the parameter; Poisson: gamma tau). Asimov data.
  Data expected_data(const Eigen::VectorXd& x) const;
  // -log L(x | data) (with all normalisation constants); optional exact
  // gradient and Hessian. Returns +inf where an expected count is <= 0.
  double nll(const Eigen::VectorXd& x, const Data& data, Eigen::VectorXd* grad = nullptr,
             Eigen::MatrixXd* hess = nullptr) const;
  // The Poisson terms of the main data alone (no constraints); gradient and
  // Hessian set (sized) when given.
  double main_nll(const Eigen::VectorXd& x, const Eigen::VectorXd& main, Eigen::VectorXd* grad = nullptr,
                  Eigen::MatrixXd* hess = nullptr) const;
  // The constraint terms in the order of the auxiliary data (Data::aux):
  // Gaussian (normsys, histosys, lumi, staterror; width sigma), then Poisson
  // (shapesys; width tau). Their arithmetic: src/stats/constraint.h.
  struct ConstraintTerm {
    int param;
    stats::Constraint kind;
    double width;
  };
  std::vector<ConstraintTerm> constraint_terms() const;
  // Expected main counts as a differentiable function of a float64 tensor [P]
  // (defined in hf_model_torch.cpp, the library's LibTorch part).
  at::Tensor expected_torch(const at::Tensor& x) const;

 private:
  struct Factor {  // multiplicative factor of one parameter
    int param;
    enum Kind { kLinear, kNormsys } kind;
    double hi = 1, lo = 1;
    std::array<double, 6> code4{};
  };
  struct Delta {  // additive histosys term
    int param;
    double up, down;
  };
  struct SampleBin {
    int sample;  // index into samples_
    int bin;
    double nominal;
    std::vector<Delta> deltas;
    std::vector<Factor> factors;
  };
  struct Gauss {
    int param;
    double sigma;
  };
  struct Pois {
    int param;
    double tau;
  };

  std::string file_;
  InterpOptions interp_;
  std::vector<Parameter> params_;
  int poi_ = -1;
  std::string poi_name_, poi_path_;
  std::vector<std::string> notes_;
  std::vector<int> multimodal_, kinked_;
  std::vector<SampleBin> terms_;
  std::vector<Gauss> gauss_;  // aux data: gauss_ first, then pois_
  std::vector<Pois> pois_;
  Data observed_;
  std::vector<std::string> channel_names_;
  std::size_t sample_count_ = 0;
  struct SampleInfo {
    int channel, first_bin, bins;
    std::string name;
  };
  std::vector<SampleInfo> samples_;

  // nu = (nominal + sum of histosys deltas) * product of the factors, at x.
  double sample_bin(const SampleBin& t, const Eigen::VectorXd& x) const;
};

}  // namespace refinery::histfactory
