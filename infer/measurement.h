// A measurement as the experiment config declares it (section `measurement`,
// docs/formats.md): the parameter of interest
// and the nuisances (calibration nuisances of the DCR networks, rate
// systematics) with their constraints, regions selected by expressions over
// the features, each unbinned (extended likelihood with R(x|mu,nu) from the
// classifier's fractions and the per-process DCR networks) or binned (a
// variable and its edges; counts from simulated weights times the same
// per-event DCRs).
//
// Region recalibration (`measurement.recalibration`): the classifier is
// calibrated on the whole preselection; in a region selected on mT or m_jj
// its fractions need not be. "isotonic" fits a staged isotonic calibration
// of the fractions per region on the simulated events there (labels,
// weights), then a yield closure; "closure" only rescales, f_p -> c_p f_p /
// sum_q c_q f_q, with c_p from iterative proportional fitting so that
// sum_j w_j f_p(x_j) over the region's simulated events equals process p's
// simulated yield. A miscalibration of f_signal by 1e-3 on the ~90k Z
// events of a region is 90 signal events: without it mu_hat is biased in
// proportion to mu - 1 (measured on the H->tautau example).
//
// The networks are evaluated once per event set: the simulated events for
// the expected yields (OUTPUT_DIR/mc.h5) when the measurement is built, and
// each observed data set (pseudo-experiment or file) when it is observed.
// The likelihood then runs on cached coefficients (fused kernels).
#pragma once
#include <torch/torch.h>

#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "infer/evaluated_events.h"
#include "infer/response_nuisance.h"
#include "infer/signal_fraction_thinning.h"
#include "models/classifier_archive.h"
#include "src/calibration/staged_calibration.h"
#include "src/config/experiment_config.h"
#include "src/config/selection.h"
#include "src/io/event_set.h"
#include "src/io/tensor_cache.h"
#include "src/likelihood/likelihood_model.h"

namespace refinery {

struct RegionSpec {
  std::string name;
  std::string selection_text;
  Selection selection;
  bool binned = false;
  std::string variable;        // feature name, or p_<process> (calibrated class probability)
  std::vector<double> edges;
  // Unbinned: interior edges in the reference variable of the cells of the
  // simulated-sample statistics (empty: one cell).
  std::vector<double> cell_edges;
};

struct MeasurementOptions {
  std::string inputs;          // directory with classifier.pt, dcr_<process>.pt, mc.h5
  bool reference = false;      // binned reference analysis: unbinned regions binned in reference.variable
  bool labels = false;         // expected yields from the process labels instead of the fractions
  std::string recalibration;   // "isotonic", "closure" or "none"; empty: the config's
  std::string mc_statistics;   // "on" or "off"; empty: the config's measurement.mc_statistics.enabled
  // The set-up from INPUTS/cache when the inputs' bytes and the settings are
  // unchanged (src/io/tensor_cache.h); false: evaluate, write nothing.
  bool cache = true;
};

class Measurement {
 public:
  Measurement(const ExperimentConfig& config, const MeasurementOptions& options);

  const likelihood::ModelSpec& spec() const { return spec_; }
  // Whether a parameter is a response nuisance (not a nuisance of the
  // simulation: pseudo-experiments keep it at its centre and never pass it
  // to a generator).
  bool is_response(const std::string& parameter) const;
  const std::vector<RegionSpec>& regions() const { return regions_; }
  const std::vector<std::string>& process_names() const { return processes_; }
  const std::vector<std::string>& feature_names() const { return features_; }
  double luminosity() const { return luminosity_; }
  // Per region and process: the yield-closure factor c_p applied to the
  // classifier's fractions (1 without closure).
  std::vector<std::vector<double>> closure_factors() const;

