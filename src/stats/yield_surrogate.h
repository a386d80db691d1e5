// A learned likelihood surrogate (issue 18 item 2): an ensemble of
// multilayer perceptrons from the signal yields s in a template of bins to
// the two NLLs of src/stats/signal_yield_likelihood.h, f_obs(s) and f_A(s)
// (observed and background-only Asimov data, nuisances profiled), stored
// as an ONNX file that holds the whole evaluation path and its metadata
// (docs/reinterpretation.md):
//
//   yields [N, K] -> (s - input_mean) * input_inverse_scale
//     -> per member: Gemm, SiLU (x * Sigmoid(x)), ..., Gemm -> [N, 2]
//     -> * target_scale + target_offset         -> that member's NLLs
//   nll [N, 2] = mean over the members; nll_members [N, 2 M] each member's.
//
// target_offset holds the background-only NLLs f(0), so each member's
// output is a full -log L; training fixes every member's last bias so that
// it returns f(0) exactly at s = 0.
//
// Exact to second order at s = 0 (where the points carry f's expansion
// there, the background-only minima's gradient g and Hessian H): a network's
// absolute error of ~1e-3 is harmless for strong signals but decides CLs
// where q~ is of that order (signals an analysis cannot see, CLs near 1,
// where CLs goes as sqrt(q~)). Each member's output then gets an origin term
//
//   + w(s) (a + b.s + s.C.s / 2),   w(s) = exp(-s.A.s),
//
// (a, b, C) the exact expansion minus the member's own at s = 0 (per
// output), so each member, and their mean, has f's value, gradient and
// Hessian there; w falls to 1/e where twice the Asimov NLL has risen by
// about 0.25 (A = the Asimov Hessian's non-negative part / 0.25) and, in
// directions the data cannot see, at a tenth of each bin's training range.
// Away from the origin the networks are unchanged: the quadratic correction
// extrapolates the network's local error, so a wider w (rise 2) moved a
// CLs of 0.37 on the sbottom workspace by 0.004 (docs/reinterpretation.md).
//
// refinery reads back the surrogates it writes (the layer structure above,
// checked name by name) and evaluates them in double with exact first and
// second derivatives along a ray (forward mode), so the surrogate is a model
// (SurrogateModel) on which the asymptotic CLs, limits and fits of every
// other model run unchanged. LibTorch-free.
#pragma once
#include <Eigen/Dense>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/core/onnx_model.h"
#include "src/stats/model.h"

namespace refinery::stats {

struct DenseLayer {
  Eigen::MatrixXf weight;  // [out, in]
  Eigen::VectorXf bias;    // [out]
};

// One member's origin term (float, as the ONNX graph holds it).
struct OriginTerm {
  Eigen::Vector2f value = Eigen::Vector2f::Zero();  // a, per output
  Eigen::MatrixXf gradient;                         // b [K, 2]
  Eigen::MatrixXf half_hessian[2];                  // C / 2 [K, K], per output
};

struct YieldSurrogateSpec {
  std::vector<std::string> bins;  // the template, "channel[bin]"
  std::string poi, workspace, workspace_hash;
  Eigen::VectorXd input_mean, input_scale;  // standardised input (s - mean) / scale
  Eigen::Vector2d target_mean = Eigen::Vector2d::Zero(), target_scale = Eigen::Vector2d::Ones();  // of f - f(0)
  double background_observed = 0.0, background_asimov = 0.0;  // f(0)
  Eigen::VectorXd yields_min, yields_max;  // the training points' range per bin
  double reach = 0.0;  // twice the NLL rise the training points reach
  std::vector<std::vector<DenseLayer>> members;
  // The exact expansion at s = 0 (observed [0], Asimov [1]) and the origin
  // terms built from it (set_origin_terms); empty when the surrogate has none.
  Eigen::VectorXd expansion_gradient[2];
  Eigen::MatrixXd expansion_hessian[2];
  Eigen::MatrixXf origin_metric;    // A [K, K]
  std::vector<OriginTerm> origin;   // per member
  bool has_origin() const { return !origin.empty(); }
  nlohmann::json training = nlohmann::json::object();  // how it was trained (points, epochs, losses)
};

// The ONNX model of a surrogate, and its inverse (InputError naming `file`
// for anything but a refinery surrogate's structure).
onnx::Model surrogate_to_onnx(const YieldSurrogateSpec& spec);
YieldSurrogateSpec surrogate_from_onnx(const onnx::Model& model, const std::string& file);

// Sets the exact expansion of f at s = 0 and, for every member, the origin
// term that makes it exact to second order there (the member's own value,
// gradient and Hessian at 0 in double, from its float weights).
// w(s) falls to 1/e where twice the Asimov NLL has risen by `rise` (A =
// the Asimov Hessian's non-negative part / rise) and, in directions the
// data do not see, at `range_fraction` of each bin's training range.
void set_origin_terms(YieldSurrogateSpec* spec, const Eigen::VectorXd gradient[2], const Eigen::MatrixXd hessian[2],
                      double rise = 0.25, double range_fraction = 0.1);

class YieldSurrogate {
 public:
  explicit YieldSurrogate(YieldSurrogateSpec spec, std::string file = "");
  static std::shared_ptr<const YieldSurrogate> load(const std::string& path);

