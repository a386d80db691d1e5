#include "train/dcr_training.h"

#include "src/core/block_eval.h"

#include <cmath>
#include <functional>
#include <iostream>
#include <optional>

#include "src/core/error.h"

namespace refinery {

namespace {

// Deterministic split: row i (or, given event numbers, the row of event
// number k) is held out when its hash falls below fraction.
torch::Tensor holdout_mask(int64_t n, double fraction, const torch::Tensor& event = {}) {
  torch::Tensor m = torch::empty({n}, torch::kBool);
  auto a = m.accessor<bool, 1>();
  const uint64_t cut = static_cast<uint64_t>(fraction * 1e6);
  const torch::Tensor key = (event.defined() ? event.to(torch::kInt64) : torch::arange(n, torch::kInt64)).contiguous();
  auto k = key.accessor<int64_t, 1>();
  for (int64_t i = 0; i < n; ++i) a[i] = splitmix64(0x5eed0000ULL + static_cast<uint64_t>(k[i])) % 1000000ULL < cut;
  return m;
}

// Nominal and variation events paired by event number.
struct Pairing {
  torch::Tensor table;      // int64 [N0, P]: the variation row of nominal row i at point p, or -1
  torch::Tensor unmatched;  // int64: variation rows without a nominal partner
  double fraction = 0.0;    // variation rows with a partner
};

// Empty when the numbers do not pair (a number twice in the nominal sample or
// twice at one point).
std::optional<Pairing> pair_events(const torch::Tensor& e0, const torch::Tensor& ev, const torch::Tensor& point,
                                   int64_t P) {
  const int64_t n0 = e0.size(0), nv = ev.size(0);
  if (n0 == 0 || nv == 0) return std::nullopt;
  auto [sorted, order] = e0.sort();
  if (n0 > 1 && sorted.narrow(0, 1, n0 - 1).eq(sorted.narrow(0, 0, n0 - 1)).any().item<bool>()) return std::nullopt;
  torch::Tensor pos = torch::searchsorted(sorted, ev).clamp_max(n0 - 1);
  torch::Tensor found = sorted.index_select(0, pos).eq(ev);
  torch::Tensor rows = torch::arange(nv, torch::kInt64).index({found});
  torch::Tensor flat = order.index_select(0, pos).index({found}) * P + point.index({found});
  if (std::get<0>(torch::_unique(flat)).size(0) != flat.size(0)) return std::nullopt;
  Pairing out;
  out.table = torch::full({n0 * P}, -1, torch::kInt64);
  out.table.index_put_({flat}, rows);
  out.table = out.table.view({n0, P});
  out.unmatched = found.logical_not().nonzero().squeeze(1);
  out.fraction = static_cast<double>(rows.size(0)) / static_cast<double>(nv);
  return out;
}

}  // namespace

void DCRTrainingData::validate(int order, const std::string& source, const std::vector<int>& powers) const {
  const int64_t P = nu_points.size(0), K = nu_points.size(1);
  if (static_cast<int64_t>(nuisance_names.size()) != K)
    throw InputError(source, "nuisances", std::to_string(K) + " nuisance columns but " +
                                              std::to_string(nuisance_names.size()) + " names");
  if (x0.size(0) == 0) throw InputError(source, "nominal", "no nominal events");
  if (x0.size(1) != xv.size(1)) throw InputError(source, "features", "nominal and variation samples have different feature counts");
  torch::Tensor counts = torch::bincount(point, {}, P);
  for (int64_t p = 0; p < P; ++p)
    if (counts[p].item<int64_t>() == 0) throw InputError(source, "nu-point " + std::to_string(p), "no events");
  const int64_t C = dcr_coefficients(K, order, powers);
  if (!powers.empty() && int64_t(powers.size()) != K)
    throw InputError(source, "coordinates", "one coordinate per nuisance of the ansatz");
  torch::Tensor phi = dcr_phi(nu_points.to(torch::kFloat64), order, powers);
  const int64_t rank = torch::linalg_matrix_rank(phi).item<int64_t>();
  if (rank < C)
    throw InputError(source, "nu-points",
                     std::to_string(P) + " nu-points determine only " + std::to_string(rank) + " of the " +
                         std::to_string(C) + " coefficients of the " + (order == 2 ? "quadratic" : "linear") +
                         " ansatz: add points (at least " + std::to_string(C) +
                         ", including pairs of non-zero nuisances for the cross terms" +
                         (powers.empty() ? std::string() : ", and distinct values of |nu| for a squared nuisance") + ")");
}

std::vector<std::vector<double>> l1_grid(int64_t K, double step, double max_l1) {
  std::vector<std::vector<double>> points;
  const int m = static_cast<int>(std::round(max_l1 / step));
  std::vector<int> idx(K, 0);
  std::function<void(int64_t, int)> rec = [&](int64_t i, int used) {
    if (i == K) {
      bool zero = true;
      std::vector<double> p;
      for (int v : idx) p.push_back(v * step), zero = zero && v == 0;
      if (!zero) points.push_back(p);
      return;
    }
    for (int v = -m; v <= m; ++v)
      if (std::abs(v) + used <= m) idx[i] = v, rec(i + 1, used + std::abs(v));
  };
  rec(0, 0);
  return points;
}

DCRTrainingData dcr_toy_training_data(const analytic::DcrToy& toy, int64_t n, double step, double max_l1,
                                      uint64_t seed) {
  torch::Generator gen = make_generator(seed);
  torch::Tensor base = toy.base(n, gen);
  DCRTrainingData d;
  EventSet nominal = toy.sample_at(base, torch::zeros({toy.dim()}, torch::kFloat64));
  d.x0 = nominal.features;
  d.w0 = nominal.weights;
  d.e0 = torch::arange(n, torch::kInt64);  // one base draw per event: paired samples
  auto points = l1_grid(toy.dim(), step, max_l1);
  std::vector<torch::Tensor> xs, ws, ps, es;
  d.nu_points = torch::zeros({(int64_t)points.size(), toy.dim()});
  for (size_t p = 0; p < points.size(); ++p) {
    torch::Tensor nu = torch::tensor(points[p], torch::kFloat64);
    d.nu_points[p] = nu.to(torch::kFloat32);
    EventSet s = toy.sample_at(base, nu);
    xs.push_back(s.features), ws.push_back(s.weights), ps.push_back(torch::full({n}, (int64_t)p, torch::kLong));
    es.push_back(d.e0);
  }
  d.xv = torch::cat(xs), d.wv = torch::cat(ws), d.point = torch::cat(ps), d.ev = torch::cat(es);
  for (int64_t k = 0; k < toy.dim(); ++k) d.nuisance_names.push_back("nu" + std::to_string(k));
  return d;
}

// What train_dcr prepares before the first step: the preprocessor's
// moments (as the fitted buffers), the training and held-out rows, the
// pairing. The same for every member of an ensemble.
struct DCRTrainingSetup {
  std::vector<std::pair<std::string, torch::Tensor>> preprocess;
  torch::Tensor x0, w0, xv, wv, pv, x0h, w0h, xvh, wvh, pvh;
  torch::Tensor phi_points;  // [P, C]
  torch::Tensor lambda;      // float32 [P]: the points' loss weights; undefined: all 1
  torch::Tensor lambda_cdf;  // float64 [P]: their cumulative sum over their total, for drawing points
  int64_t P = 0;
  double norm_train = 0.0, norm_val = 0.0;
  std::optional<Pairing> pairing;
};

std::shared_ptr<const DCRTrainingSetup> prepare_dcr_training(DCRNetwork& net, const DCRTrainingData& d,
                                                             const DCRTrainOptions& o) {
  d.validate(net->options.order(), "training data", net->options.powers());
  auto s = std::make_shared<DCRTrainingSetup>();
  {
    torch::NoGradGuard g;
    net->preprocess->fit(torch::cat({d.x0, d.xv}), torch::cat({d.w0, d.wv}));
    for (const auto& b : net->preprocess->named_buffers()) s->preprocess.emplace_back(b.key(), b.value().clone());
  }
  const bool by_event = o.paired && d.paired();
  torch::Tensor hold0 = holdout_mask(d.x0.size(0), o.validation_fraction, by_event ? d.e0 : torch::Tensor());
  torch::Tensor holdv = holdout_mask(d.xv.size(0), o.validation_fraction, by_event ? d.ev : torch::Tensor());
  auto pick = [](const torch::Tensor& t, const torch::Tensor& m) { return t.index({m}).contiguous(); };
  const torch::Tensor tr0 = hold0.logical_not(), trv = holdv.logical_not();
  s->x0 = pick(d.x0, tr0), s->w0 = pick(d.w0, tr0).to(torch::kFloat32);
  s->xv = pick(d.xv, trv), s->wv = pick(d.wv, trv).to(torch::kFloat32), s->pv = pick(d.point, trv);
  s->x0h = pick(d.x0, hold0), s->w0h = pick(d.w0, hold0).to(torch::kFloat32);
  s->xvh = pick(d.xv, holdv), s->wvh = pick(d.wv, holdv).to(torch::kFloat32), s->pvh = pick(d.point, holdv);
  s->phi_points = dcr_phi(d.nu_points.to(torch::kFloat32), net->options.order(), net->options.powers());
  s->P = d.nu_points.size(0);
  if (o.point_weights.defined()) {
    torch::Tensor l = o.point_weights.to(torch::kFloat64);
    if (l.dim() != 1 || l.size(0) != s->P || !(l.gt(0).all().item<bool>()) || !torch::isfinite(l).all().item<bool>())
      throw InputError("training data", "point weights", "one positive weight per nu-point");
    // Scaled to mean 1: the points' total weight is the uniform case's P, so
    // the loss keeps its scale and a paired draw stands for n0 P / B terms.
    l = l * (double(s->P) / l.sum().item<double>());
    s->lambda = l.to(torch::kFloat32);
    s->lambda_cdf = l.cumsum(0) / l.sum();
    const double total = l.sum().item<double>();
    s->norm_train = (s->wv * s->lambda.index_select(0, s->pv)).sum().item<double>() + total * s->w0.sum().item<double>();
    s->norm_val = (s->wvh * s->lambda.index_select(0, s->pvh)).sum().item<double>() + total * s->w0h.sum().item<double>();
  } else {
    s->norm_train = s->wv.sum().item<double>() + s->P * s->w0.sum().item<double>();
    s->norm_val = s->wvh.sum().item<double>() + s->P * s->w0h.sum().item<double>();
  }
  if (by_event) {
    s->pairing = pair_events(pick(d.e0, tr0), pick(d.ev, trv), s->pv, s->P);
    if (!s->pairing)
      std::cerr << "train dcr: the event numbers do not pair the samples (a number repeats); training unpaired\n";
  }
  return s;
}

TrainReport train_dcr(DCRNetwork& net, const DCRTrainingData& d, const DCRTrainOptions& o,
                      const DCRTrainingSetup* shared) {
  std::shared_ptr<const DCRTrainingSetup> own;
  if (!shared) {
    own = prepare_dcr_training(net, d, o);
    shared = own.get();
  } else {
    torch::NoGradGuard g;
    for (auto b : net->preprocess->named_buffers())
      for (const auto& [name, value] : shared->preprocess)
        if (name == b.key()) b.value().copy_(value);
  }
  const DCRTrainingSetup& s = *shared;
  // Data-parallel: every rank holds both samples whole (a pair's nominal and
  // varied events must meet) and evaluates its slice of each global batch
  // and of the held-out events; the slices' sums add up to one process's.
  distributed::Collective& group = o.train.group ? *o.train.group : distributed::single_process();
  auto slice = [&](int64_t n) { return distributed::shard_of(n, group.rank(), group.size()); };
  const torch::Tensor &x0 = s.x0, &w0 = s.w0, &xv = s.xv, &wv = s.wv, &pv = s.pv;
  const torch::Tensor &x0h = s.x0h, &w0h = s.w0h, &xvh = s.xvh, &wvh = s.wvh, &pvh = s.pvh;
  const torch::Tensor& phi_points = s.phi_points;  // [P,C]
  const int64_t P = s.P;
  const torch::Tensor& lambda = s.lambda;  // undefined: every point weighs 1
  const bool weighted = lambda.defined();
  // Variation events' weights times their points' loss weights; nominal
  // events' per point ([B] -> [B, P]).
  auto at_points = [&](const torch::Tensor& w, const torch::Tensor& points) {
    return weighted ? w * lambda.index_select(0, points) : w;
  };
  auto per_point = [&](const torch::Tensor& w) {
    return weighted ? w.unsqueeze(1) * lambda.unsqueeze(0) : w.unsqueeze(1);
  };
  const std::optional<Pairing>& pairing = s.pairing;

  // Sum over the whole (sub)sample, computed from sums over the events:
  // variation events at their own point, nominal events at every point.
  auto loss_terms = [&](const torch::Tensor& xa, const torch::Tensor& wa, const torch::Tensor& pa,
                        const torch::Tensor& xb, const torch::Tensor& wb) {
    torch::Tensor lr_v = (net->forward(xa) * phi_points.index_select(0, pa)).sum(1);
    torch::Tensor lr_0 = torch::matmul(net->forward(xb), phi_points.t());  // [B, P]
    torch::Tensor sv = (at_points(wa, pa) * torch::softplus(-lr_v)).sum();
    torch::Tensor s0 = (per_point(wb) * torch::softplus(lr_0)).sum();
    return std::make_pair(sv, s0);
  };
  const double norm_train = s.norm_train, norm_val = s.norm_val;
  const int64_t n0 = x0.size(0), nv = xv.size(0), B = o.batch_size;

  TrainingProblem problem;
  problem.samples_per_step = 2 * B;
  if (pairing) {
    const int64_t n_unmatched = pairing->unmatched.size(0);
    const int64_t Bu = n_unmatched == 0 ? 0
                                        : std::min<int64_t>(B, std::max<int64_t>(64, (2 * B * n_unmatched + nv - 1) / nv));
    problem.samples_per_step = 2 * B + Bu;
    problem.batch_loss = [&, Bu, n_unmatched](RandomStream& rng) {
      const auto mine = slice(B);
      torch::Tensor i0 = (rng.uniform(B) * n0).to(torch::kLong).clamp_max(n0 - 1).narrow(0, mine.begin, mine.rows());
      // One point per event: uniform, or in proportion to the points' weights
      // (each pair then stands for as many terms of the weighted loss).
      torch::Tensor pp = weighted ? torch::searchsorted(s.lambda_cdf, rng.uniform(B).to(torch::kFloat64), false, true)
                                        .clamp_max(P - 1)
                                        .narrow(0, mine.begin, mine.rows())
                                  : (rng.uniform(B) * P).to(torch::kLong).clamp_max(P - 1).narrow(0, mine.begin, mine.rows());
      const int64_t b = mine.rows();
      torch::Tensor j = pairing->table.view({-1}).index_select(0, i0 * P + pp);
      torch::Tensor has = j.ge(0);
      torch::Tensor jv = j.index({has}), pj = pp.index({has});
      std::vector<torch::Tensor> xs = {x0.index_select(0, i0), xv.index_select(0, jv)};
      std::vector<torch::Tensor> ps = {pp, pj};
      torch::Tensor iu;
      int64_t bu = 0;
      if (Bu > 0) {
        const auto mine_u = slice(Bu);
        torch::Tensor u = (rng.uniform(Bu) * n_unmatched).to(torch::kLong).clamp_max(n_unmatched - 1);
        iu = pairing->unmatched.index_select(0, u.narrow(0, mine_u.begin, mine_u.rows()));
        bu = mine_u.rows();
        xs.push_back(xv.index_select(0, iu));
        ps.push_back(pv.index_select(0, iu));
      }
      torch::Tensor lr = (net->forward(torch::cat(xs)) * phi_points.index_select(0, torch::cat(ps))).sum(1);
      const int64_t nj = jv.size(0);
      // A pair: the nominal event at its drawn point and its variation there,
      // each standing for n0 P / B such terms of L.
      torch::Tensor pairs = (w0.index_select(0, i0) * torch::softplus(lr.narrow(0, 0, b))).sum() +
                            (wv.index_select(0, jv) * torch::softplus(-lr.narrow(0, b, nj))).sum();
      torch::Tensor loss = pairs * (static_cast<double>(n0) * P / B);
      if (Bu > 0)
        loss = loss + (at_points(wv.index_select(0, iu), pv.index_select(0, iu)) * torch::softplus(-lr.narrow(0, b + nj, bu))).sum() *
                          (static_cast<double>(n_unmatched) / Bu);
      return loss / norm_train;
    };
  } else {
    problem.batch_loss = [&](RandomStream& rng) {
      const auto mine = slice(B);
      torch::Tensor i0 = (rng.uniform(B) * n0).to(torch::kLong).clamp_max(n0 - 1).narrow(0, mine.begin, mine.rows());
      torch::Tensor iv = (rng.uniform(B) * nv).to(torch::kLong).clamp_max(nv - 1).narrow(0, mine.begin, mine.rows());
      auto [sv, s0] = loss_terms(xv.index_select(0, iv), wv.index_select(0, iv), pv.index_select(0, iv),
                                 x0.index_select(0, i0), w0.index_select(0, i0));
      // Unbiased estimate of the full-sample loss.
      return (sv * (static_cast<double>(nv) / B) + s0 * (static_cast<double>(n0) / B)) / norm_train;
    };
  }
  problem.validation_loss = [&]() {
    double total = 0.0;
    const int64_t block = 65536;
    const auto mine_v = slice(xvh.size(0)), mine_0 = slice(x0h.size(0));
    for (int64_t s = mine_v.begin; s < mine_v.end; s += block) {
      int64_t n = std::min(block, mine_v.end - s);
      torch::Tensor lr = (net->forward(xvh.narrow(0, s, n)) * phi_points.index_select(0, pvh.narrow(0, s, n))).sum(1);
      total += (at_points(wvh.narrow(0, s, n), pvh.narrow(0, s, n)) * torch::softplus(-lr)).sum().item<double>();
    }
    for (int64_t s = mine_0.begin; s < mine_0.end; s += block) {
      int64_t n = std::min(block, mine_0.end - s);
      torch::Tensor lr = torch::matmul(net->forward(x0h.narrow(0, s, n)), phi_points.t());
      total += (per_point(w0h.narrow(0, s, n)) * torch::softplus(lr)).sum().item<double>();
    }
    return distributed::sum(group, total) / norm_val;
  };
  TrainReport report = train(*net, problem, o.train);
  if (pairing) report.paired_fraction = pairing->fraction;
  if (o.normalise && !report.interrupted) {
    auto [before, after] = dcr_normalise(net, d, o.point_weights);
    report.normalisation_rms_before = before;
    report.normalisation_rms_after = after;
  }
  return report;
}

std::pair<double, double> dcr_normalise(DCRNetwork& net, const DCRTrainingData& d, const torch::Tensor& point_weights) {
  torch::NoGradGuard guard;
  const int order = net->options.order();
  const std::vector<int>& powers = net->options.powers();
  const int64_t P = d.nu_points.size(0);
  torch::Tensor coef = dcr_coefficients_cache(net, d.x0);
  torch::Tensor learned = torch::log(dcr_inclusive_ratio(coef, d.w0, d.nu_points, order, powers));  // [P]
  torch::Tensor wv = d.wv.to(torch::kFloat64);
  torch::Tensor totals = torch::zeros({P}, torch::kFloat64).index_add_(0, d.point, wv);
  torch::Tensor target = torch::log(totals / d.w0.to(torch::kFloat64).sum());
  torch::Tensor e = target - learned;                                                   // [P]
  torch::Tensor phi = dcr_phi(d.nu_points.to(torch::kFloat64), order, powers);         // [P, C]
  // Weighted least squares: each point's row scaled by the root of its weight.
  const torch::Tensor root = point_weights.defined() ? point_weights.to(torch::kFloat64).sqrt().unsqueeze(1)
                                                     : torch::ones({P, 1}, torch::kFloat64);
  torch::Tensor c =
      std::get<0>(torch::linalg::lstsq(phi * root, (e.unsqueeze(1) * root), c10::nullopt, c10::nullopt)).squeeze(1);
  net->net->layers.back()->bias.add_(c.to(torch::kFloat32));
  torch::Tensor after =
      target - torch::log(dcr_inclusive_ratio(dcr_coefficients_cache(net, d.x0), d.w0, d.nu_points, order, powers));
  return {e.pow(2).mean().sqrt().item<double>(), after.pow(2).mean().sqrt().item<double>()};
}

torch::Tensor dcr_coefficients_cache(DCRNetwork& net, const torch::Tensor& x, int64_t block) {
  net->eval();
  if (x.size(0) == 0) return torch::zeros({0, net->n_coefficients()}, torch::kFloat64);
  return evaluate_in_blocks(x, block, [&](const torch::Tensor& xb) { return net->forward(xb).to(torch::kFloat64); })
      .contiguous();
}

torch::Tensor dcr_inclusive_ratio(const torch::Tensor& coef, const torch::Tensor& w, const torch::Tensor& nu, int order,
                                  const std::vector<int>& powers) {
  torch::Tensor phi =
      dcr_phi(nu.to(torch::kFloat64).dim() == 1 ? nu.to(torch::kFloat64).unsqueeze(0) : nu.to(torch::kFloat64), order, powers);
  torch::Tensor lr = torch::matmul(coef, phi.t());                 // [N, M]
  torch::Tensor w64 = w.to(torch::kFloat64).unsqueeze(1);
  // log-sum-exp per nu-point keeps large log r finite.
  torch::Tensor log_num = torch::logsumexp(lr + torch::log(w64), 0);
  return torch::exp(log_num - torch::log(w64.sum()));
}

}  // namespace refinery
