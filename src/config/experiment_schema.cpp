// The schema of experiment configs (docs/formats.md prints it). Each stage
// owns one section; adding a stage adds a section here.
#include "src/config/experiment_config.h"
#include "src/core/worker_threads.h"
#include "src/likelihood/dcr_coordinate.h"

namespace refinery {

namespace {

Schema simulation_schema() {
  using S = Schema;
  return S::object({
      optional("generator", S::string(), "",
               "The built-in simulator that produces the events (`refinery simulate --help` lists them); empty: "
               "the event files come from another program (docs/formats.md)."),
      optional("luminosity", S::number(1e-6, 1e6), 10.0,
               "Integrated luminosity in fb^-1 the weights are normalised to."),
      optional("events", S::integer(1, 1e10), 1000000,
               "Simulated events generated (before preselection) for the nominal sample."),
      optional("chunk_events", S::integer(1024, 1e8), 262144,
               "Events generated and written per block (bounds memory)."),
      optional("variations", S::array(S::map(S::number())), nlohmann::json::array(),
               "Systematic-variation samples: a list of nu points of the generator's nuisances, e.g. "
               "{\"a\": 1, \"b\": -0.5}."),
      optional("variation_grid",
               S::object({
                   optional("nuisances", S::array(S::string()), nlohmann::json::array(),
                            "Nuisances spanned by the grid."),
                   optional("step", S::number(1e-3, 10), 0.5, "Grid step in units of sigma."),
                   optional("max_l1", S::number(0, 100), 0.0,
                            "Keep grid points whose absolute values sum to at most max_l1 (0: no grid)."),
               }),
               nlohmann::json::object(), "A grid of variation points added to `variations`."),
      optional("shares", S::map(S::number(0, 1e6)), nlohmann::json::object(),
               "Share of the produced events per process in the nominal and variation samples (the training "
               "samples), {process: share} naming every process of the generator (normalised; the weights undo "
               "it). Empty: the generator's own shares."),
      optional("compression", S::integer(0, 9), 0,
               "Deflate level of the simulated event files (0: uncompressed; 1-9: byte shuffle and deflate, about "
               "half the disk of level 0 at several times the time to write and to read, docs/formats.md)."),
      optional("mc_events", S::integer(0, 1e10), 0,
               "Produced events of an independent nominal sample (mc.h5, its own seed stream) for the likelihood's "
               "expected yields (0: none)."),
      optional("classifier_events", S::integer(0, 1e10), nlohmann::json(),
               "Produced events of an independent nominal sample (classifier.h5, its own seed stream, the shares of "
               "`shares`) for the classifier's training alone, which then need not be limited to the DCR networks' "
               "paired samples (select it with classifier.events; absent or 0: none)."),
      optional("mc_shares", S::map(S::number(0, 1e6)), nlohmann::json::object(),
               "Share of mc.h5's produced events per process, {process: share} naming every process of the "
               "generator (normalised; the weights undo it): more events where the expected yields' statistical "
               "error matters. Empty: the generator's own shares."),
      optional("mc_thinning",
               S::array(S::object({
                   required("process", S::string(), "A process of the generator."),
                   required("selection", S::string(), "Where its events are thinned (an expression over the features, as a region's)."),
                   required("keep", S::number(1e-6, 1), "The probability that an event there is kept; its weight is divided by it."),
                   optional("stratify", S::array(S::string()), nullptr,
                            "1 to 4 features: the events there are kept systematically along them (every 1/keep-th in "
                            "the order of the feature, or of the Morton order of their ranks for several, from a "
                            "uniform start) rather than one by one, so the kept share of every interval of the feature "
                            "(every cell of their ranks' dyadic grid) is exact and the thinning adds no statistical "
                            "error to yields that follow them. Absent: independent draws."),
               })),
               nlohmann::json::array(),
               "Thinning of mc.h5 per process: where a sample made large for its sparse, signal-like regions is dense "
               "(a background's peak), keep a fraction of the events at a larger weight. The expected yields are "
               "unchanged, the stored events and the fits' cost fall."),
      optional("mc_enhancement",
               S::array(S::object({
                   required("process", S::string(), "A process of the generator."),
                   required("fraction", S::number(0, 0.99), "The fraction of its events produced with the larger pT scale."),
                   required("pt_scale", S::number(1, 100), "The factor on the scale of the hard system's transverse momentum for that fraction."),
               })),
               nlohmann::json::array(),
               "Biased production of mc.h5 per process (importance sampling): a fraction of the events draws the "
               "hard system's transverse momentum at a larger scale and every event carries the weight of the true "
               "density over the mixture's, so the expected yields are unchanged while the high-pT, signal-like "
               "regions get more events at smaller weights."),
      optional("mc_nu", S::map(S::number()), nlohmann::json::object(),
               "The nu point mc.h5 is simulated at, e.g. the measurement's nominal point {\"a\": 1} (empty: the "
               "nominal sample's). Its events carry it (the `nuisances` dataset) and the measurement divides each "
               "weight by the event's DCR at that point, so the expected yields are the sample's own there."),
  });
}

// A running average of the weights (TrainOptions::average_steps), offered by
// every training section alike; no default, so that configs without it keep
// their hashes.
Schema::Field average_steps_field() {
  return optional("average_steps", Schema::integer(0, 1e9), nlohmann::json(),
                  "A running average of the weights with this time constant in mini-batch steps (the plain mean of "
                  "the steps so far until then), validated and kept instead of the last weights: the mini-batches' "
                  "noise in the trained network falls (absent or 0: none).");
}

// The training settings a process may set for itself (dcr.per_process); an
// absent key takes the dcr section's value.
std::vector<Schema::Field> dcr_training_fields(bool with_defaults) {
  using S = Schema;
  auto d = [&](nlohmann::json v) { return with_defaults ? v : nlohmann::json(); };
  return {
      optional("hidden", S::array(S::integer(1, 65536), 1), d(nlohmann::json::array({128, 128})), "Hidden layer sizes."),
      optional("epochs", S::integer(1, 100000), d(8), "Epochs."),
      optional("steps", S::integer(1, 1e9), d(200), "Steps per epoch."),
      optional("batch", S::integer(1, 1e8), d(4096), "Events per step from each side."),
      optional("learning_rate", S::number(1e-9, 10), d(3e-3), "Adam's initial learning rate."),
      optional("lr_decay", S::number(1e-6, 1), d(0.88), "Learning-rate factor per epoch."),
      average_steps_field(),
      optional("paired", S::boolean(), d(true),
               "Pair each variation event with its nominal event by the files' event numbers (when both carry them): "
               "far less gradient noise for small shape effects."),
      optional("ensemble", S::integer(1, 32), d(1),
               "Networks per process, trained from their own seeds; their coefficients are averaged per event in "
               "one archive, and the members' spread of the inclusive ratios is reported."),
  };
}

Schema dcr_schema() {
  using S = Schema;
  std::vector<Schema::Field> fields = {
      optional("processes", S::array(S::string()), nlohmann::json::array(),
               "Processes to train a DCR network for (empty: every process of the nominal file)."),
      optional("nuisances", S::array(S::string()), nlohmann::json::array(),
               "Calibration nuisances of the ansatz (empty: every nuisance of the variation samples)."),
      optional("report_features", S::array(S::string()), nlohmann::json::array(),
               "Features in whose bins `train dcr` reports learned against simulated yield ratios (empty: the "
               "first three)."),
      optional("point_weights", S::string({"uniform", "prior"}), nlohmann::json(),
               "The training points' loss weights: uniform (absent: every point counts once), or prior: each point "
               "weighs the prior probability (measurement.nuisances) of lying nearer to it than to any other training "
               "point or the nominal, so that the ansatz's compromise between the points follows where the fits read it."),
      optional("coordinates", S::map(S::string([](const std::string& name) { likelihood::coordinate_power(name); })),
               nlohmann::json(),
               "The ansatz's coordinate of a nuisance by name: square for one whose effect is even in it, such as "
               "the width of an extra smearing (the ansatz then quadratic in nu^2, the added variance); cubic: the "
               "nuisance itself with a term nu^3 added, for a response that bends over the training range; knot:T "
               "(e.g. knot:3): the nuisance itself with a term (nu - T)_+^2 added, a quadratic spline that bends "
               "beyond T and leaves the ansatz's form below it; absent or linear: the nuisance itself."),
      optional("per_process", S::map(S::object(dcr_training_fields(false))), nlohmann::json::object(),
               "Settings of one process's training that differ from this section's, by process name, e.g. "
               "{\"<process>\": {\"ensemble\": 4}} for the process that dominates the expected yields."),
  };
  for (auto& f : dcr_training_fields(true)) fields.push_back(std::move(f));
  return S::object(std::move(fields));
}

Schema measurement_schema() {
  using S = Schema;
  return S::object({
      optional("regions",
               S::array(S::object({
                   required("name", S::string(), "Region name."),
                   required("selection", S::string(), "Expression over the features (comparisons, and/or/not, parentheses)."),
                   optional("type", S::string({"unbinned", "binned"}), "unbinned", "Likelihood of the region."),
                   optional("variable", S::string(), "", "Binned: a feature, or p_<process> (calibrated class probability)."),
                   optional("edges", S::array(S::number()), nlohmann::json::array(), "Binned: bin edges (events outside are dropped)."),
               })),
               nlohmann::json::array(), "Analysis regions; they must not overlap."),
      optional("reference",
               S::object({
                   optional("variable", S::string(), "",
                            "Variable of the binned reference analysis (empty: p_<the POI's first process>)."),
                   optional("edges", S::array(S::number()),
                            nlohmann::json::array({0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001}),
                            "Its bin edges."),
               }),
               nlohmann::json::object(), "Binned reference analysis (--reference): unbinned regions binned in this variable."),
      optional("expected_yields", S::string({"fractions", "labels"}), "fractions",
               "Expected yields of unbinned regions from all simulated events weighted by the classifier's fractions "
               "(self-consistent with R(x); Asimov exact) or from each process's own events (labels); binned regions "
               "always use the labels."),
      optional("mc_statistics",
               S::object({
                   optional("enabled", S::boolean(), false,
                            "Put the statistical error of the simulated expected yields in the likelihood."),
                   optional("cells", S::integer(1, 1000), 10,
                            "Unbinned regions: cells of the reference variable, each with an equal share of the "
                            "expected signal."),
               }),
               nlohmann::json::object(),
               "Simulated-sample statistics (Barlow-Beeston lite, profiled analytically): one factor per bin of a "
               "binned region and per cell of an unbinned one, multiplying every process there, constrained by the "
               "simulated sample as (sum w)^2 / sum w^2 effective events (Poisson)."),
      optional("yield_calibration",
               S::object({
                   optional("enabled", S::boolean(), nullptr,
                            "Correct the binned regions' yield response on the DCR networks' paired sample "
                            "(nominal.h5 and variations.h5 beside mc.h5); absent: false."),
                   optional("min_events", S::integer(1, 1000000000), nullptr,
                            "A (bin, process) with fewer nominal events of the paired sample keeps the networks' response; "
                            "absent: 100."),
                   optional("regions", S::array(S::string(), 1), nullptr,
                            "The regions whose bins are corrected (an unbinned region's are its reference bins, so "
                            "only --reference sees them); absent: every binned region."),
               }),
               nullptr,
               "Per bin of every binned region (with --reference also the signal regions' bins) and per process, "
               "a correction of the DCR ansatz's coefficients that brings the expected yield's response to the "
               "nuisances to the simulator's at the paired sample's points: generalised least squares with the "
               "pairs' covariance, shrunk towards the networks' own response by its chi2 (James-Stein). Unbinned "
               "regions are not corrected."),
      optional("mc_thinning",
               S::array(S::object({
                   required("process", S::string(), "A background process of the classifier."),
                   required("signal_fraction_below", S::number(0, 1),
                            "Its events whose classifier fraction of the POI processes (summed) is below this are thinned."),
                   optional("signal_fraction_above", S::number(0, 1), nullptr,
                            "The lower end of the rule's interval of that fraction (absent: 0): it thins [signal_fraction_above, "
                            "signal_fraction_below), so several rules of one process can thin disjoint intervals at "
                            "different rates. Rules of one process may overlap only where neither is stratified."),
                   required("keep", S::number(1e-6, 1), "The probability that such an event is kept; its weight is divided by it."),
                   optional("stratify", S::boolean(), nullptr,
                            "Keep them systematically (every 1/keep-th in the order of region, then the variable of "
                            "that region's bins or cells, from a fixed start) rather than one by one: each is still "
                            "kept with probability keep, and the kept count in every bin and cell of the regions, "
                            "unbinned and binned reference alike, is exact to one event, so the thinning adds no "
                            "statistical error to the expected yields there."),
                   optional("stratify_features", S::array(S::string(), 1), nullptr,
                            "With stratify: 1 to 3 features along which the kept events are also spread, the order "
                            "becoming the Morton order of the ranks of the region's variable and these (each dyadic "
                            "cell of their joint ranks keeps its share exact to one event): sums over the kept events "
                            "of what follows these features, such as a network's response to a nuisance that moves "
                            "them, then draw less from which events were kept. Absent: the region's variable alone."),
               })),
               nlohmann::json::array(),
               "Thinning of the expected-yield sample at the measurement's set-up, by the classifier's signal "
               "fraction: where the signal is absent a background's events weigh little in the POI's error and cost "
               "every fit step, so a larger mc.h5 can be thinned there to the fits' budget (unbiased yields; the "
               "simulated-sample statistics term sees the larger weights)."),
      optional("recalibration", S::string({"isotonic", "closure", "none"}), "isotonic",
               "Per region, recalibrate the classifier's fractions on the simulated events there: staged isotonic + "
               "yield closure, yield closure only, or none."),
      optional("poi",
               S::object({
                   optional("name", S::string(), "mu", "Name of the parameter of interest."),
                   optional("processes", S::array(S::string()), nlohmann::json::array(),
                            "Processes whose rate it multiplies (at least one)."),
                   optional("range", S::array(S::number(), 2), nlohmann::json::array({0.0, 10.0}),
                            "Its bounds [low, high], 0 <= low (it multiplies a rate; 0 lets q0 test mu = 0)."),
                   optional("init", S::number(), 1.0, "Starting value of fits (clamped into the range)."),
               }),
               nlohmann::json::object(), "The parameter of interest: a signal strength."),
      optional("normfactors",
               S::array(S::object({
                   required("name", S::string(), "Parameter name (unique)."),
                   required("processes", S::array(S::string(), 1), "The processes whose rate it multiplies."),
                   optional("regions", S::array(S::string()), nlohmann::json::array(),
                            "The regions it acts in (empty: every region)."),
                   optional("range", S::array(S::number(), 2), nlohmann::json::array({0.0, 10.0}),
                            "Its bounds [low, high], 0 <= low."),
                   optional("init", S::number(), 1.0, "Starting value of fits."),
                   optional("poi", S::boolean(), false,
                            "A further parameter of interest (scans, intervals and impacts treat it as one); "
                            "otherwise a free normalisation, profiled like a nuisance."),
               })),
               nlohmann::json::array(),
               "Unconstrained rate factors (HistFactory's normfactor): further signal strengths, or background "
               "normalisations measured in the data (e.g. in a control region)."),
      optional("nuisances",
               S::array(S::object({
                   required("name", S::string(), "Parameter name (unique)."),
                   required("type", S::string({"calibration", "normsys", "response"}),
                            "calibration: a nuisance of the DCR networks (changes the shapes, learned from the "
                            "variation samples); normsys: a rate factor (1 + size)^nu of `processes`; response: "
                            "the uncertainty of the networks' learned response to the calibration nuisance `of` "
                            "for `processes`, log r -> log r + size * eta * nu_of * a(x) (docs/design.md)."),
                   optional("constraint", S::string({"gaussian", "lognormal", "none"}), "gaussian",
                            "Constraint term: gaussian N(centre, width), lognormal (log nu ~ N(log centre, width)) "
                            "or none (free)."),
                   optional("centre", S::number(), 0.0, "The auxiliary measurement (nominal value)."),
                   optional("width", S::number(0, 1e9), 1.0, "Width of the constraint."),
                   optional("range", S::array(S::number(), 2), nlohmann::json::array({-5.0, 5.0}),
                            "Bounds [low, high] of the parameter."),
                   optional("init", S::number(), nullptr, "Starting value (default: the centre)."),
                   optional("size", S::number(-1, 1e6), 0.0,
                            "normsys: relative rate change per unit of nu; response: relative change of the learned "
                            "response per unit of the nuisance."),
                   optional("processes", S::array(S::string()), nlohmann::json::array(),
                            "normsys: the processes it scales; response: the processes whose response it scales."),
                   optional("of", S::string(), nullptr, "response: the calibration nuisance whose learned response it scales."),
                   optional("regions", S::array(S::string()), nlohmann::json::array(),
                            "normsys: the regions it acts in (empty: every region)."),
               })),
               nlohmann::json::array(),
               "Nuisance parameters of the measurement: the DCR networks' calibration nuisances (each must be "
               "declared) and rate systematics."),
      optional("toys",
               S::object({
                   optional("n", S::integer(1, 1e9), 50, "Pseudo-experiments per mu_true."),
                   optional("mu_true", S::array(S::number(0.001, 100), 1), nlohmann::json::array({1.0}), "True signal strengths."),
                   optional("nu_true", S::string({"from-priors", "nominal"}), "from-priors",
                            "True nuisances: drawn from their constraints (auxiliary data at their centres) or at "
                            "the centres (auxiliary data drawn)."),
                   optional("events", S::string({"auto", "generator", "resample"}), "auto",
                            "Where toys' events come from: the simulation's generator, or a Poisson resampling of "
                            "`sample` weighted by w R(x|theta_true); auto: the generator when one is set."),
                   optional("sample", S::string(), "toys.h5",
                            "resample: an independent simulated sample (relative to the output directory; not the "
                            "expected-yield sample mc.h5)."),
               }),
               nlohmann::json::object(), "Coverage study (refinery toys)."),
  });
}

Schema classifier_schema() {
  using S = Schema;
  return S::object({
      optional("events", S::string([](const std::string& v) {
                 if (v.empty()) throw std::invalid_argument("an empty file name");
               }),
               nlohmann::json(),
               "The training events: an event file in the config's output directory (absent: nominal.h5, the DCR "
               "networks' nominal sample; classifier.h5: the sample of simulation.classifier_events); --events "
               "overrides it."),
      optional("hidden", S::array(S::integer(1, 65536), 1), nlohmann::json::array({128, 128}),
               "Hidden layer sizes of the MLP."),
      optional("activation", S::string({"silu", "relu", "tanh", "elu"}), "silu", "Activation between layers."),
      optional("epochs", S::integer(1, 100000), 30, "Maximum number of epochs."),
      optional("steps_per_epoch", S::integer(1, 1e9), 200, "Mini-batches per epoch."),
      optional("batch", S::integer(1, 1e8), 1024, "Events per mini-batch."),
      optional("learning_rate", S::number(1e-9, 10), 2e-3, "Adam's initial learning rate."),
      optional("lr_decay", S::number(1e-6, 1), 0.93, "Learning-rate factor per epoch."),
      average_steps_field(),
      optional("ensemble", Schema::integer(1, 32), nlohmann::json(),
               "Networks trained alike from their own seeds (absent or 1: one); their logits are averaged per event "
               "in one network, calibrated as one, and the members' spread of the fractions is reported."),
      optional("patience", S::integer(0, 100000), 6, "Early stopping: epochs without a better validation loss (0: never)."),
      optional("validation_fraction", S::number(0.01, 0.9), 0.2,
               "Share of events for early stopping and the calibration fit."),
      optional("test_fraction", S::number(0, 0.9), 0.2, "Share of events for the reported calibration error."),
  });
}

Schema sannt_schema() {
  using S = Schema;
  return S::object({
      optional("problem", S::string(), "inferno",
               "inferno: the INFERNO benchmarks; otherwise a binned analysis of a built-in simulator "
               "(`refinery train sannt --help` lists them)."),
      optional("benchmark", S::string({"0", "1", "2", "3", "4", "all"}), "2", "INFERNO benchmark(s) to train on."),
      optional("produced", S::integer(10000, 1e10), 400000, "Binned analysis: produced events per sample."),
      optional("inits", S::integer(1, 100000), 20, "Independently initialised trainings per benchmark."),
      optional("events", S::integer(100, 1e9), 20000, "Training events per process (half for validation)."),
      optional("test_events", S::integer(100, 1e9), 100000, "Test events per process."),
      optional("bins", S::integer(2, 10000), 10, "Bins of the summary."),
      optional("hidden", S::array(S::integer(1, 65536), 1), nlohmann::json::array({100, 100}), "Hidden layer sizes."),
      optional("summary", S::string({"softmax", "score", "class"}), "softmax",
               "softmax: the network's outputs are the bins; score: a two-class network's signal probability in equal "
               "bins; class: a multiclassifier, bins per most probable class."),
      optional("ce_constraint_batch", S::integer(0, 1e8), 0,
               "class summary: mini-batch of the cross-entropy constraint with a learned multiplier (0: off)."),
      optional("temperature", S::number(1e-6, 1e6), 1.0, "Softmax temperature of the soft assignment."),
      optional("kernel", S::string({"gaussian", "triangular"}), "gaussian", "Surrogate kernel of the score histogram."),
      optional("width", S::number(1e-6, 1e6), 1.0, "Kernel width in bins."),
      optional("pretrain_epochs", S::integer(0, 100000), 10, "Cross-entropy epochs (score summary and the baseline)."),
      optional("epochs", S::integer(1, 100000), 30, "SANNT epochs."),
      optional("steps", S::integer(1, 1e9), 10, "Full-batch SANNT steps per epoch."),
      optional("learning_rate", S::number(1e-9, 10), 0.01, "SANNT learning rate (Adam)."),
      optional("stat_only", S::boolean(), false, "Train on the statistical-only uncertainty."),
  });
}

}  // namespace

Schema inputs_schema() {
  using S = Schema;
  return S::object({
      optional("directory", S::string(), "",
               "Where the files below are: relative to the config file's directory (empty: that directory)."),
      optional("features", S::array(S::string()), nlohmann::json::array(), "Feature names, in order."),
      optional("processes", S::array(S::string()), nlohmann::json::array(),
               "Process names, in order (the classifier's classes)."),
      optional("group", S::string(), "", "Default of samples[].group."),
      optional("weights", S::string(), "weights", "Default of samples[].weights."),
      optional("event", S::string(), "", "Default of samples[].event."),
      optional("samples",
               S::array(S::object({
                   required("sample", S::string({"nominal", "variations", "mc", "toys", "data"}),
                            "The file it goes into, OUTPUT_DIR/<sample>.h5: nominal (classifier and DCR training), "
                            "variations (DCR training), mc (expected yields), toys (resampled pseudo-experiments), "
                            "data (observed events)."),
                   optional("process", S::string(), "", "Its process (one of `processes`; data: optional)."),
                   required("file", S::string(), "HDF5 file (relative: to `directory`)."),
                   optional("features", S::string(), "",
                            "A 2D dataset [events, features] in the order of `features` (empty: one 1D dataset per "
                            "feature, named as the feature, in `group`)."),
                   optional("group", S::string(), nullptr,
                            "The group of the 1D feature datasets (empty: the file's root; default: inputs.group)."),
                   optional("weights", S::string(), nullptr,
                            "Dataset of per-event weights (empty: every weight 1, as for observed data; default: "
                            "inputs.weights)."),
                   optional("scale", S::number(0, 1e300), 1.0,
                            "Factor on every weight (e.g. cross-section x luminosity / events produced)."),
                   optional("event", S::string(), nullptr,
                            "Dataset of event numbers (pairs nominal and variation events for the DCR training; "
                            "default: inputs.event)."),
                   optional("nuisances", S::map(S::number()), nlohmann::json::object(),
                            "The nuisance values the events were simulated at (variation samples), e.g. "
                            "{\"energy_scale\": 1}; absent ones are 0."),
               })),
               nlohmann::json::array(),
               "Per-process event files written by another program (any numeric dtypes, features as one 2D dataset "
               "or one dataset each), turned into refinery's event files by `refinery import`."),
  });
}

const Schema& experiment_schema() {
  using S = Schema;
  static const Schema schema = S::object({
      required("name", S::string(), "Name of the experiment (used in output names)."),
      optional("description", S::string(), "", "Free text."),
      optional("seed", S::integer(0, 9007199254740991.0), 1,
               "Master random seed; every stage derives its own streams from it."),
      optional("threads", S::integer(0, kMaxThreads), 0, "Threads (0: all cores)."),
      optional("output_dir", S::string(), "runs", "Directory where stages write their outputs."),
      optional("simulation", simulation_schema(), nlohmann::json::object(),
               "The simulated samples (refinery simulate)."),
      optional("inputs", inputs_schema(), nlohmann::json::object(),
               "Events from other programs' files (refinery import), instead of a built-in generator."),
      optional("classifier", classifier_schema(), nlohmann::json::object(),
               "The calibrated multiclassifier (refinery train classifier)."),
      optional("sannt", sannt_schema(), nlohmann::json::object(),
               "Systematic-aware training (refinery train sannt)."),
      optional("dcr", dcr_schema(), nlohmann::json::object(),
               "Parametric DCR networks (refinery train dcr --config)."),
      optional("measurement", measurement_schema(), nlohmann::json::object(),
               "The profile-likelihood measurement (refinery fit|scan|impacts|toys --config)."),
  });
  return schema;
}

}  // namespace refinery
