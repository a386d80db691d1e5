// The data terms of a measurement's likelihood (design.md section 2):
// unbinned regions (extended term) and binned regions (Poisson term), as one
// function of the parameter vector theta = (mu, nu). The constraints the
// spec declares are evaluated by the model interface (src/stats/constraint.h,
// src/stats/region_model.h), the one place they are written.
//
//   N_p(theta)  = prod_f theta_f * prod_k (1 + a_pk)^nu_k   (or 1 + a_pk nu_k, "linear")
//               (norm factors theta_f: POIs and free normalisations; each
//               factor and modifier acts in every region or in the named ones)
//   r_p(x|nu)   = exp(phi(nu_cal) . Delta_p(x))                 (DCR ansatz)
//   unbinned:   NLL = sum_p N_p Y_p(nu) - sum_i w_i log sum_p f_p(x_i) N_p r_p(x_i|nu)
//               Y_p(nu) = sum_{j in MC_p} w_j r_p(x_j|nu)
//   binned:     NLL = sum_b lambda_b - n_b + n_b log(n_b / lambda_b),
//               lambda_b = sum_p N_p sum_{j in MC_p, bin b} w_j r_p(x_j|nu)
//   simulated-sample statistics (Region::mc_stat; mc_statistics.h): plus
//               sum_b m(lambda_b; n_b, delta_b), over the bins of a binned
//               region or the cells of an unbinned one (Y_p = sum_b Y_pb,
//               n_b the events in cell b), each factor profiled analytically
//   constraints (declared here, evaluated by stats::Model): Gaussian or
//               log-normal around the auxiliary measurement c, or none.
// (The binned form is the Poisson NLL minus that of the saturated model: the
// same minimum and differences, values near the number of bins.)
//
// Evaluation: `evaluate` runs the fused kernels (fused_kernel.h) over the
// cached coefficients and assembles value, gradient and Hessian in closed
// form; `nll_torch` is the same likelihood written in LibTorch operations
// (the autograd reference, and the form through which gradients reach
// network weights when coefficients are not cached); `nll_autograd` wraps
// `evaluate` as an autograd function (first and second derivatives).
#pragma once
#include <torch/torch.h>

#include <Eigen/Dense>
#include <memory>
#include <string>
#include <vector>

#include "src/likelihood/fused_kernel.h"

