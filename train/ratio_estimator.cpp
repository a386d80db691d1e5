#include "train/ratio_estimator.h"

#include <algorithm>

#include "src/core/eigen_tensor.h"
#include "src/core/error.h"

namespace refinery {

namespace {

// w(theta) [N, n] for theta [N, T] (float64, differentiable).
torch::Tensor morphing_weights(const stats::Morphing& morphing, const torch::Tensor& theta) {
  const auto& exponents = morphing.exponents();
  std::vector<torch::Tensor> columns;
  for (const auto& e : exponents) {
    torch::Tensor c = torch::ones({theta.size(0)}, theta.options());
    for (std::size_t p = 0; p < e.size(); ++p)
      if (e[p] > 0) c = c * theta.select(1, int64_t(p)).pow(e[p]);
    columns.push_back(c);
  }
  return torch::stack(columns, 1).matmul(to_tensor(morphing.weight_matrix()).t());
}

// The basis points' v_j = (1, theta_j) [n, T + 1].
torch::Tensor basis_vectors(const stats::Morphing& morphing) {
  const int n = morphing.size(), T = morphing.parameters();
  Eigen::MatrixXd v(n, T + 1);
  v.col(0).setOnes();
  v.rightCols(T) = morphing.basis();
  return to_tensor(v);
}

// Positions of the lower triangle of a (T + 1) x (T + 1) matrix, row by row
// ([2, n]), and which of them are on the diagonal.
torch::Tensor triangle(int64_t D) { return torch::tril_indices(D, D, 0, torch::kLong); }

}  // namespace

bool is_quadratic_structure(const stats::Morphing& morphing) {
  const int T = morphing.parameters();
  const auto expected = stats::morphing_components(std::vector<int>(size_t(T), 2), 2);
  auto sorted = [](std::vector<std::vector<int>> c) {
    std::sort(c.begin(), c.end());
    return c;
  };
  return sorted(morphing.exponents()) == sorted(expected);
}

torch::Tensor morphing_aware_coefficients(const MorphingAwareForm& form, const torch::Tensor& output) {
  const int64_t N = output.size(0), n = form.morphing.size(), K = form.nuisances;
  torch::Tensor o = output.to(torch::kFloat64).view({N, n, 1 + 2 * K});
  if (!form.positive_quadratic) return o;
  const int64_t D = form.theory_parameters() + 1;
  const torch::Tensor idx = triangle(D);
  const torch::Tensor raw = o.select(2, 0);  // [N, n]: L's entries row by row
  const torch::Tensor on_diagonal = (idx[0] == idx[1]).unsqueeze(0);
  const torch::Tensor entries = torch::where(on_diagonal, raw.clamp(-30.0, 30.0).exp(), raw);
  torch::Tensor L = torch::zeros({N, D * D}, entries.options());
  L = L.index_copy(1, idx[0] * D + idx[1], entries).view({N, D, D});
  const torch::Tensor rho = torch::matmul(basis_vectors(form.morphing), L).pow(2).sum(-1);  // |L^T v_j|^2 [N, n]
  const torch::Tensor log_rho = rho.clamp_min(1e-300).log().unsqueeze(2);
  return K > 0 ? torch::cat({log_rho, o.narrow(2, 1, 2 * K)}, 2) : log_rho;
}

torch::Tensor morphing_aware_log_ratio(const MorphingAwareForm& form, const torch::Tensor& output,
                                       const torch::Tensor& parameters, const torch::Tensor& theta_reference) {
  return log_ratio_from_coefficients(form, morphing_aware_coefficients(form, output), parameters, theta_reference);
}

torch::Tensor log_ratio_from_coefficients(const MorphingAwareForm& form, const torch::Tensor& o, const torch::Tensor& parameters,
                                          const torch::Tensor& theta_reference) {
  const int64_t K = form.nuisances, T = form.theory_parameters();
  const torch::Tensor p = parameters.to(torch::kFloat64);
  torch::Tensor log_rho = o.select(2, 0);
  if (K > 0) {
    const torch::Tensor nu = p.narrow(1, T, K).unsqueeze(1);  // [N, 1, K]
    log_rho = log_rho + (o.narrow(2, 1, K) * nu).sum(2) + (o.narrow(2, 1 + K, K) * nu.pow(2)).sum(2);
  }
  const torch::Tensor sigma_basis = to_tensor(form.basis_cross_sections);  // [n, 1]
  const torch::Tensor w = morphing_weights(form.morphing, p.narrow(1, 0, T));
  const torch::Tensor S = (w * log_rho.clamp(-30.0, 30.0).exp()).sum(1);
  const torch::Tensor sigma = w.matmul(sigma_basis).squeeze(1);
  const torch::Tensor ref = theta_reference.to(torch::kFloat64).flatten().narrow(0, 0, T).view({1, T});
  const double sigma_ref = morphing_weights(form.morphing, ref).matmul(sigma_basis).item<double>();
  return S.clamp_min(1e-30).log() - (sigma.clamp_min(1e-30) / sigma_ref).log();
}

torch::Tensor RatioEstimator::coefficients(const torch::Tensor& x) const {
  if (!morphing) throw std::logic_error("RatioEstimator::coefficients: not the morphing-aware form");
  torch::NoGradGuard guard;
  MLP m = net;
  m->eval();
  const torch::Tensor out = m->forward((x.to(torch::kFloat32) - input_mean) * input_inverse_scale);
  return morphing_aware_coefficients(*morphing, out);
}

torch::Tensor RatioEstimator::network_output(const torch::Tensor& x, const torch::Tensor& theta) const {
  torch::NoGradGuard guard;
  MLP m = net;
  m->eval();
  if (morphing) {
    const torch::Tensor out = m->forward((x.to(torch::kFloat32) - input_mean) * input_inverse_scale);
    return morphing_aware_log_ratio(*morphing, out, theta, theta_reference);
  }
  const torch::Tensor in = (torch::cat({x.to(torch::kFloat32), theta.to(torch::kFloat32)}, 1) - input_mean) * input_inverse_scale;
  return m->forward(in).squeeze(1).to(torch::kFloat64);
}

torch::Tensor RatioEstimator::log_ratio(const torch::Tensor& x, const torch::Tensor& theta) const {
  const torch::Tensor ref = theta_reference.to(torch::kFloat32).view({1, -1}).expand({x.size(0), theta_reference.numel()});
  return network_output(x, theta) - network_output(x, ref);
}

torch::Tensor ensemble_coefficients(const std::vector<RatioEstimator>& members, const torch::Tensor& x) {
  if (members.empty()) throw std::logic_error("ensemble_coefficients: no members");
  std::vector<torch::Tensor> each;
  for (const auto& m : members) each.push_back(m.coefficients(x));
  const torch::Tensor all = torch::stack(each, 0);  // [M, N, n, 1 + 2K]
  const auto& form = members.front().morphing;
  if (!form || !form->positive_quadratic) return all.mean(0);
  // The positive quadratic head: the members' rho_j averaged (log-mean-exp
  // of o), so that the ensemble's morphed sum stays a positive quadratic form.
  const torch::Tensor o = (all.select(3, 0).logsumexp(0) - std::log(double(members.size()))).unsqueeze(2);
  return form->nuisances > 0 ? torch::cat({o, all.narrow(3, 1, 2 * form->nuisances).mean(0)}, 2) : o;
}

torch::Tensor ensemble_log_ratio(const std::vector<RatioEstimator>& members, const torch::Tensor& x, const torch::Tensor& theta,
                                 torch::Tensor* spread) {
  if (members.empty()) throw std::logic_error("ensemble_log_ratio: no members");
  std::vector<torch::Tensor> each;
  for (const auto& m : members) each.push_back(m.log_ratio(x, theta));
  const torch::Tensor all = torch::stack(each, 0);
  if (spread) *spread = members.size() > 1 ? all.std(0) : torch::zeros_like(each.front());
  const RatioEstimator& e = members.front();
  if (!e.morphing) return all.mean(0);
  torch::NoGradGuard guard;
  const torch::Tensor o = ensemble_coefficients(members, x);
  const torch::Tensor ref = e.theta_reference.to(torch::kFloat64).view({1, -1}).expand({x.size(0), e.theta_reference.numel()});
  return log_ratio_from_coefficients(*e.morphing, o, theta, e.theta_reference) -
         log_ratio_from_coefficients(*e.morphing, o, ref, e.theta_reference);
}

RatioEstimator train_ratio_estimator(const RatioTrainingData& d, const RatioOptions& o, TrainReport* report) {
  const int64_t N = d.x.size(0), F = d.x.size(1), P = d.theta.size(1);
  if (d.theta.size(0) != N || d.label.size(0) != N || d.joint_log_ratio.size(0) != N || d.joint_score.size(0) != N ||
      d.joint_score.size(1) != P || N < 10)
    throw InputError("", "ratio estimator", "events, theta, joint ratio, joint score and labels of the same events expected");
  if (!d.theta_reference.defined() || d.theta_reference.numel() != P)
    throw InputError("", "ratio estimator", "the reference theta (one value per parameter) is missing");
  const bool drawn_denominator = d.theta_denominator.defined();
  if (drawn_denominator && (d.theta_denominator.size(0) != N || d.theta_denominator.dim() != 2 || d.theta_denominator.size(1) != P))
    throw InputError("", "ratio estimator", "the denominators theta_1 need one row of " + std::to_string(P) + " per event");
  RatioEstimator e;
  e.theta_reference = d.theta_reference.to(torch::kFloat32).flatten().clone();
  e.morphing = o.morphing;
  const auto* form = o.morphing.get();
  if (form && form->theory_parameters() + form->nuisances != P)
    throw InputError("", "ratio estimator", "the morphing-aware form has " + std::to_string(form->theory_parameters()) +
                                                " theory parameters and " + std::to_string(form->nuisances) +
                                                " nuisances, the events " + std::to_string(P) + " parameters");
  if (form && form->basis_cross_sections.size() != form->morphing.size())
    throw InputError("", "ratio estimator", "one cross section per morphing basis point expected");
  // The network's input: (x, theta), or x alone in the morphing-aware form.
  const torch::Tensor in = form ? d.x.to(torch::kFloat32) : torch::cat({d.x.to(torch::kFloat32), d.theta.to(torch::kFloat32)}, 1);
  if (!torch::isfinite(in).all().item<bool>() || !torch::isfinite(d.theta).all().item<bool>() ||
      (drawn_denominator && !torch::isfinite(d.theta_denominator).all().item<bool>()))
    throw InputError("", "ratio estimator", "non-finite observable or theta");
  e.input_mean = in.mean(0);
  e.input_inverse_scale = 1.0 / in.std(0).clamp_min(1e-12);
  const torch::Tensor z = (in - e.input_mean) * e.input_inverse_scale;
  const torch::Tensor parameters = d.theta.to(torch::kFloat64);
  const torch::Tensor denominators = drawn_denominator ? d.theta_denominator.to(torch::kFloat64) : torch::Tensor();
  // The plain form's standardised input at the denominators.
  const torch::Tensor z_denominator =
      drawn_denominator && !form
          ? (torch::cat({d.x.to(torch::kFloat32), d.theta_denominator.to(torch::kFloat32)}, 1) - e.input_mean) * e.input_inverse_scale
          : torch::Tensor();
  // d s / d theta = d s / d z_theta * inverse scale of theta.
  const torch::Tensor theta_scale = form ? torch::Tensor() : e.input_inverse_scale.narrow(0, F, P);
  const torch::Tensor y = d.label.to(torch::kFloat32), lr = d.joint_log_ratio.to(torch::kFloat32).clamp(-30, 30);
  const torch::Tensor score = d.joint_score.to(torch::kFloat32);
  // Soft labels P(drawn at theta_ref | x, z) = 1 / (1 + r(x,z)).
  const torch::Tensor soft = torch::sigmoid(-lr);
  const int64_t n_val = std::max<int64_t>(1, int64_t(o.validation_fraction * N)), n_train = N - n_val;
  torch::manual_seed(o.train.seed);
  e.net = MLP(MLPOptions(form ? F : F + P, o.hidden, form ? form->outputs() : 1).activation("silu"));
  if (form) {
    // Start at r^ = 1: o_j = log(sigma_j / sigma_ref) makes sum_j w_j rho_j
    // = sigma(theta) / sigma_ref; small last-layer weights.
    torch::NoGradGuard guard;
    auto& last = e.net->layers.back();
    last->weight.mul_(0.1);
    last->bias.zero_();
    const Eigen::VectorXd w_ref = form->morphing.weights(
        Eigen::Map<const Eigen::VectorXf>(e.theta_reference.data_ptr<float>(), form->theory_parameters()).cast<double>());
    const double s_ref = w_ref.dot(form->basis_cross_sections);
    if (form->positive_quadratic) {
      // L_0 L_0^T = Q_sigma / sigma_ref, the cross section's own quadratic
      // form (sigma(theta) = v^T Q_sigma v; its monomials' coefficients M^-1 sigma_j).
      if (!is_quadratic_structure(form->morphing))
        throw InputError("", "ratio estimator", "the positive quadratic head needs every monomial of total degree <= 2");
      const int T = form->theory_parameters(), D = T + 1;
      const Eigen::VectorXd alpha = form->morphing.weight_matrix().transpose() * form->basis_cross_sections;
      Eigen::MatrixXd Q = Eigen::MatrixXd::Zero(D, D);
      for (size_t i = 0; i < form->morphing.exponents().size(); ++i) {
        std::vector<int> at;
        for (int p = 0; p < T; ++p)
          for (int k = 0; k < form->morphing.exponents()[i][size_t(p)]; ++k) at.push_back(p + 1);
        const int a = at.size() > 0 ? at[0] : 0, b = at.size() > 1 ? at[1] : 0;
        if (a == b) Q(a, b) += alpha[Eigen::Index(i)];
        else Q(a, b) += 0.5 * alpha[Eigen::Index(i)], Q(b, a) += 0.5 * alpha[Eigen::Index(i)];
      }
      const Eigen::LLT<Eigen::MatrixXd> llt(Q / s_ref);
      if (llt.info() != Eigen::Success)
        throw InputError("", "ratio estimator", "the basis cross sections do not form a positive definite quadratic form in (1, theta)");
      const Eigen::MatrixXd L0 = llt.matrixL();
      const torch::Tensor idx = triangle(D);
      for (int64_t k = 0; k < idx.size(1); ++k) {
        const int64_t r = idx[0][k].item<int64_t>(), c = idx[1][k].item<int64_t>();
        last->bias[k * (1 + 2 * form->nuisances)] = float(r == c ? std::log(L0(r, c)) : L0(r, c));
      }
    } else {
      for (int j = 0; j < form->morphing.size(); ++j)
        last->bias[j * (1 + 2 * form->nuisances)] = float(std::log(std::max(form->basis_cross_sections[j], 1e-300) / s_ref));
    }
  }
  auto loss_of = [&](const torch::Tensor& rows, bool training) {
    torch::Tensor zi = z.index_select(0, rows);
    const bool with_score = (o.loss == RatioLoss::kAlices || o.loss == RatioLoss::kRascal || o.loss == RatioLoss::kCascal) &&
                            o.alpha > 0;
    torch::Tensor pi = parameters.index_select(0, rows);
    if (with_score) (form ? pi : zi) = (form ? pi : zi).detach().requires_grad_(true);
    torch::Tensor s64;  // log r^ in double (morphing-aware form)
    torch::Tensor s;    // log r^(x|theta, theta_1)
    if (form) {
      const torch::Tensor out = e.net->forward(zi);
      s64 = morphing_aware_log_ratio(*form, out, pi, e.theta_reference);
      s = drawn_denominator
              ? (s64 - morphing_aware_log_ratio(*form, out, denominators.index_select(0, rows), e.theta_reference))
                    .to(torch::kFloat32)
              : s64.to(torch::kFloat32);
    } else {
      s = e.net->forward(zi).squeeze(1);
      if (drawn_denominator) s = s - e.net->forward(z_denominator.index_select(0, rows)).squeeze(1);
    }
    torch::Tensor loss;
    if (o.loss == RatioLoss::kRascal) {
      loss = (s - lr.index_select(0, rows)).pow(2).mean();
    } else if (o.loss == RatioLoss::kRolr) {
      const torch::Tensor yi = y.index_select(0, rows), li = lr.index_select(0, rows).clamp(-10, 10);
      const torch::Tensor sc = s.clamp(-10, 10);
      loss = (yi * (sc.exp() - li.exp()).pow(2) + (1 - yi) * ((-sc).exp() - (-li).exp()).pow(2)).mean();
    } else {
      // The classifier's logit for "drawn at theta_ref" is -s.
      const torch::Tensor target = o.loss == RatioLoss::kAlices ? soft.index_select(0, rows) : y.index_select(0, rows);
      loss = torch::binary_cross_entropy_with_logits(-s, target);
    }
    if (with_score) {
      const torch::Tensor ds =
          form ? torch::autograd::grad({s64.sum()}, {pi}, {}, /*retain_graph=*/true, /*create_graph=*/training)[0].to(torch::kFloat32)
               : torch::autograd::grad({s.sum()}, {zi}, {}, /*retain_graph=*/true, /*create_graph=*/training)[0].narrow(1, F, P) *
                     theta_scale;
      const torch::Tensor at_theta = (y.index_select(0, rows) < 0.5).to(torch::kFloat32).unsqueeze(1);
      const torch::Tensor err = (ds - score.index_select(0, rows)).pow(2) * at_theta;
      loss = loss + o.alpha * err.sum() / at_theta.sum().clamp_min(1.0);
    }
    return loss;
  };
  const int64_t B = std::min(o.batch_size, n_train);
  TrainingProblem problem;
  problem.samples_per_step = B;
  problem.batch_loss = [&](RandomStream& rng) {
    return loss_of((rng.uniform(B) * n_train).to(torch::kLong).clamp_max(n_train - 1), true);
  };
  problem.validation_loss = [&]() {
    // The score term needs gradients: evaluated with them, then discarded.
    torch::AutoGradMode enable(true);
    return loss_of(torch::arange(n_train, N), false).item<double>();
  };
  TrainOptions to = o.train;
  if (to.label == "train") to.label = "train ratio";
  TrainReport r = train(*e.net, problem, to);
  if (report) *report = r;
  return e;
}

}  // namespace refinery