  const YieldSurrogateSpec& spec() const { return spec_; }
  const std::string& file() const { return file_; }
  int dimension() const { return static_cast<int>(spec_.bins.size()); }
  int members() const { return static_cast<int>(spec_.members.size()); }

  // NLLs of a batch of yields [N, K] in float, as the ONNX graph computes
  // them: the members' mean [N, 2] and, when set, their standard deviation.
  void evaluate(const Eigen::MatrixXd& yields, Eigen::MatrixXd* nll, Eigen::MatrixXd* spread = nullptr) const;
  // Along the ray t * s: f(t s) and its first and second derivatives in t,
  // in double; `asimov` chooses f_A; member -1 is the ensemble's mean.
  void along(const Eigen::VectorXd& s, double t, bool asimov, int member, double* f, double* df, double* d2f) const;
  // The largest t for which t * s stays inside the training points' range
  // (+inf for s = 0).
  double validity(const Eigen::VectorXd& s) const;

 private:
  YieldSurrogateSpec spec_;
  std::string file_;
  std::vector<std::vector<std::pair<Eigen::MatrixXd, Eigen::VectorXd>>> double_;  // the weights in double
  struct OriginDouble {
    Eigen::Vector2d value;
    Eigen::MatrixXd gradient;
    Eigen::MatrixXd half_hessian[2];
  };
  Eigen::MatrixXd origin_metric_;      // the origin terms in double (empty: none)
  std::vector<OriginDouble> origin_;
};

// The surrogate at one signal (yields s at strength 1) as a model: one
// parameter, the POI mu in [0, validity], and -log L(mu) = f_obs(mu s) (or
// f_A for its Asimov data). Asimov data exist for mu = 0 alone (the
// background-only Asimov data the surrogate learned); toys need the full
// likelihood (InputError).
class SurrogateModel : public Model {
 public:
  SurrogateModel(std::shared_ptr<const YieldSurrogate> surrogate, Eigen::VectorXd signal, int member = -1,
                 bool asimov = false);
  double data_nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const override;
  std::vector<ProcessYields> expected_yields(const Eigen::VectorXd& x) const override;
  std::vector<ProcessYields> observed_yields() const override { return {}; }
  std::unique_ptr<Model> with_asimov_data(const Eigen::VectorXd& x) const override;
  std::unique_ptr<Model> with_toy_data(const Eigen::VectorXd& x, std::mt19937_64& rng) const override;
  std::string describe() const override;

 private:
  std::shared_ptr<const YieldSurrogate> surrogate_;
  Eigen::VectorXd signal_;
  int member_;
  bool asimov_;
};

}  // namespace refinery::stats