  // Evaluates the networks on events (features checked against the models';
  // `source` names the data in errors). `observed`: data to be fitted
  // (model()), whose DCR coefficients only the unbinned regions read: they
  // are computed for the events those regions select, 0 elsewhere.
  EvaluatedEvents evaluate(const EventSet& events, const std::string& source, bool observed = false) const;
  // The same with the classifier's fractions and probabilities of these
  // events already computed (the set-up's thinning needs them first).
  EvaluatedEvents evaluate(const EventSet& events, const std::string& source, bool observed,
                           const torch::Tensor& fractions, const torch::Tensor& prob) const;
  // Simulated events that stand for the model (the expected-yield sample,
  // a sample toys resample) may have been simulated at a nuisance point
  // nu_e other than the DCR networks' reference point (nu = 0, where their
  // nominal sample was): an event file's `nuisances` columns `names`. Each
  // such event's weight is divided by r_p(x|nu_e) of its process p, so
  // that the model reproduces the sample exactly at nu_e and follows the
  // learned responses from there (e.g. an expected-yield sample simulated
  // at the measurement's nominal point). A column the networks do not know
  // must be 0; unlabelled events must be at 0. InputError names `source`.
  void to_reference_point(EvaluatedEvents& e, const EventSet& events, const std::vector<std::string>& names,
                          const std::string& source) const;
  // An event file's `nuisances` columns `names` as [N, K] in the DCR
  // networks' order (double; a network nuisance the file lacks is 0). A
  // column the networks do not model must be 0: InputError naming `source`,
  // the message ending in `consequence`.
  torch::Tensor in_networks_order(const torch::Tensor& nuisances, const std::vector<std::string>& names,
                                  const std::string& source, const std::string& consequence) const;
  // The likelihood of an observed data set.
  likelihood::LikelihoodModel model(const EvaluatedEvents& data, const std::string& source) const;
  // The yields' display of a data set (`refinery yields --variable`): the
  // model's regions with each unbinned one binned in `variable` (a feature
  // or p_<process>) at `edges`, its expected yields per process those of the
  // unbinned region's model (the same fractions, recalibration and closure,
  // or labels), its observed counts the data's events per bin (Asimov data
  // at *asimov_theta: the expected counts there); binned regions as they
  // are. Events outside the edges are left out. InputError at `option` for
  // an unknown variable or edges that do not increase.
  likelihood::LikelihoodModel binned_view(const EvaluatedEvents* data, const Eigen::VectorXd* asimov_theta,
                                          const std::string& variable, const std::vector<double>& edges,
                                          const std::string& option) const;
  // The likelihood of the Asimov data set at theta (exact: unbinned regions
  // observe the simulated events weighted by w R(x|theta), binned regions
  // their expected counts).
  likelihood::LikelihoodModel asimov(const Eigen::VectorXd& theta) const;
  // A pseudo-experiment resampled from simulated events (evaluated by
  // `evaluate`, weights >= 0): each event selected by a region enters
  // k ~ Poisson(w R(x|theta)) times (its weight k), with R the region's
  // model at theta; events outside every region and those drawn 0 times are
  // dropped. Independent of the expected-yield sample only if `sample` is.
  EvaluatedEvents resample(const EvaluatedEvents& sample, const Eigen::VectorXd& theta, std::mt19937_64& rng) const;
  // Whether the regions carry the simulated-sample statistics term.
  bool mc_statistics() const { return mc_statistics_; }
  // Where the set-up came from so far: "cache" (the regions fitted on the
  // simulated events, and the networks' outputs on them if they were
  // needed), "evaluated" (the networks run on mc.h5, and written to the
  // cache), "networks from the cache, regions fitted" or "evaluated, not
  // cached" (--no-cache, or a directory not writable).
  std::string setup_source() const;
  // Events selected per region (data), for reports.
  std::vector<double> observed_counts(const likelihood::LikelihoodModel& model) const;

