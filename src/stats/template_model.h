// A binned likelihood whose templates are tensors (SANNT's summary
// histograms, design.md section 5) behind the model interface. The expected
// counts are BinnedTemplateModel::expected (POIs and normalisation
// nuisances scaling processes, histosys shape nuisances); the data term is
// the Poisson -log L with its constant, the constraints those of the
// parameter table (src/stats/constraint.h). Everything in LibTorch and
// double: the same object gives
//   - the NLL with gradient and Hessian for fits, scans and hypotests
//     (data_nll by autograd on detached templates), and
//   - the Fisher information at the Asimov point and the POI uncertainties
//     sqrt((F^-1)_ii), differentiable in the templates, which SANNT trains
//     on; so the network is trained on exactly the model `hypotest` fits.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "src/likelihood/template_model.h"
#include "src/stats/model.h"

namespace refinery::stats {

class TemplateModel : public Model {
 public:
  // Templates: nominal [P,B], up/down [K,P,B] (K may be 0; undefined
  // tensors stand for none). `observed` [B]: the data; undefined: the
  // Asimov counts at the nominal point (POIs 1, nuisances 0), kept
  // differentiable in the templates for the Fisher information.
  TemplateModel(const BinnedTemplateModel& model, torch::Tensor nominal, torch::Tensor up, torch::Tensor down,
                torch::Tensor observed = {});

  const BinnedTemplateModel& templates() const { return *model_; }
  // Expected counts [B] at x (float64 [D]).
  torch::Tensor expected_torch(const torch::Tensor& x) const;
  // The data term sum_b lambda_b - n_b log lambda_b + lgamma(n_b + 1) at x,
  // with the templates as given (differentiable in them).
  torch::Tensor data_nll_torch(const torch::Tensor& x) const;
  // Hessian of the NLL (data term by double backward, plus the constraints'
  // curvature) at the nominal point on its Asimov data; differentiable in
  // the templates.
  torch::Tensor asimov_fisher() const;
  // sqrt(diag(F^-1)) of the POIs [n_pois]; stat_only: nuisances fixed.
  torch::Tensor poi_uncertainties(bool stat_only = false) const;
  // Linearised impacts on the first POI from C = F^-1: fixing nuisance k at
  // +-1 (pre-fit) shifts the POI by C_0k / C_kk, at +- its post-fit error by
  // C_0k / sqrt(C_kk); ranked by |post-fit|.
  struct Impact {
    std::string name;
    double prefit, postfit, postfit_error;
  };
  std::vector<Impact> impacts() const;

  double data_nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const override;
  // One region, "templates", with the model's processes.
  std::vector<ProcessYields> observed_yields() const override;
  std::vector<ProcessYields> expected_yields(const Eigen::VectorXd& x) const override;
  std::unique_ptr<Model> with_asimov_data(const Eigen::VectorXd& x) const override;
  std::unique_ptr<Model> with_toy_data(const Eigen::VectorXd& x, std::mt19937_64& rng) const override;
  std::string describe() const override { return "binned template model"; }

 private:
  torch::Tensor data_term(const torch::Tensor& x, const torch::Tensor& nominal, const torch::Tensor& up,
                          const torch::Tensor& down, const torch::Tensor& observed) const;
  std::shared_ptr<const BinnedTemplateModel> model_;
  torch::Tensor nominal_, up_, down_, observed_;  // as given (may carry gradients)
  torch::Tensor nominal_d_, up_d_, down_d_, observed_d_;  // detached, for fits
};

}  // namespace refinery::stats
