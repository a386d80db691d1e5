#include "src/likelihood/likelihood_model.h"

#include "src/likelihood/dcr_ansatz.h"
#include "src/likelihood/mc_statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "src/core/error.h"

namespace refinery::likelihood {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}

int ModelSpec::index(const std::string& name) const {
  for (size_t i = 0; i < parameters.size(); ++i)
    if (parameters[i].name == name) return int(i);
  return -1;
}

std::vector<int> ModelSpec::scaled_by(int parameter) const {
  std::vector<int> out;
  for (const auto& f : factors)
    if (f.parameter == parameter && std::find(out.begin(), out.end(), f.process) == out.end()) out.push_back(f.process);
  return out;
}

Eigen::VectorXd ModelSpec::nominal() const {
  Eigen::VectorXd x(n_params());
  for (int i = 0; i < n_params(); ++i) {
    const Parameter& p = parameters[i];
    x[i] = (p.kind == ParameterKind::kPoi || p.constraint == Constraint::kNone) ? p.init : p.centre;
  }
  return x;
}

void ModelSpec::validate() const {
  if (parameters.empty() || parameters[0].kind != ParameterKind::kPoi)
    throw InputError("model", "parameters", "parameter 0 must be the POI");
  std::vector<int> use(n_params(), 0);  // 1 factor, 2 modifier, 4 calibration
  for (const auto& f : factors) {
    if (f.process < 0 || f.process >= P() || f.parameter < 0 || f.parameter >= n_params())
      throw InputError("model", "factors", "process or parameter index out of range");
    if (parameters[f.parameter].kind == ParameterKind::kCalibration)
      throw InputError("model", parameters[f.parameter].name, "a calibration nuisance cannot be a norm factor");
    if (parameters[f.parameter].lower < 0.0)
      throw InputError("model", parameters[f.parameter].name, "a norm factor multiplies a rate: its lower bound must be >= 0");
    use[f.parameter] |= 1;
  }
  for (const auto& m : modifiers) {
    if (m.process < 0 || m.process >= P() || m.parameter < 0 || m.parameter >= n_params())
      throw InputError("model", "modifiers", "process or parameter index out of range");
    use[m.parameter] |= 2;
  }
  for (int c : calibration) {
    if (c <= 0 || c >= n_params() || parameters[c].kind != ParameterKind::kCalibration)
      throw InputError("model", "calibration", "not a calibration parameter");
    use[c] |= 4;
  }
  if (!calibration_power.empty() && calibration_power.size() != calibration.size())
    throw InputError("model", "calibration_power", "one coordinate per calibration nuisance");
  for (int p : calibration_power)
    if (p != 1 && p != 2 && !has_appended_term(p))
      throw InputError("model", "calibration_power",
                       "the ansatz's coordinate is a nuisance, its square, or a nuisance with a cubic term or a knot");
  if (appended_terms(calibration_power) > 0 && order != 2)
    throw InputError("model", "calibration_power", "a cubic term or a knot needs the quadratic ansatz (order 2)");
  for (int i = 0; i < n_params(); ++i) {
    if ((use[i] & 1) && use[i] != 1)
      throw InputError("model", parameters[i].name, "a norm factor's parameter cannot also be a modifier's or a calibration nuisance");
    if (parameters[i].kind == ParameterKind::kPoi && !(use[i] & 1))
      throw InputError("model", parameters[i].name, "a POI that scales no process");
  }
  for (const auto& p : parameters) {
    if (!(p.lower < p.upper) || p.init < p.lower || p.init > p.upper)
      throw InputError("model", p.name, "bounds must satisfy lower <= init <= upper, lower < upper");
    if (p.constraint != Constraint::kNone && !(p.width > 0.0))
      throw InputError("model", p.name, "constraint width must be positive");
    if (p.constraint == Constraint::kLogNormal && !(p.centre > 0.0 && p.lower >= 0.0))
      throw InputError("model", p.name, "a lognormal constraint needs centre > 0 and lower >= 0");
  }
}