 private:
  // The values of a feature or of p_<process> at the events (float64 [n]).
  torch::Tensor values(const std::string& variable, const EvaluatedEvents& e) const;
  // The order of a stratified thinning within each region (`group`, -1
  // outside): the variable its bins or cells are made of (a binned region's
  // own, an unbinned region's cells' reference variable), so that every bin
  // and cell of both analyses keeps its share of the thinned events to one
  // event; the signal fraction `fs` outside the regions.
  torch::Tensor thinning_order(const EvaluatedEvents& e, const torch::Tensor& group, const torch::Tensor& fs) const;
  // Per region: boolean mask and bin index (-1 outside the edges; unbinned:
  // the cell of the simulated-sample statistics).
  std::pair<torch::Tensor, torch::Tensor> assign(const RegionSpec& r, const EvaluatedEvents& e) const;
  // theta set: Asimov weights w R(x|theta) from the region's fractions.
  likelihood::Region observe(size_t region, const EvaluatedEvents& e, const Eigen::VectorXd* asimov_theta) const;
  // R(x|theta) = sum_p f_p(x) N_p(theta) r_p(x|nu) of the region's events
  // (fractions after its recalibration) [n].
  torch::Tensor ratio(size_t region, const torch::Tensor& fractions, const torch::Tensor& coef,
                      const Eigen::VectorXd& theta) const;
  // The classifier's fractions with the region's yield closure applied.
  torch::Tensor region_fractions(size_t region, const torch::Tensor& fractions) const;
  bool known_variable(const std::string& variable) const;
  // Per region, on the simulated events: the overlap checks, the
  // recalibration and yield closure, the cells and their expected yields.
  void prepare_regions(const ExperimentConfig& config, const std::string& recal,
                       int n_cells, int64_t signal_process);
  // What prepare_regions fitted, as tensors (11 per region), and back; false
  // (nothing changed) where the tensors do not fit the regions.
  std::vector<torch::Tensor> region_state() const;
  // measurement.yield_calibration (infer/measurement_yield_calibration.cpp):
  // fits yield_correction_ on INPUTS' paired sample, then yield_correction
  // gives the correction of the simulated events with these bins [n] in a
  // binned region, [n, P, C] float32 (undefined: none). `calibrated[i]`:
  // whether region i's bins are corrected (measurement.yield_calibration.regions).
  void calibrate_binned_yields(const std::string& dir, int64_t min_events, const std::vector<bool>& calibrated);
  // InputError naming a missing file of the paired sample.
  static void require_paired_file(const std::string& path);
  torch::Tensor yield_correction(size_t region, const torch::Tensor& bin) const;
  bool restore_regions(const std::vector<torch::Tensor>& tensors);
  // The simulated events with the networks' outputs, read when first
  // needed (Asimov data, binned views, fitting the regions): a fit of a
  // pseudo-experiment or of data with a cached set-up needs only the
  // regions' cells. read_mc (once, through mc()): from the cache, or by
  // evaluating mc.h5 (then stored).
  const EvaluatedEvents& mc() const;
  void read_mc() const;

  likelihood::ModelSpec spec_;
  std::vector<RegionSpec> regions_;
  std::vector<std::string> processes_, features_, dcr_nuisances_;
  std::vector<int> dcr_powers_;  // the networks' coordinates (models/dcr_network.h); empty: linear
  std::vector<ResponseNuisance> responses_;  // after dcr_nuisances_ in the ansatz
  std::unique_ptr<ClassifierArchive> classifier_;
  mutable std::vector<torch::jit::Module> dcr_;  // forward is not const
  mutable EvaluatedEvents mc_;                  // mc()
  mutable std::once_flag mc_once_;
  std::string mc_path_;
  std::optional<TensorCache> events_cache_;      // absent with --no-cache
  std::vector<SignalFractionThinning> thinning_;
  std::vector<likelihood::Cells> cells_;  // expected yields per region
  std::vector<torch::Tensor> log_closure_;  // per region: log c_p [P] (zeros without closure)
  mutable std::vector<StagedCalibration> recalibration_;  // per region (unfitted: none); forward is not const
  double luminosity_ = 10.0;
  bool labels_ = false;
  bool mc_statistics_ = false;   // the simulated-sample statistics term in every region
  bool regions_fitted_ = false;          // not from the cache
  mutable bool mc_evaluated_ = false;    // the networks run on mc.h5 (not from the cache)
  mutable bool cache_failed_ = false;    // a store was refused (or --no-cache)
  std::string cell_variable_;    // p_<process>: the reference variable, in which unbinned cells are cut
  // Per (binned region's bin, process), (its first bin + bin) * P + p: the
  // ansatz's correction [cells, C] float64 (undefined: none), and each
  // region's first bin (-1: unbinned).
  torch::Tensor yield_correction_;
  std::vector<int64_t> binned_offset_;
};

// The parameter table the config declares (measurement.poi, measurement.nuisances)
// for the classifier's processes and the DCR networks' nuisances (ansatz order;
// `dcr_file` names them in errors). Config errors name the file and key, exit 2.
// Response nuisances (type "response", infer/response_nuisance.h) follow
// the networks' nuisances in the ansatz; `responses` gets them.
// `dcr_powers`: the networks' coordinates (models/dcr_network.h; empty:
// linear); response nuisances enter the ansatz linearly.
likelihood::ModelSpec analysis_spec(const ExperimentConfig& config, const std::vector<std::string>& processes,
                                    const std::vector<std::string>& dcr_nuisances, const std::string& dcr_file,
                                    std::vector<ResponseNuisance>* responses = nullptr,
                                    const std::vector<int>& dcr_powers = {});

}  // namespace refinery
