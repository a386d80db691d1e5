// SANNT: systematic-aware training of a binned analysis (design.md section
// 5). A classifier-shaped network (models/multiclassifier.h, two classes:
// its signal probability s(x) is the summary) is pretrained with cross
// entropy, then trained on the expected uncertainty of the parameters of
// interest: every process's nominal sample and every up/down variation
// sample are histogrammed through the *same* network (src/autograd/
// histogram.h: exact counts, surrogate-kernel gradients), the histograms are
// the templates of a BinnedTemplateModel, and the loss is
// sum_POI sqrt((F^-1)_{POI,POI}) with F the Hessian of the Asimov NLL.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/multiclassifier.h"
#include "src/autograd/histogram.h"
#include "src/likelihood/template_model.h"
#include "train/trainer.h"

namespace refinery {

// One sample: events of one process, at nominal (variation -1) or at the
// up (2k) / down (2k + 1) variation of shape nuisance k. A process with an up
// but no down sample gets the mirrored down template 2 nominal - up (one-sided
// nuisances such as a resolution that cannot shrink); one with neither is not affected.
struct SanntSample {
  torch::Tensor x;  // float32 [N,F]
  torch::Tensor w;  // float64 [N], normalised to the expected yield
  int64_t process = 0;
  int64_t variation = -1;
};

struct SanntData {
  std::vector<SanntSample> samples;
  int64_t signal_process = 0;  // the class the network's probability is taken of
  // Every process has one nominal sample; every shape nuisance has an up
  // sample of at least one process; no NaN; names `source`.
  void validate(const BinnedTemplateModel& model, const std::string& source) const;
};

// The summary the network produces:
//   kScoreBins: a two-class network's signal probability in `bins` equal bins
//               of [0, 1] (src/autograd/histogram.h histogram)
//   kSoftmaxBins: a network with `bins` outputs, an event in the bin of its
//               largest output (INFERNO's summary; softmax_histogram)
//   kClassBins: a multiclassifier (one output per process), an event in the
//               block of its most probable class, binned in that probability
//               (`bins` per class; multiclass_histogram)
enum class SanntSummary { kScoreBins, kSoftmaxBins, kClassBins };

struct SanntOptions {
  TrainOptions pretrain;  // cross-entropy stage (kScoreBins only; epochs 0: none)
  TrainOptions train;     // SANNT stage (epochs 0: none)
  SanntSummary summary = SanntSummary::kScoreBins;
  double temperature = 1.0;  // softmax of the soft assignment (kSoftmaxBins)
  // Train on the surrogate histogram (soft counts) rather than on exact
  // counts with surrogate gradients; validation always counts exactly.
  bool soft_forward = true;
  int64_t bins = 10;
  double kernel_width = 1.0;
  HistogramKernel kernel = HistogramKernel::kGaussian;
  double validation_fraction = 0.5;  // rows of every sample, by a hash of the index
  int64_t pretrain_batch = 1024;
  bool stat_only = false;  // the statistical-only loss (nuisances fixed)
  // Multiclass (kClassBins) constraint: the SANNT loss becomes
  //   sum_POI sigma + omega * max(CE - CE_min_pretrain, 0)
  // with CE the cross entropy of a mini-batch of nominal events and omega >= 0
  // a Lagrange multiplier learned by gradient ascent (omega = softplus(rho);
  // rho is trained with the network, its gradient reversed). 0: off.
  double ce_constraint_batch = 0;
};

// Templates (nominal [P,B], up/down [K,P,B]) of `data` through `net`, each
// sample restricted to `rows[i]` (weights scaled to the sample's total).
struct Templates {
  torch::Tensor nominal, up, down;
};
Templates sannt_templates(MultiClassifier& net, const SanntData& data, const BinnedTemplateModel& model,
                          const std::vector<torch::Tensor>& rows, const SanntOptions& options, bool surrogate = false);

struct SanntResult {
  TrainReport pretrain, train;
  double pretrain_sigma = 0, sigma = 0;            // sum of POI uncertainties on validation rows, after each stage
  double pretrain_sigma_stat = 0, sigma_stat = 0;  // the same with nuisances fixed
  double ce_min = 0, ce = 0;  // validation cross entropy after pretraining and at the end
  double omega = 0;           // the multiplier of the multiclass constraint at the end
  nlohmann::json to_json() const;
};

// `after_pretrain` (optional) runs between the stages, e.g. to evaluate the
// cross-entropy network as a baseline.
SanntResult train_sannt(MultiClassifier& net, const SanntData& data, const BinnedTemplateModel& model,
                        const SanntOptions& options, const std::function<void()>& after_pretrain = {});

// Sum of POI uncertainties (and stat-only) of the network's exact templates on
// all rows of `data` (e.g. an independent test sample).
std::pair<double, double> sannt_sigma(MultiClassifier& net, const SanntData& data, const BinnedTemplateModel& model,
                                      const SanntOptions& options);

}  // namespace refinery