namespace {
bool acts_in(const std::vector<std::string>& regions, const std::string& region) {
  return regions.empty() || std::find(regions.begin(), regions.end(), region) != regions.end();
}
}  // namespace

Cells Cells::build(const torch::Tensor& cell_in, int n_cells, const torch::Tensor& weight_in,
                   const torch::Tensor& coef_in) {
  torch::Tensor cell = cell_in.to(torch::kInt64).contiguous();
  torch::Tensor weight = weight_in.to(torch::kFloat64).contiguous();
  torch::Tensor coef = coef_in.to(torch::kFloat32);
  const int64_t n = cell.numel();
  if (weight.numel() != n || (coef.dim() != 2) || coef.size(0) != n)
    throw InputError("cells", "shape", "cell, weight and coefficient rows differ");
  if (n > 0 && (cell.min().item<int64_t>() < 0 || cell.max().item<int64_t>() >= n_cells))
    throw InputError("cells", "cell", "cell index out of range");
  if (n > 0 && !(weight > 0).all().item<bool>())
    throw InputError("cells", "weight", "simulated weights must be positive");
  torch::Tensor order = std::get<1>(cell.sort(/*stable=*/true, 0, false));
  Cells c;
  c.n_cells = n_cells;
  torch::Tensor counts = torch::bincount(cell, {}, n_cells);
  c.begin.assign(n_cells + 1, 0);
  auto cnt = counts.accessor<int64_t, 1>();
  for (int i = 0; i < n_cells; ++i) c.begin[i + 1] = c.begin[i] + cnt[i];
  torch::Tensor lw = weight.index_select(0, order).log().contiguous();
  torch::Tensor co = coef.index_select(0, order).t().contiguous();  // [C, n]
  c.set_events(std::vector<double>(lw.data_ptr<double>(), lw.data_ptr<double>() + n),
               std::vector<float>(co.data_ptr<float>(), co.data_ptr<float>() + co.numel()));
  return c;
}

void Cells::set_events(std::vector<double> log_weight, std::vector<float> coef) {
  events_ = std::make_shared<const Events>(Events{std::move(log_weight), std::move(coef)});
}

std::shared_ptr<const Cells::Events> Cells::empty_events() {
  static const std::shared_ptr<const Events> empty = std::make_shared<const Events>();
  return empty;
}

Cells Cells::from_events(const torch::Tensor& bin, int n_bins, const torch::Tensor& weight,
                         const torch::Tensor& process, const torch::Tensor& fractions, const torch::Tensor& coef,
                         bool labels, const torch::Tensor& variance_factor) {
  const int64_t P = fractions.size(1);
  Cells c;
  if (labels) {
    torch::Tensor p = process.to(torch::kInt64);
    torch::Tensor own = coef.gather(1, p.view({-1, 1, 1}).expand({-1, 1, coef.size(2)})).squeeze(1);
    c = build(p * n_bins + bin, int(P) * n_bins, weight, own);
  } else {
    std::vector<torch::Tensor> cell, wt, co;
    for (int64_t p = 0; p < P; ++p) {
      cell.push_back(p * n_bins + bin);
      wt.push_back(weight * fractions.select(1, p));
      co.push_back(coef.select(1, p));
    }
    c = build(torch::cat(cell), int(P) * n_bins, torch::cat(wt), torch::cat(co));
  }
  // Each simulated event enters its bin once with weight w, whatever the
  // process it counts for: sum_p w f_p = w.
  torch::Tensor w = weight.to(torch::kFloat64);
  torch::Tensor b = bin.to(torch::kInt64);
  torch::Tensor sw = torch::zeros({n_bins}, torch::kFloat64).index_add(0, b, w);
  torch::Tensor v = w * w;
  if (variance_factor.defined()) {
    if (variance_factor.numel() != w.numel()) throw std::invalid_argument("Cells::from_events: one variance factor per event");
    v = v * variance_factor.to(torch::kFloat64);
  }
  torch::Tensor sw2 = torch::zeros({n_bins}, torch::kFloat64).index_add(0, b, v);
  torch::Tensor rel = torch::where(sw > 0, sw2.sqrt() / sw.clamp_min(1e-300), torch::zeros_like(sw)).contiguous();
  c.rel_error.assign(rel.data_ptr<double>(), rel.data_ptr<double>() + n_bins);
  return c;
}