namespace refinery::likelihood {

enum class ParameterKind { kPoi, kNormalisation, kCalibration };
enum class Constraint { kNone, kGaussian, kLogNormal };

struct Parameter {
  std::string name;
  ParameterKind kind = ParameterKind::kCalibration;
  Constraint constraint = Constraint::kGaussian;
  double centre = 0.0, width = 1.0;  // of the constraint
  double init = 0.0, lower = -5.0, upper = 5.0;
};

// N_p *= theta[parameter] (>= 0): a signal strength or a free
// normalisation (HistFactory's normfactor). At theta = 0 the process drops
// out of the rate and the derivatives in theta are those of the linear
// factor (so q0 can test mu = 0).
struct NormFactor {
  int process = 0, parameter = 0;
  std::vector<std::string> regions;  // empty: every region
};

// log N_p += nu log(1 + size) (exponential) or log(1 + size nu) (linear).
struct NormModifier {
  int process = 0, parameter = 0;
  double size = 0.0;
  bool linear = false;
  std::vector<std::string> regions;  // empty: every region
};

struct ModelSpec {
  std::vector<std::string> processes;
  std::vector<NormFactor> factors;
  std::vector<Parameter> parameters;       // parameter 0 is a POI (the first); more POIs may follow
  std::vector<NormModifier> modifiers;
  std::vector<int> calibration;            // parameter indices of the DCR's nuisances, ansatz order
  // The ansatz's coordinate of each of them: 1 the nuisance, 2 its square
  // (src/likelihood/dcr_ansatz.h); empty: every one 1.
  std::vector<int> calibration_power;
  int order = 2;                           // of the DCR ansatz
  int n_params() const { return int(parameters.size()); }
  int P() const { return int(processes.size()); }
  int index(const std::string& name) const;  // -1 if absent
  // Processes the norm factor `parameter` scales (default: parameter 0, the
  // first POI; any POI or free normalisation of `factors`).
  std::vector<int> scaled_by(int parameter = 0) const;
  // The point where every constraint is at its minimum (mu at its init).
  Eigen::VectorXd nominal() const;
  void validate() const;  // throws InputError("model", ...) on inconsistencies
};

// Simulated events for expected yields, grouped into cells (events of a cell
// contiguous); each event carries its own process's coefficients. The
// events' arrays are immutable and shared between copies: every
// pseudo-experiment's model copies its measurement's cells, and at millions
// of simulated events a deep copy cost more than the fit of a toy.
struct Cells {
  int n_cells = 0;
  std::vector<int64_t> begin;      // [n_cells + 1]
  const std::vector<double>& log_weight() const { return events_->log_weight; }  // [n]
  const std::vector<float>& coef() const { return events_->coef; }               // [C][n]
  // Replaces the events' arrays (events sorted by cell, coefficients [C][n]).
  void set_events(std::vector<double> log_weight, std::vector<float> coef);
  // Relative statistical error of each bin's simulated yield, sqrt(sum v w^2)
  // / sum w over the simulated events in the bin (from_events, v the events'
  // variance factors, 1 unless given; 0 for an empty bin); empty when built
  // from cells directly.
  std::vector<double> rel_error;   // [n_bins]
  int64_t n() const { return int64_t(events_->log_weight.size()); }
  // Builds the cells from per-event cell indices (any order), weights (> 0)
  // and coefficients [n, C] (float32).
  static Cells build(const torch::Tensor& cell, int n_cells, const torch::Tensor& weight,
                     const torch::Tensor& coef);
  // Expected-yield cells of a region from simulated events with bins [n]
  // (0..n_bins-1), weights [n], process labels [n], fractions [n,P] and
  // every process's coefficients [n,P,C]; cell = process * n_bins + bin.
  // (A bin of an unbinned region is a cell of the classifier output for the
  // simulated-sample statistics.)
  // labels: each event counts for its own process (weight w); otherwise
  // every event counts for every process p with weight w f_p(x).
  // variance_factor [n] (float64; undefined: 1): each event's share of w^2
  // in its bin's variance (a systematically thinned sample's events,
  // infer/signal_fraction_thinning.h).
  static Cells from_events(const torch::Tensor& bin, int n_bins, const torch::Tensor& weight,
                           const torch::Tensor& process, const torch::Tensor& fractions, const torch::Tensor& coef,
                           bool labels, const torch::Tensor& variance_factor = {});
 private:
  struct Events {
    std::vector<double> log_weight;
    std::vector<float> coef;
  };
  std::shared_ptr<const Events> events_ = empty_events();
  static std::shared_ptr<const Events> empty_events();
};

// Observed events of an unbinned region: log fractions and every process's
// coefficients at each event; weights 1 for real data, MC weights for
// Asimov data.
struct EventData {
  int64_t n = 0;
  std::vector<double> weight;        // [n] or empty (all 1)
  std::vector<double> log_fraction;  // [P][n]
  std::vector<float> coef;           // [P][C][n]
  std::vector<int> bin;              // [n] each event's cell (regions with n_bins > 1), else empty
  // From fractions [n, P] (float64, > 0), coefficients [n, P, C] and
  // optional weights [n].
  static EventData build(const torch::Tensor& fractions, const torch::Tensor& coef,
                         const torch::Tensor& weight = {});
  double total_weight() const;
};

struct Region {
  std::string name;
  bool binned = false;
  int n_bins = 1;                 // binned: bins; unbinned: cells of the simulated-sample statistics
  Cells expected;                 // cell = process * n_bins + bin
  EventData events;               // unbinned observation
  std::vector<double> observed;   // binned observation [n_bins]; unbinned: set by add_region (events per cell)
  bool mc_stat = false;           // the simulated-sample statistics term (expected.rel_error)
};

// The likelihood's terms as LibTorch functions of theta (float64 [D]) and of
// per-event tensors, composable by summation. With coefficients or
// fractions computed by networks (requires_grad) the gradients reach the
// networks' weights: the form training uses when nothing is cached.
// `region` names the region (for factors and modifiers acting in some).
namespace terms {
// N_p = factor_p * exp(log_rate_p): the norm factors' product (linear, so
// that derivatives exist where a factor is 0) and the log of the rest.
struct Norms {
  torch::Tensor factor, log_rate;  // [P] each
  torch::Tensor norm() const { return factor * log_rate.exp(); }
};
Norms norms(const ModelSpec& spec, const torch::Tensor& theta, const std::string& region);
torch::Tensor phi(const ModelSpec& spec, const torch::Tensor& theta);        // ansatz [C]
// log R(x_i) = log sum_p f_ip N_p r_p(x_i|nu) [n]; log_fraction [n,P], coef [n,P,C].
torch::Tensor log_ratio(const ModelSpec& spec, const torch::Tensor& theta, const std::string& region,
                        const torch::Tensor& log_fraction, const torch::Tensor& coef);
// Expected yields per cell: sum over events of a cell of exp(log w + phi . Delta).
torch::Tensor cell_yields(const ModelSpec& spec, const torch::Tensor& theta, const torch::Tensor& log_weight,
                          const torch::Tensor& coef /*[m,C]*/, const torch::Tensor& cell /*[m] int64*/, int64_t n_cells);
// sum_p N_p Y_p - sum_i w_i log sum_p f_ip N_p r_ip; yields [P], log_fraction
// [n,P], coef [n,P,C], weight [n] (undefined: 1).
torch::Tensor unbinned(const ModelSpec& spec, const torch::Tensor& theta, const std::string& region,
                       const torch::Tensor& yields, const torch::Tensor& log_fraction, const torch::Tensor& coef,
                       const torch::Tensor& weight);
// lambda_b = sum_p N_p Y_pb [B]; yields [P*B] (cell p*B+b).
torch::Tensor bin_counts(const ModelSpec& spec, const torch::Tensor& theta, const std::string& region,
                         const torch::Tensor& yields, int64_t B);
// sum_b lambda_b - n_b + n_b log(n_b / lambda_b).
torch::Tensor binned(const ModelSpec& spec, const torch::Tensor& theta, const std::string& region,
                     const torch::Tensor& yields, const torch::Tensor& observed);
}  // namespace terms

class LikelihoodModel {
 public:
  explicit LikelihoodModel(ModelSpec spec);
  void add_region(Region region);
  std::vector<Region>& regions() { return regions_; }
  const std::vector<Region>& regions() const { return regions_; }
  const ModelSpec& spec() const { return spec_; }
  const Ansatz& ansatz() const { return ansatz_; }

