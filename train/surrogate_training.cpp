#include "train/surrogate_training.h"

#include <H5Cpp.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "data/random.h"
#include "src/core/eigen_tensor.h"
#include "models/mlp.h"
#include "src/core/error.h"
#include "src/core/random_seed.h"
#include "src/io/h5_attributes.h"
#include "src/io/h5_table.h"

namespace refinery {

namespace {


}  // namespace

LikelihoodPoints read_likelihood_points(const std::string& path) {
  LikelihoodPoints p;
  p.file = path;
  H5Table table(path);
  try {
    H5::H5File file(path, H5F_ACC_RDONLY);
    H5::Group root = file.openGroup("/");
    const auto format = h5::read_string(root, "format");
    if (!format || *format != "refinery-likelihood-points-1")
      throw InputError(path, "format", "not a file of `refinery surrogate sample` (format refinery-likelihood-points-1)");
    auto need_string = [&](const char* name) {
      const auto v = h5::read_string(root, name);
      if (!v) throw InputError(path, name, "missing attribute");
      return *v;
    };
    auto need_double = [&](const char* name) {
      const auto v = h5::read_double(root, name);
      if (!v || !std::isfinite(*v)) throw InputError(path, name, "missing or not finite");
      return *v;
    };
    const auto bins = h5::read_strings(root, "bins");
    if (!bins || bins->empty()) throw InputError(path, "bins", "missing or empty");
    p.bins = *bins;
    p.poi = need_string("poi");
    p.workspace = need_string("workspace");
    p.workspace_hash = need_string("workspace_hash");
    p.background_observed = need_double("background_nll_observed");
    p.background_asimov = need_double("background_nll_asimov");
    p.reach = need_double("reach");
    p.has_expansion = file.nameExists("gradient_observed");
  } catch (const H5::Exception& e) {
    throw InputError(path, "", "cannot read attributes: " + e.getDetailMsg());
  } catch (const std::runtime_error& e) {
    if (dynamic_cast<const InputError*>(&e)) throw;
    throw InputError(path, "", std::string("malformed attribute: ") + e.what());
  }
  const auto shape = table.shape("yields");
  if (shape.width != std::int64_t(p.bins.size()))
    throw InputError(path, "yields", "has " + std::to_string(shape.width) + " columns for " + std::to_string(p.bins.size()) + " bins");
  if (shape.rows < 10) throw InputError(path, "yields", "fewer than 10 points");
  for (const char* name : {"nll_observed", "nll_asimov"})
    if (table.shape(name).rows != shape.rows || table.shape(name).width != 1)
      throw InputError(path, name, "must have one value per row of yields");
  p.yields = to_eigen_matrix(table.read("yields", 0, shape.rows));
  p.nll_observed = to_eigen_matrix(table.read("nll_observed", 0, shape.rows).view({-1, 1})).col(0);
  p.nll_asimov = to_eigen_matrix(table.read("nll_asimov", 0, shape.rows).view({-1, 1})).col(0);
  if (!p.yields.allFinite() || !p.nll_observed.allFinite() || !p.nll_asimov.allFinite())
    throw InputError(path, "yields", "non-finite values");
  if ((p.yields.array() < 0).any()) throw InputError(path, "yields", "negative yields");
  if (p.has_expansion) {
    const std::int64_t K = shape.width;
    for (int c = 0; c < 2; ++c) {
      const std::string which = c == 0 ? "observed" : "asimov";
      const auto gs = table.shape("gradient_" + which), hs = table.shape("hessian_" + which);
      if (gs.rows != K || gs.width != 1) throw InputError(path, "gradient_" + which, "must have one value per bin");
      if (hs.rows != K || hs.width != K) throw InputError(path, "hessian_" + which, "must be bins x bins");
      p.gradient[c] = to_eigen_matrix(table.read("gradient_" + which, 0, K).view({-1, 1})).col(0);
      p.hessian[c] = to_eigen_matrix(table.read("hessian_" + which, 0, K));
      if (!p.gradient[c].allFinite() || !p.hessian[c].allFinite())
        throw InputError(path, "hessian_" + which, "non-finite values");
    }
  }
  return p;
}

LikelihoodPoints read_likelihood_points(const std::vector<std::string>& paths) {
  if (paths.empty()) throw InputError("", "POINTS.h5", "no file");
  LikelihoodPoints all = read_likelihood_points(paths[0]);
  for (std::size_t i = 1; i < paths.size(); ++i) {
    const LikelihoodPoints p = read_likelihood_points(paths[i]);
    auto differs = [&](const std::string& what) {
      return InputError(paths[i], what, "differs from " + paths[0] + "'s: points of another workspace or template");
    };
    if (p.bins != all.bins) throw differs("bins");
    if (p.has_expansion != all.has_expansion)
      throw InputError(paths[i], "gradient_observed", std::string(p.has_expansion ? "present" : "absent") + ", but " +
                                                         (all.has_expansion ? "present" : "absent") + " in " + paths[0] +
                                                         ": points of two refinery versions (sample again)");
    for (int c = 0; c < 2 && p.has_expansion; ++c) {
      const double tol = 1e-6 * (1.0 + all.hessian[c].cwiseAbs().maxCoeff());
      if ((p.gradient[c] - all.gradient[c]).cwiseAbs().maxCoeff() > tol || (p.hessian[c] - all.hessian[c]).cwiseAbs().maxCoeff() > tol)
        throw differs(c == 0 ? "hessian_observed" : "hessian_asimov");
    }
    if (p.poi != all.poi) throw differs("poi");
    if (p.workspace_hash != all.workspace_hash) throw differs("workspace_hash");
    if (std::abs(p.background_observed - all.background_observed) > 1e-9 * std::max(1.0, std::abs(all.background_observed)) ||
        std::abs(p.background_asimov - all.background_asimov) > 1e-9 * std::max(1.0, std::abs(all.background_asimov)))
      throw differs("background_nll_observed");
    const Eigen::Index n = all.yields.rows(), m = p.yields.rows();
    all.yields.conservativeResize(n + m, Eigen::NoChange);
    all.yields.bottomRows(m) = p.yields;
    all.nll_observed.conservativeResize(n + m);
    all.nll_observed.tail(m) = p.nll_observed;
    all.nll_asimov.conservativeResize(n + m);
    all.nll_asimov.tail(m) = p.nll_asimov;
    all.reach = std::min(all.reach, p.reach);
    all.file += "," + paths[i];
  }
  return all;
}

stats::YieldSurrogateSpec train_surrogate(const LikelihoodPoints& points, const SurrogateTrainingOptions& o,
                                          std::vector<TrainReport>* reports) {
  const int64_t N = points.yields.rows(), K = points.yields.cols();
  stats::YieldSurrogateSpec spec;
  spec.bins = points.bins;
  spec.poi = points.poi;
  spec.workspace = points.workspace;
  spec.workspace_hash = points.workspace_hash;
  spec.background_observed = points.background_observed;
  spec.background_asimov = points.background_asimov;
  spec.reach = points.reach;
  spec.yields_min = points.yields.colwise().minCoeff().transpose();
  spec.yields_max = points.yields.colwise().maxCoeff().transpose();
  Eigen::MatrixXd target(N, 2);
  target.col(0) = points.nll_observed.array() - points.background_observed;
  target.col(1) = points.nll_asimov.array() - points.background_asimov;
  // Standardisation from the points that decide limits (rise within the
  // focus; all points when fewer than a hundred are): the network's inputs
  // and outputs are then resolved where CLs is computed, and the far points
  // (down-weighted) lie at a few standard deviations.
  std::vector<Eigen::Index> near;
  for (Eigen::Index i = 0; i < N; ++i)
    if (o.focus <= 0 || 2.0 * std::max(target(i, 0), target(i, 1)) <= o.focus) near.push_back(i);
  if (near.size() < 100) {
    near.resize(N);
    std::iota(near.begin(), near.end(), Eigen::Index(0));
  }
  auto moments = [&](const Eigen::MatrixXd& m, Eigen::VectorXd* mean, Eigen::VectorXd* sd) {
    *mean = Eigen::VectorXd::Zero(m.cols());
    *sd = Eigen::VectorXd::Zero(m.cols());
    for (Eigen::Index i : near) *mean += m.row(i).transpose() / double(near.size());
    for (Eigen::Index i : near) *sd += (m.row(i).transpose() - *mean).array().square().matrix() / double(near.size());
    *sd = sd->cwiseSqrt();
    for (Eigen::Index k = 0; k < m.cols(); ++k)
      if (!((*sd)[k] > 0)) (*sd)[k] = 1.0;
  };
  moments(points.yields, &spec.input_mean, &spec.input_scale);
  Eigen::VectorXd tm, ts;
  moments(target, &tm, &ts);
  spec.target_mean = tm;
  spec.target_scale = ts;

  // Standardised tensors, split into training and validation points.
  torch::Tensor x = torch::empty({N, K}, torch::kFloat32), y = torch::empty({N, 2}, torch::kFloat32);
  {
    auto xa = x.accessor<float, 2>();
    auto ya = y.accessor<float, 2>();
    for (int64_t i = 0; i < N; ++i) {
      for (int64_t k = 0; k < K; ++k) xa[i][k] = float((points.yields(i, k) - spec.input_mean[k]) / spec.input_scale[k]);
      for (int c = 0; c < 2; ++c) ya[i][c] = float((target(i, c) - spec.target_mean[c]) / spec.target_scale[c]);
    }
  }
  torch::Tensor weight = torch::ones({N}, torch::kFloat32);
  if (o.focus > 0) {
    auto wa = weight.accessor<float, 1>();
    for (int64_t i = 0; i < N; ++i) {
      const double rise = 2.0 * std::max(target(i, 0), target(i, 1));
      const double x = (rise / o.focus) * (rise / o.focus);
      wa[i] = float(1.0 / (1.0 + x * x));
    }
  }
  std::vector<int64_t> order(N);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 shuffle(stream_seed(o.train.seed, {7}));
  std::shuffle(order.begin(), order.end(), shuffle);
  const int64_t n_val = std::clamp<int64_t>(std::llround(o.validation_fraction * N), 1, N - 1);
  torch::Tensor idx = torch::from_blob(order.data(), {N}, torch::kInt64).clone();
  const torch::Tensor val = idx.narrow(0, 0, n_val), tr = idx.narrow(0, n_val, N - n_val);
  const torch::Tensor xv = x.index_select(0, val), yv = y.index_select(0, val), wv = weight.index_select(0, val);
  const torch::Tensor xt = x.index_select(0, tr), yt = y.index_select(0, tr), wt = weight.index_select(0, tr);
  const double wv_sum = wv.sum().item<double>();
  const int64_t n_train = xt.size(0), B = std::min<int64_t>(o.batch_size, n_train);
  torch::Tensor zero_input = torch::empty({1, K}, torch::kFloat32);
  for (int64_t k = 0; k < K; ++k) zero_input[0][k] = float(-spec.input_mean[k] / spec.input_scale[k]);
  torch::Tensor zero_target = torch::tensor({float(-spec.target_mean[0] / spec.target_scale[0]),
                                             float(-spec.target_mean[1] / spec.target_scale[1])})
                                  .view({1, 2});

  // Squared error, or Huber's with the threshold in standardised units per output.
  const torch::Tensor delta = torch::tensor({float(o.huber / spec.target_scale[0]), float(o.huber / spec.target_scale[1])});
  auto residual_loss = [&](const torch::Tensor& e) {
    if (o.huber <= 0) return e.pow(2);
    const torch::Tensor a = e.abs();
    return torch::where(a < delta, e.pow(2), 2 * delta * a - delta.pow(2));
  };
  spec.training = {{"points", N},
                   {"validation_points", n_val},
                   {"hidden", o.hidden},
                   {"members", o.members},
                   {"batch_size", B},
                   {"epochs", o.train.epochs},
                   {"steps_per_epoch", o.train.steps_per_epoch},
                   {"learning_rate", o.train.learning_rate},
                   {"seed", o.train.seed},
                   {"focus", o.focus},
                   {"huber", o.huber},
                   {"points_file", points.file},
                   {"member_reports", nlohmann::json::array()}};
  for (int m = 0; m < o.members; ++m) {
    torch::manual_seed(stream_seed(o.train.seed, {11, std::uint64_t(m)}));
    MLP net(MLPOptions(K, o.hidden, 2).activation("silu"));
    TrainingProblem problem;
    problem.samples_per_step = B;
    problem.batch_loss = [&](RandomStream& rng) {
      torch::Tensor i = (rng.uniform(B) * n_train).to(torch::kLong).clamp_max(n_train - 1);
      const torch::Tensor w = wt.index_select(0, i);
      return (residual_loss(net->forward(xt.index_select(0, i)) - yt.index_select(0, i)).sum(1) * w).sum() / (2 * w.sum());
    };
    problem.validation_loss = [&]() {
      double total = 0.0;
      for (int64_t s = 0; s < n_val; s += 65536) {
        const int64_t n = std::min<int64_t>(65536, n_val - s);
        total += (residual_loss(net->forward(xv.narrow(0, s, n)) - yv.narrow(0, s, n)).sum(1) * wv.narrow(0, s, n)).sum().item<double>();
      }
      return total / (2 * wv_sum);
    };
    TrainOptions to = o.train;
    to.seed = stream_seed(o.train.seed, {13, std::uint64_t(m)});
    if (!to.checkpoint.empty()) to.checkpoint += ".m" + std::to_string(m);
    to.label = "surrogate member " + std::to_string(m + 1) + "/" + std::to_string(o.members);
    TrainReport report = train(*net, problem, to);
    if (report.interrupted) {  // the checkpoint stays; --resume continues
      if (reports) reports->push_back(report);
      return spec;
    }
    {
      torch::NoGradGuard guard;
      net->eval();
      const torch::Tensor at_zero = net->forward(zero_input);
      net->layers.back()->bias.add_((zero_target - at_zero).view({2}));
    }
    double rms_obs = 0, rms_asimov = 0;
    {
      torch::NoGradGuard guard;
      const torch::Tensor near = wv.ge(0.5f);
      const torch::Tensor d = (net->forward(xv.index({near})) - yv.index({near})).to(torch::kFloat64);
      if (d.size(0) > 0) {
        rms_obs = d.select(1, 0).pow(2).mean().sqrt().item<double>() * spec.target_scale[0];
        rms_asimov = d.select(1, 1).pow(2).mean().sqrt().item<double>() * spec.target_scale[1];
      }
    }
    std::vector<stats::DenseLayer> layers;
    for (const auto& L : net->layers) {
      stats::DenseLayer d;
      const torch::Tensor w = L->weight.detach().contiguous(), b = L->bias.detach().contiguous();
      d.weight = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
          w.data_ptr<float>(), w.size(0), w.size(1));
      d.bias = Eigen::Map<const Eigen::VectorXf>(b.data_ptr<float>(), b.size(0));
      layers.push_back(std::move(d));
    }
    spec.members.push_back(std::move(layers));
    spec.training["member_reports"].push_back({{"best_epoch", report.best_epoch},
                                              {"best_validation_mse", report.best_val_loss},
                                              {"validation_rms_nll_near", {rms_obs, rms_asimov}},
                                              {"seconds", report.seconds},
                                              {"stop_reason", report.stop_reason}});
    if (reports) reports->push_back(report);
  }
  // Exact to second order at s = 0 where the points carry f's expansion there.
  if (points.has_expansion) stats::set_origin_terms(&spec, points.gradient, points.hessian);
  spec.training["origin_term"] = points.has_expansion;
  return spec;
}

}  // namespace refinery