EventData EventData::build(const torch::Tensor& fractions, const torch::Tensor& coef, const torch::Tensor& weight) {
  EventData d;
  torch::Tensor f = fractions.to(torch::kFloat64);
  d.n = f.size(0);
  if (!(f > 0).all().item<bool>() && d.n > 0)
    throw InputError("events", "fractions", "process fractions must be positive (calibrated fractions are)");
  torch::Tensor lf = f.log().t().contiguous();
  d.log_fraction.assign(lf.data_ptr<double>(), lf.data_ptr<double>() + lf.numel());
  if (coef.defined() && coef.numel() > 0) {
    torch::Tensor co = coef.to(torch::kFloat32).permute({1, 2, 0}).contiguous();  // [P, C, n]
    d.coef.assign(co.data_ptr<float>(), co.data_ptr<float>() + co.numel());
  }
  if (weight.defined() && weight.numel() > 0) {
    torch::Tensor w = weight.to(torch::kFloat64).contiguous();
    if (w.numel() != d.n) throw InputError("events", "weight", "one weight per event");
    d.weight.assign(w.data_ptr<double>(), w.data_ptr<double>() + d.n);
  }
  return d;
}

double EventData::total_weight() const {
  if (weight.empty()) return double(n);
  double s = 0.0, c = 0.0;
  for (double w : weight) {
    const double y = w - c, t = s + y;
    c = (t - s) - y;
    s = t;
  }
  return s;
}

LikelihoodModel::LikelihoodModel(ModelSpec spec) : spec_(std::move(spec)) {
  spec_.validate();
  ansatz_ = Ansatz(int(spec_.calibration.size()), spec_.order, spec_.calibration_power);
}

void LikelihoodModel::add_region(Region region) {
  const int P = spec_.P(), C = ansatz_.C, B = region.n_bins;
  if (B < 1 || region.expected.n_cells != P * B)
    throw InputError(region.name, "expected", "cells do not match processes x bins");
  if (region.mc_stat && int(region.expected.rel_error.size()) != B)
    throw InputError(region.name, "expected", "the simulated-sample statistics need each bin's relative error");
  if (int64_t(region.expected.coef().size()) != int64_t(C) * region.expected.n())
    throw InputError(region.name, "expected", "coefficients do not match the ansatz");
  if (region.binned && int(region.observed.size()) != region.n_bins)
    throw InputError(region.name, "observed", "one count per bin");
  if (!region.binned) {
    if (int64_t(region.events.log_fraction.size()) != int64_t(P) * region.events.n ||
        int64_t(region.events.coef.size()) != int64_t(P) * C * region.events.n)
      throw InputError(region.name, "events", "fractions or coefficients do not match the model");
    const EventData& e = region.events;
    if (B > 1 && int64_t(e.bin.size()) != e.n)
      throw InputError(region.name, "events", "a region of several cells needs each event's cell");
    // The observed events per cell (weighted for Asimov data), Kahan sums.
    std::vector<double> sum(B, 0.0), comp(B, 0.0);
    for (int64_t i = 0; i < e.n; ++i) {
      const int b = B > 1 ? e.bin[i] : 0;
      if (b < 0 || b >= B) throw InputError(region.name, "events", "an event's cell is out of range");
      const double y = (e.weight.empty() ? 1.0 : e.weight[i]) - comp[b], t = sum[b] + y;
      comp[b] = (t - sum[b]) - y;
      sum[b] = t;
    }
    region.observed = sum;
  }
  regions_.push_back(std::move(region));
}