  // The data terms' NLL (+inf outside the domain: a norm factor < 0,
  // 1 + a nu <= 0, no rate left for an observed event), gradient and Hessian
  // when the pointers are set.
  double evaluate(const Eigen::VectorXd& theta, Eigen::VectorXd* grad = nullptr,
                  Eigen::MatrixXd* hess = nullptr) const;
  // Expected yields per region and bin at theta (diagnostics, Asimov counts;
  // one total for an unbinned region).
  std::vector<std::vector<double>> expected(const Eigen::VectorXd& theta) const;
  // Per region, process and bin [region][process][bin]; an unbinned region's
  // bins are its cells of the simulated-sample statistics (one without).
  std::vector<std::vector<std::vector<double>>> expected_per_process(const Eigen::VectorXd& theta) const;

  // The same NLL in LibTorch operations (float64 theta [D]).
  torch::Tensor nll_torch(const torch::Tensor& theta) const;
  // `evaluate` as an autograd function: differentiable twice.
  torch::Tensor nll_autograd(const torch::Tensor& theta) const;

 private:
  // Region r's normalisations N_p = prod_{f in zero_p} theta_f * exp(a_p):
  // a_p the log of the factors that are not 0 and of the modifiers, n(:, p)
  // and l(:, p) its first and (diagonal) second derivatives; zero_p the
  // parameters of p's factors that are exactly 0 (N_p = 0). ok = false
  // outside the domain.
  struct Norms {
    Eigen::MatrixXd n, l;
    Eigen::VectorXd a;
    std::vector<std::vector<int>> zero;
    bool ok = true;
  };
  Norms norms(const Eigen::VectorXd& theta, size_t region) const;
  ModelSpec spec_;
  Ansatz ansatz_;
  std::vector<Region> regions_;
};

}  // namespace refinery::likelihood