LikelihoodModel::Norms LikelihoodModel::norms(const Eigen::VectorXd& theta, size_t region) const {
  const int P = spec_.P(), D = spec_.n_params();
  const std::string& name = regions_[region].name;
  Norms out;
  out.a.setZero(P);
  out.n.setZero(D, P);
  out.l.setZero(D, P);
  out.zero.assign(P, {});
  for (const auto& f : spec_.factors) {
    if (!acts_in(f.regions, name)) continue;
    const double v = theta[f.parameter];
    if (v == 0.0) {
      out.zero[f.process].push_back(f.parameter);
      continue;
    }
    if (!(v > 0.0)) {
      out.ok = false;
      return out;
    }
    out.a[f.process] += std::log(v);
    out.n(f.parameter, f.process) += 1.0 / v;
    out.l(f.parameter, f.process) += -1.0 / (v * v);
  }
  for (const auto& m : spec_.modifiers) {
    if (!acts_in(m.regions, name)) continue;
    const double v = theta[m.parameter];
    if (m.linear) {
      const double q = 1.0 + m.size * v;
      if (!(q > 0.0)) {
        out.ok = false;
        return out;
      }
      out.a[m.process] += std::log(q);
      out.n(m.parameter, m.process) += m.size / q;
      out.l(m.parameter, m.process) += -(m.size * m.size) / (q * q);
    } else {
      const double lg = std::log1p(m.size);
      out.a[m.process] += v * lg;
      out.n(m.parameter, m.process) += lg;
    }
  }
  return out;
}

namespace {
// Adds N_p * (cell yields) and its derivatives to the value T, gradient gT
// and Hessian hT: N_p = exp(a) (zero empty; np, lp the derivatives of a),
// or N_p = prod_{k in zero} theta_k exp(a) with those theta_k = 0: no value
// and, the factors being linear, derivatives only where each zero factor is
// differentiated once.
void add_yield(double a, const Eigen::VectorXd& np, const Eigen::VectorXd& lp, const std::vector<int>& zero,
               double Y, const double* G, const double* H, const std::vector<int>& cal, int derivatives, double* T,
               Eigen::VectorXd* gT, Eigen::MatrixXd* hT) {
  const int K = int(cal.size());
  const double Np = std::exp(a);
  if (zero.empty()) *T += Np * Y;
  if (derivatives < 1) return;
  Eigen::VectorXd eg = Eigen::VectorXd::Zero(np.size());
  for (int k = 0; k < K; ++k) eg[cal[k]] = G[k];
  if (zero.size() == 1) {
    (*gT)[zero[0]] += Np * Y;
    if (derivatives < 2) return;
    const Eigen::VectorXd d = Np * (Y * np + eg);
    hT->row(zero[0]) += d.transpose();
    hT->col(zero[0]) += d;
    return;
  }
  if (zero.size() == 2) {
    if (derivatives < 2) return;
    (*hT)(zero[0], zero[1]) += Np * Y;
    (*hT)(zero[1], zero[0]) += Np * Y;
    return;
  }
  if (!zero.empty()) return;
  *gT += Np * (Y * np + eg);
  if (derivatives < 2) return;
  Eigen::MatrixXd m = Y * (np * np.transpose());
  m.diagonal() += Y * lp;
  m += np * eg.transpose() + eg * np.transpose();
  for (int a1 = 0; a1 < K; ++a1)
    for (int b1 = 0; b1 < K; ++b1) m(cal[a1], cal[b1]) += H[a1 * K + b1];
  *hT += Np * m;
}
}  // namespace

double LikelihoodModel::evaluate(const Eigen::VectorXd& theta, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const {
  const int D = spec_.n_params(), P = spec_.P(), K = ansatz_.K;
  const int deriv = hess ? 2 : (grad ? 1 : 0);
  if (grad) grad->setZero(D);
  if (hess) hess->setZero(D, D);
  if (theta.size() != D) throw InputError("fit", "theta", "wrong number of parameters");
  for (int i = 0; i < D; ++i)
    if (!std::isfinite(theta[i])) return kInf;
  std::vector<double> nu_cal(K);
  for (int k = 0; k < K; ++k) nu_cal[k] = theta[spec_.calibration[k]];
  const std::vector<int>& cal = spec_.calibration;
  Eigen::VectorXd g = Eigen::VectorXd::Zero(D);
  Eigen::MatrixXd h = Eigen::MatrixXd::Zero(D, D);
  double value = 0.0;
  for (size_t ri = 0; ri < regions_.size(); ++ri) {
    const Region& r = regions_[ri];
    const Norms nm = norms(theta, ri);
    if (!nm.ok) return kInf;
    CellSums cs;
    CellView cv{r.expected.n(), r.expected.n_cells, r.expected.log_weight().data(), r.expected.coef().data(),
                r.expected.begin.data()};
    cell_sums(ansatz_, cv, nu_cal.data(), deriv, &cs);
    // Per bin (binned) or cell (unbinned): the expected count lambda_b, the
    // Poisson term (binned) or its share of the extended term (unbinned),
    // and the simulated-sample statistics.
    for (int b = 0; b < r.n_bins; ++b) {
      double lam = 0.0;
      Eigen::VectorXd gl = Eigen::VectorXd::Zero(D);
      Eigen::MatrixXd hl = Eigen::MatrixXd::Zero(D, D);
      for (int p = 0; p < P; ++p) {
        const int c = p * r.n_bins + b;
        add_yield(nm.a[p], nm.n.col(p), nm.l.col(p), nm.zero[p], cs.Y[c], cs.G.data() + c * K,
                  cs.H.data() + c * K * K, cal, deriv, &lam, &gl, &hl);
      }
      const double obs = r.observed[b];
      if (r.binned && lam > 0.0) {
        value += lam - obs + (obs > 0.0 ? obs * std::log(obs / lam) : 0.0);
        if (deriv >= 1) g += (1.0 - obs / lam) * gl;
        if (deriv >= 2) h += (1.0 - obs / lam) * hl + (obs / (lam * lam)) * (gl * gl.transpose());
      } else {
        if (r.binned && obs > 0.0) return kInf;
        value += lam;
        if (deriv >= 1) g += gl;
        if (deriv >= 2) h += hl;
      }
      const double delta = r.mc_stat ? r.expected.rel_error[b] : 0.0;
      if (delta > 0.0) {
        const McStatisticsBin m = profile_mc_statistics(lam, obs, delta);
        value += m.value;
        if (deriv >= 1) g += m.d1 * gl;
        if (deriv >= 2) h += m.d1 * hl + m.d2 * (gl * gl.transpose());
      }
    }
    if (r.binned) continue;
    // The data term. A process whose rate is 0 (a norm factor at 0) is left
    // out of R; its responsibilities give the derivatives in that factor:
    // its direction dn is the factor's unit vector instead of n(:, p).
    std::vector<unsigned char> in_rate(P, 1);
    Eigen::MatrixXd dn = nm.n;
    bool any_rate = false;
    for (int p = 0; p < P; ++p) {
      in_rate[p] = nm.zero[p].empty();
      any_rate = any_rate || in_rate[p];
      if (in_rate[p]) continue;
      dn.col(p).setZero();
      if (nm.zero[p].size() == 1) dn(nm.zero[p][0], p) = 1.0;
    }
    if (!any_rate) {
      if (r.events.total_weight() > 0.0) return kInf;
      continue;
    }
    DataSums ds;
    DataView dv{r.events.n, P, r.events.weight.empty() ? nullptr : r.events.weight.data(),
                r.events.log_fraction.data(), r.events.coef.data(), in_rate.data()};
    std::vector<double> an(nm.a.data(), nm.a.data() + P);
    data_sums(ansatz_, dv, nu_cal.data(), an.data(), deriv, &ds);
    if (!std::isfinite(ds.nll)) return kInf;
    value += ds.nll;
    if (deriv >= 1) {
      Eigen::VectorXd gd = Eigen::VectorXd::Zero(D);
      for (int p = 0; p < P; ++p) {
        gd += ds.U[p] * dn.col(p);
        if (in_rate[p])
          for (int k = 0; k < K; ++k) gd[cal[k]] += ds.W[p * K + k];
      }
      g -= gd;
    }
    if (deriv >= 2) {
      Eigen::MatrixXd hd = Eigen::MatrixXd::Zero(D, D);
      Eigen::MatrixXd EW = Eigen::MatrixXd::Zero(D, P);  // column p: E W_p
      Eigen::MatrixXd EUV = Eigen::MatrixXd::Zero(D, P); // column p: E UV_p
      for (int p = 0; p < P; ++p)
        for (int k = 0; k < K; ++k) {
          EW(cal[k], p) = ds.W[p * K + k];
          EUV(cal[k], p) = ds.UV[p * K + k];
        }
      Eigen::Map<const Eigen::MatrixXd> UU(ds.UU.data(), P, P);
      for (int p = 0; p < P; ++p) {
        const auto& zero = nm.zero[p];
        if (zero.empty()) {
          hd += ds.U[p] * (dn.col(p) * dn.col(p).transpose());
          hd.diagonal() += ds.U[p] * nm.l.col(p);
        } else if (zero.size() == 1) {
          hd += ds.U[p] * (dn.col(p) * nm.n.col(p).transpose() + nm.n.col(p) * dn.col(p).transpose());
        } else if (zero.size() == 2) {
          hd(zero[0], zero[1]) += ds.U[p];
          hd(zero[1], zero[0]) += ds.U[p];
        }
        if (zero.size() <= 1) hd += dn.col(p) * EW.col(p).transpose() + EW.col(p) * dn.col(p).transpose();
      }
      for (int a1 = 0; a1 < K; ++a1)
        for (int b1 = 0; b1 < K; ++b1) hd(cal[a1], cal[b1]) += ds.S[a1 * K + b1] - ds.VV[a1 * K + b1];
      hd -= dn * UU * dn.transpose();
      hd -= dn * EUV.transpose() + EUV * dn.transpose();
      h -= hd;
    }
  }
  if (!std::isfinite(value)) return kInf;
  if (grad) *grad = g;
  if (hess) *hess = h;
  return value;
}

std::vector<std::vector<std::vector<double>>> LikelihoodModel::expected_per_process(const Eigen::VectorXd& theta) const {
  const int K = ansatz_.K, P = spec_.P();
  std::vector<double> nu_cal(K);
  for (int k = 0; k < K; ++k) nu_cal[k] = theta[spec_.calibration[k]];
  std::vector<std::vector<std::vector<double>>> out;
  for (size_t ri = 0; ri < regions_.size(); ++ri) {
    const Region& r = regions_[ri];
    const Norms nm = norms(theta, ri);
    CellSums cs;
    CellView cv{r.expected.n(), r.expected.n_cells, r.expected.log_weight().data(), r.expected.coef().data(),
                r.expected.begin.data()};
    cell_sums(ansatz_, cv, nu_cal.data(), 0, &cs);
    std::vector<std::vector<double>> y(P, std::vector<double>(r.n_bins, 0.0));
    for (int c = 0; c < r.expected.n_cells; ++c) {
      const int p = c / r.n_bins;
      y[p][c % r.n_bins] += !nm.ok ? NAN : nm.zero[p].empty() ? std::exp(nm.a[p]) * cs.Y[c] : 0.0;
    }
    out.push_back(std::move(y));
  }
  return out;
}

std::vector<std::vector<double>> LikelihoodModel::expected(const Eigen::VectorXd& theta) const {
  std::vector<std::vector<double>> out;
  const auto per_process = expected_per_process(theta);
  for (size_t r = 0; r < per_process.size(); ++r) {
    // An unbinned region: one total over its cells.
    const bool binned = regions_[r].binned;
    std::vector<double> y(binned ? per_process[r].front().size() : 1, 0.0);
    for (const auto& process : per_process[r])
      for (size_t b = 0; b < process.size(); ++b) y[binned ? b : 0] += process[b];
    out.push_back(std::move(y));
  }
  return out;
}

// ---------------------------------------------------------------------------
// The likelihood in LibTorch operations.
namespace terms {

Norms norms(const ModelSpec& spec, const torch::Tensor& theta, const std::string& region) {
  auto opt = torch::TensorOptions().dtype(torch::kFloat64);
  std::vector<torch::Tensor> factor(spec.P(), torch::ones({}, opt)), log_rate(spec.P(), torch::zeros({}, opt));
  for (const auto& f : spec.factors)
    if (acts_in(f.regions, region)) factor[f.process] = factor[f.process] * theta[f.parameter];
  for (const auto& m : spec.modifiers)
    if (acts_in(m.regions, region))
      log_rate[m.process] = log_rate[m.process] + (m.linear ? torch::log1p(m.size * theta[m.parameter])
                                                            : theta[m.parameter] * std::log1p(m.size));
  return {torch::stack(factor), torch::stack(log_rate)};
}

torch::Tensor phi(const ModelSpec& spec, const torch::Tensor& theta) {
  if (spec.calibration.empty()) return torch::zeros({0}, torch::kFloat64);
  const torch::Tensor index = torch::tensor(std::vector<int64_t>(spec.calibration.begin(), spec.calibration.end()));
  return dcr_ansatz(theta.index_select(0, index), spec.order, spec.calibration_power);
}

torch::Tensor cell_yields(const ModelSpec& spec, const torch::Tensor& theta, const torch::Tensor& log_weight,
                          const torch::Tensor& coef, const torch::Tensor& cell, int64_t n_cells) {
  torch::Tensor z = log_weight.to(torch::kFloat64);
  if (coef.numel() > 0) z = z + torch::matmul(coef.to(torch::kFloat64), phi(spec, theta));
  return torch::zeros({n_cells}, torch::kFloat64).index_add(0, cell, z.exp());
}

torch::Tensor log_ratio(const ModelSpec& spec, const torch::Tensor& theta, const std::string& region,
                        const torch::Tensor& log_fraction, const torch::Tensor& coef) {
  const Norms nm = norms(spec, theta, region);
  torch::Tensor z = log_fraction.to(torch::kFloat64) + nm.log_rate.unsqueeze(0);
  if (coef.defined() && coef.numel() > 0) z = z + torch::einsum("npc,c->np", {coef.to(torch::kFloat64), phi(spec, theta)});
  // log sum_p factor_p exp(z_p), the factors linear (some may be 0).
  torch::Tensor zmax = std::get<0>(z.max(1, /*keepdim=*/true)).detach();
  return zmax.squeeze(1) + ((z - zmax).exp() * nm.factor.unsqueeze(0)).sum(1).log();
}

torch::Tensor unbinned(const ModelSpec& spec, const torch::Tensor& theta, const std::string& region,
                       const torch::Tensor& yields, const torch::Tensor& log_fraction, const torch::Tensor& coef,
                       const torch::Tensor& weight) {
  torch::Tensor logR = log_ratio(spec, theta, region, log_fraction, coef);
  torch::Tensor data = weight.defined() ? (weight.to(torch::kFloat64) * logR).sum() : logR.sum();
  return (norms(spec, theta, region).norm() * yields).sum() - data;
}

torch::Tensor bin_counts(const ModelSpec& spec, const torch::Tensor& theta, const std::string& region,
                         const torch::Tensor& yields, int64_t B) {
  return (norms(spec, theta, region).norm().unsqueeze(1) * yields.view({spec.P(), B})).sum(0);
}

torch::Tensor binned(const ModelSpec& spec, const torch::Tensor& theta, const std::string& region,
                     const torch::Tensor& yields, const torch::Tensor& observed) {
  torch::Tensor lam = bin_counts(spec, theta, region, yields, observed.numel());
  torch::Tensor obs = observed.to(torch::kFloat64);
  torch::Tensor pos = obs > 0;
  torch::Tensor safe = torch::where(pos, obs, torch::ones_like(obs));
  return (lam - obs + torch::where(pos, obs * torch::log(safe / lam), torch::zeros_like(obs))).sum();
}

}  // namespace terms

torch::Tensor LikelihoodModel::nll_torch(const torch::Tensor& theta_in) const {
  const int P = spec_.P(), C = ansatz_.C;
  torch::Tensor theta = theta_in.to(torch::kFloat64);
  auto opt = torch::TensorOptions().dtype(torch::kFloat64);
  auto yields_of = [&](const Cells& c) {
    const int64_t n = c.n();
    torch::Tensor lw = torch::from_blob(const_cast<double*>(c.log_weight().data()), {n}, opt);
    torch::Tensor co = C > 0 ? torch::from_blob(const_cast<float*>(c.coef().data()), {C, n}, torch::kFloat32).t()
                             : torch::zeros({n, 0});
    std::vector<int64_t> id(n);
    for (int cell = 0; cell < c.n_cells; ++cell)
      for (int64_t i = c.begin[cell]; i < c.begin[cell + 1]; ++i) id[i] = cell;
    return terms::cell_yields(spec_, theta, lw, co, torch::tensor(id, torch::kInt64), c.n_cells);
  };
  torch::Tensor total = torch::zeros({}, torch::kFloat64);
  for (const Region& r : regions_) {
    torch::Tensor y = yields_of(r.expected);
    const torch::Tensor observed = torch::tensor(r.observed, opt);
    if (r.mc_stat)
      total = total + mc_statistics(terms::bin_counts(spec_, theta, r.name, y, r.n_bins), observed,
                                    torch::tensor(r.expected.rel_error, opt));
    if (!r.binned) {
      const int64_t n = r.events.n;
      torch::Tensor lf = torch::from_blob(const_cast<double*>(r.events.log_fraction.data()), {P, n}, opt).t();
      torch::Tensor co = C > 0 ? torch::from_blob(const_cast<float*>(r.events.coef.data()), {P, C, n}, torch::kFloat32)
                                     .permute({2, 0, 1})
                               : torch::Tensor();
      torch::Tensor w = r.events.weight.empty()
                            ? torch::Tensor()
                            : torch::from_blob(const_cast<double*>(r.events.weight.data()), {n}, opt);
      total = total + terms::unbinned(spec_, theta, r.name, y.view({P, r.n_bins}).sum(1), lf, co, w);
    } else {
      total = total + terms::binned(spec_, theta, r.name, y, observed);
    }
  }
  return total;
}

namespace {
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

Eigen::VectorXd to_eigen(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kFloat64).contiguous();
  return Eigen::Map<const Eigen::VectorXd>(c.data_ptr<double>(), c.numel());
}

struct FusedGrad : public torch::autograd::Function<FusedGrad> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor theta, int64_t model) {
    ctx->save_for_backward({theta});
    ctx->saved_data["model"] = model;
    Eigen::VectorXd g;
    reinterpret_cast<const LikelihoodModel*>(model)->evaluate(to_eigen(theta), &g, nullptr);
    return torch::from_blob(g.data(), {g.size()}, torch::kFloat64).clone();
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    torch::Tensor theta = ctx->get_saved_variables()[0];
    const auto* m = reinterpret_cast<const LikelihoodModel*>(ctx->saved_data["model"].toInt());
    Eigen::VectorXd g;
    Eigen::MatrixXd h;
    m->evaluate(to_eigen(theta), &g, &h);
    torch::Tensor ht = torch::from_blob(h.data(), {h.rows(), h.cols()}, torch::kFloat64).clone();
    return {torch::mv(ht, grad_out[0]), torch::Tensor()};
  }
};

struct FusedNLL : public torch::autograd::Function<FusedNLL> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor theta, int64_t model) {
    ctx->save_for_backward({theta});
    ctx->saved_data["model"] = model;
    return torch::tensor(reinterpret_cast<const LikelihoodModel*>(model)->evaluate(to_eigen(theta)), torch::kFloat64);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    torch::Tensor theta = ctx->get_saved_variables()[0];
    return {FusedGrad::apply(theta, ctx->saved_data["model"].toInt()) * grad_out[0], torch::Tensor()};
  }
};
}  // namespace

torch::Tensor LikelihoodModel::nll_autograd(const torch::Tensor& theta) const {
  return FusedNLL::apply(theta.to(torch::kFloat64), reinterpret_cast<int64_t>(this));
}

}  // namespace refinery::likelihood
