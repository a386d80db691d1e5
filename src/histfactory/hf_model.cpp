#include "src/histfactory/hf_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "src/core/error.h"

namespace refinery::histfactory {

namespace {

bool per_bin(const std::string& type) {
  return type == "staterror" || type == "shapesys" || type == "shapefactor";
}

}  // namespace

HistFactoryModel::HistFactoryModel(const Workspace& ws, const std::string& measurement_name,
                                   InterpOptions interp)
    : file_(ws.file), interp_(interp) {
  const Measurement& meas = ws.measurement(measurement_name);
  // --- parameter order (pyhf): modifier types sorted; within a type, first
  // appearance over channels sorted by name, sample names sorted, modifiers
  // sorted by name.
  std::set<std::string> types;
  std::set<std::string> sample_names;
  for (const auto& ch : ws.channels)
    for (const auto& s : ch.samples) {
      sample_names.insert(s.name);
      for (const auto& m : s.modifiers) types.insert(m.type);
    }
  std::vector<const Channel*> channels;
  for (const auto& ch : ws.channels) channels.push_back(&ch);
  std::sort(channels.begin(), channels.end(), [](auto* a, auto* b) { return a->name < b->name; });
  std::map<std::string, int> first_param;  // modifier name -> index of its (first) parameter
  std::map<std::string, std::string> name_type;
  for (const auto& type : types)
    for (const Channel* ch : channels)
      for (const auto& sname : sample_names)
        for (const auto& s : ch->samples) {
          if (s.name != sname) continue;
          std::vector<const Modifier*> mods;
          for (const auto& m : s.modifiers) mods.push_back(&m);
          std::stable_sort(mods.begin(), mods.end(), [](auto* a, auto* b) { return a->name < b->name; });
          for (const Modifier* m : mods) {
            if (m->type != type) continue;
            if (first_param.count(m->name)) {
              // A per-bin modifier shared by channels needs one parameter per
              // bin in each: pyhf refuses different bin counts, so do we.
              const int first = first_param[m->name];
              size_t have = 0;
              while (first + have < params_.size() && params_[first + have].name.rfind(m->name + "[", 0) == 0) ++have;
              if (per_bin(type) && have != ch->bins())
                throw InputError(file_, "/channels (" + ch->name + "/" + s.name + ")/modifiers (" + m->name + ")",
                                 type + " modifier '" + m->name + "' acts on " + std::to_string(ch->bins()) +
                                     " bins here but on " + std::to_string(have) + " bins in another channel");
              continue;
            }
            first_param[m->name] = static_cast<int>(params_.size());
            name_type[m->name] = type;
            const size_t n = per_bin(type) ? ch->bins() : 1;
            for (size_t b = 0; b < n; ++b) {
              Parameter p;
              p.name = per_bin(type) ? m->name + "[" + std::to_string(b) + "]" : m->name;
              p.type = type;
              if (type == "normfactor" || type == "shapefactor") p.init = 1, p.lower = 0, p.upper = 10;
              else if (type == "staterror" || type == "shapesys") p.init = 1, p.lower = 1e-10, p.upper = 10;
              else if (type == "lumi") p.init = 1, p.lower = 0, p.upper = 10;
              params_.push_back(p);
            }
          }
        }
  // A name used with incompatible types (e.g. normfactor and normsys) would
  // need two parameters; pyhf rejects it, so do we.
  for (const auto& ch : ws.channels)
    for (const auto& s : ch.samples)
      for (const auto& m : s.modifiers) {
        const std::string& t = name_type[m.name];
        bool ok = t == m.type || ((t == "normsys" || t == "histosys") && (m.type == "normsys" || m.type == "histosys"));
        if (!ok)
          throw InputError(file_, "/channels (" + ch.name + "/" + s.name + ")",
                           "modifier '" + m.name + "' used as both " + t + " and " + m.type);
      }

  // --- measurement config: inits, bounds, fixed, auxdata, sigmas.
  std::map<std::string, const ParameterConfig*> config;
  notes_ = ws.notes;
  for (const auto& pc : meas.parameters) {
    if (!first_param.count(pc.name)) {
      // pyhf ignores the configuration of a parameter no modifier defines.
      notes_.push_back("measurement '" + meas.name + "': the configuration of parameter '" + pc.name +
                       "' is ignored (no modifier defines it)");
      continue;
    }
    config[pc.name] = &pc;
    const int first = first_param[pc.name];
    size_t count = 1;
    if (per_bin(name_type[pc.name])) {
      count = 0;
      while (first + count < params_.size() && params_[first + count].name.rfind(pc.name + "[", 0) == 0) ++count;
    }
    auto check = [&](size_t got, const char* key) {
      if (got != 0 && got != count)
        throw InputError(file_, "/measurements (" + meas.name + ")/config/parameters (" + pc.name + ")/" + key,
                         "has " + std::to_string(got) + " entries for " + std::to_string(count) + " parameters");
    };
    check(pc.inits.size(), "inits");
    check(pc.bounds.size(), "bounds");
    for (size_t k = 0; k < count; ++k) {
      Parameter& p = params_[first + k];
      if (!pc.inits.empty()) p.init = pc.inits[k];
      if (!pc.bounds.empty()) p.lower = pc.bounds[k].first, p.upper = pc.bounds[k].second;
      if (pc.fixed) p.fixed = *pc.fixed;
    }
  }
  poi_name_ = meas.poi;
  poi_path_ = "/measurements (" + meas.name + ")/config/poi";
  if (first_param.count(meas.poi)) {
    poi_ = first_param[meas.poi];
  } else {
    notes_.push_back("POI '" + meas.poi + "' is not defined by any modifier (a background-only workspace): "
                     "fits run without a POI; hypothesis tests and limits need one");
  }

  // --- constraints. Order of the auxiliary data: Gaussian terms in
  // parameter order, then Poisson terms.
  std::vector<double> gauss_aux, pois_aux;
  std::set<int> constrained;
  // staterror: relative uncertainty per bin over all samples carrying it.
  std::map<int, std::pair<double, double>> stat;  // param -> (sum err^2, sum nominal)
  std::map<int, double> shapesys_tau;
  for (const auto& ch : ws.channels)
    for (const auto& s : ch.samples)
      for (const auto& m : s.modifiers) {
        const int first = first_param[m.name];
        if (m.type == "staterror")
          for (size_t b = 0; b < ch.bins(); ++b) {
            stat[first + b].first += m.data[b] * m.data[b];
            stat[first + b].second += s.data[b];
          }
        if (m.type == "shapesys")
          for (size_t b = 0; b < ch.bins(); ++b)
            shapesys_tau[first + b] = m.data[b] > 0 && s.data[b] > 0
                                          ? (s.data[b] / m.data[b]) * (s.data[b] / m.data[b])
                                          : 0.0;
      }
  for (int i = 0; i < static_cast<int>(params_.size()); ++i) {
    Parameter& p = params_[i];
    if (p.type == "normsys" || p.type == "histosys") {
      gauss_.push_back({i, 1.0});
      gauss_aux.push_back(0.0);
    } else if (p.type == "lumi") {
      auto it = config.find(p.name);
      if (it == config.end() || it->second->auxdata.empty() || it->second->sigmas.empty())
        throw InputError(file_, "/measurements (" + meas.name + ")/config/parameters",
                         "lumi parameter '" + p.name + "' needs auxdata and sigmas");
      if (!(it->second->sigmas[0] > 0))
        throw InputError(file_, "/measurements (" + meas.name + ")/config/parameters (" + p.name + ")/sigmas",
                         "the luminosity uncertainty must be > 0");
      gauss_.push_back({i, it->second->sigmas[0]});
      gauss_aux.push_back(it->second->auxdata[0]);
      if (it->second->inits.empty()) p.init = it->second->auxdata[0];
    } else if (p.type == "staterror") {
      auto [err2, nom] = stat[i];
      if (err2 > 0 && nom > 0) {
        gauss_.push_back({i, std::sqrt(err2) / nom});
        gauss_aux.push_back(1.0);
      } else {
        p.fixed = true;  // no uncertainty in this bin: gamma stays at 1
        p.init = 1.0;
      }
    } else if (p.type == "shapesys") {
      if (shapesys_tau[i] > 0) {
        pois_.push_back({i, shapesys_tau[i]});
        pois_aux.push_back(shapesys_tau[i]);
      } else {
        p.fixed = true;
        p.init = 1.0;
      }
    }
  }
  observed_.aux.resize(gauss_aux.size() + pois_aux.size());
  for (size_t k = 0; k < gauss_aux.size(); ++k) observed_.aux[k] = gauss_aux[k];
  for (size_t k = 0; k < pois_aux.size(); ++k) observed_.aux[gauss_aux.size() + k] = pois_aux[k];

  // --- sample-bin terms, bins in workspace channel order.
  std::set<int> multimodal, kinked;
  int offset = 0;
  std::vector<double> main;
  for (const auto& ch : ws.channels) {
    channel_names_.push_back(ch.name);
    sample_count_ += ch.samples.size();
    for (const auto& s : ch.samples) {
      samples_.push_back({static_cast<int>(channel_names_.size()) - 1, offset, static_cast<int>(ch.bins()), s.name});
      for (size_t b = 0; b < ch.bins(); ++b) {
        SampleBin t;
        t.sample = static_cast<int>(samples_.size()) - 1;
        t.bin = offset + static_cast<int>(b);
        t.nominal = s.data[b];
        for (const auto& m : s.modifiers) {
          const int first = first_param[m.name];
          // Same-side variations with the piecewise interpolations (code0,
          // code1) give a V-shaped yield: a minimum on each side is common
          // (stau code1: the probes lower twice the NLL by 0.06-0.08). With
          // the smooth code4/code4p the published points need no probes, and
          // they would cost 5-10x in time.
          const bool same_side =
              m.type == "histosys" ? interp_.histosys == HistosysCode::kCode0 &&
                                         (m.hi_data[b] - s.data[b]) * (s.data[b] - m.lo_data[b]) < 0
              : m.type == "normsys" ? interp_.normsys == NormsysCode::kCode1 && (m.hi - 1.0) * (1.0 - m.lo) < 0
                                    : false;
          if (same_side) multimodal.insert(first);
          // code1: d/dalpha at 0 is log(hi) from above, -log(lo) from below;
          // code0: hi - nominal from above, nominal - lo from below.
          const bool kink = m.type == "histosys" ? interp_.histosys == HistosysCode::kCode0 &&
                                                       (m.hi_data[b] - s.data[b]) != (s.data[b] - m.lo_data[b])
                            : m.type == "normsys" ? interp_.normsys == NormsysCode::kCode1 &&
                                                        std::abs(std::log(m.hi) + std::log(m.lo)) > 1e-15
                                                  : false;
          if (kink) kinked.insert(first);
          if (m.type == "histosys") {
            t.deltas.push_back({first, m.hi_data[b] - s.data[b], s.data[b] - m.lo_data[b]});
          } else if (m.type == "normsys") {
            Factor f{first, Factor::kNormsys, m.hi, m.lo, {}};
            if (interp_.normsys == NormsysCode::kCode4) f.code4 = code4_coefficients(m.hi, m.lo);
            t.factors.push_back(f);
          } else {
            t.factors.push_back({first + (per_bin(m.type) ? static_cast<int>(b) : 0), Factor::kLinear});
          }
        }
        terms_.push_back(std::move(t));
      }
    }
    const auto& obs = ws.observation(ch.name);
    main.insert(main.end(), obs.begin(), obs.end());
    offset += static_cast<int>(ch.bins());
  }
  std::stable_sort(terms_.begin(), terms_.end(), [](const SampleBin& a, const SampleBin& b) { return a.bin < b.bin; });
  multimodal_.assign(multimodal.begin(), multimodal.end());
  kinked_.assign(kinked.begin(), kinked.end());
  observed_.main = Eigen::Map<Eigen::VectorXd>(main.data(), main.size());
  // The likelihood must be defined at the initial parameters: a bin expected
  // below zero, or empty while events are observed in it, has none.
  const Eigen::VectorXd start = expected_main(init());
  int first_bin = 0;
  for (const auto& ch : ws.channels) {
    for (size_t b = 0; b < ch.bins(); ++b) {
      const double e = start[first_bin + static_cast<int>(b)], n = observed_.main[first_bin + static_cast<int>(b)];
      if (!std::isfinite(e) || e < 0 || (e == 0 && n > 0))
        throw InputError(file_, "/channels (" + ch.name + ")/bin " + std::to_string(b),
                         "the expected count at the initial parameters is " + std::to_string(e) + " with " +
                             std::to_string(n) + " observed: the Poisson likelihood is not defined there");
    }
    first_bin += static_cast<int>(ch.bins());
  }
}

int HistFactoryModel::require_poi() const {
  if (poi_ < 0)
    throw InputError(file_, poi_path_, "POI '" + poi_name_ + "' is not defined by any modifier "
                                       "(a background-only workspace needs a signal patch)");
  return poi_;
}

std::vector<std::string> HistFactoryModel::parameter_names() const {
  std::vector<std::string> names;
  for (const auto& p : params_) names.push_back(p.name);
  return names;
}

int HistFactoryModel::parameter_index(const std::string& name) const {
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].name == name) return static_cast<int>(i);
  return -1;
}

Eigen::VectorXd HistFactoryModel::init() const {
  Eigen::VectorXd x(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) x[i] = params_[i].init;
  return x;
}
Eigen::VectorXd HistFactoryModel::lower() const {
  Eigen::VectorXd x(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) x[i] = params_[i].lower;
  return x;
}
Eigen::VectorXd HistFactoryModel::upper() const {
  Eigen::VectorXd x(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) x[i] = params_[i].upper;
  return x;
}
void HistFactoryModel::set_bounds(int index, double lo, double hi) {
  Parameter& p = params_.at(index);
  if (!(lo < hi)) throw InputError(file_, p.name, "bounds need LO < HI");
  p.lower = lo;
  p.upper = hi;
  p.init = std::clamp(p.init, lo, hi);
}

std::vector<bool> HistFactoryModel::fixed() const {
  std::vector<bool> f;
  for (const auto& p : params_) f.push_back(p.fixed);
  return f;
}

double HistFactoryModel::sample_bin(const SampleBin& t, const Eigen::VectorXd& x) const {
  double A = t.nominal;
  for (const auto& d : t.deltas) A += histosys(interp_.histosys, x[d.param], d.up, d.down).value;
  double nu = A;
  for (const auto& f : t.factors)
    nu *= f.kind == Factor::kLinear ? x[f.param] : normsys(interp_.normsys, x[f.param], f.hi, f.lo, f.code4).value;
  return nu;
}

Eigen::VectorXd HistFactoryModel::expected_main(const Eigen::VectorXd& x) const {
  Eigen::VectorXd nu = Eigen::VectorXd::Zero(observed_.main.size());
  for (const auto& t : terms_) {
    nu[t.bin] += sample_bin(t, x);
  }
  return nu;
}

std::vector<HistFactoryModel::SampleYields> HistFactoryModel::expected_per_sample(const Eigen::VectorXd& x) const {
  std::vector<SampleYields> out;
  for (const auto& s : samples_) out.push_back({channel_names_[s.channel], s.name, Eigen::VectorXd::Zero(s.bins)});
  for (const auto& t : terms_) {
    out[t.sample].bins[t.bin - samples_[t.sample].first_bin] += sample_bin(t, x);
  }
  return out;
}

Data HistFactoryModel::expected_data(const Eigen::VectorXd& x) const {
  Data d;
  d.main = expected_main(x);
  d.aux.resize(gauss_.size() + pois_.size());
  for (size_t k = 0; k < gauss_.size(); ++k) d.aux[k] = x[gauss_[k].param];
  for (size_t k = 0; k < pois_.size(); ++k) d.aux[gauss_.size() + k] = x[pois_[k].param] * pois_[k].tau;
  return d;
}

double HistFactoryModel::nll(const Eigen::VectorXd& x, const Data& data, Eigen::VectorXd* grad,
                             Eigen::MatrixXd* hess) const {
  double total = main_nll(x, data.main, grad, hess);
  if (!std::isfinite(total)) return std::numeric_limits<double>::infinity();
  const std::vector<ConstraintTerm> terms = constraint_terms();
  for (size_t k = 0; k < terms.size(); ++k) {
    const int p = terms[k].param;
    const stats::ConstraintTerm t = stats::constraint_nll(terms[k].kind, x[p], data.aux[k], terms[k].width);
    if (!std::isfinite(t.value)) return std::numeric_limits<double>::infinity();
    total += t.value;
    if (grad) (*grad)[p] += t.d1;
    if (hess) (*hess)(p, p) += t.d2;
  }
  return total;
}

std::vector<HistFactoryModel::ConstraintTerm> HistFactoryModel::constraint_terms() const {
  std::vector<ConstraintTerm> out;
  for (const auto& g : gauss_) out.push_back({g.param, stats::Constraint::kGaussian, g.sigma});
  for (const auto& p : pois_) out.push_back({p.param, stats::Constraint::kPoisson, p.tau});
  return out;
}

namespace {

// Adds -log Poisson(n | nu) to *total; false where it is undefined. For
// n = 0 the term is nu, defined for nu >= 0 (an empty bin expected and
// observed empty, as pyhf's xlogy gives it).
bool add_poisson(double n, double nu, double* total) {
  if (n == 0.0 ? !(nu >= 0.0) : !(nu > 0.0)) return false;
  *total += n == 0.0 ? nu : nu - n * std::log(nu) + std::lgamma(n + 1.0);
  return true;
}

}  // namespace

double HistFactoryModel::main_nll(const Eigen::VectorXd& x, const Eigen::VectorXd& main, Eigen::VectorXd* grad,
                                  Eigen::MatrixXd* hess) const {
  const int P = static_cast<int>(params_.size());
  if (!grad) {
    double total = 0.0;
    size_t i = 0;
    while (i < terms_.size()) {
      const int bin = terms_[i].bin;
      double nu = 0.0;
      for (; i < terms_.size() && terms_[i].bin == bin; ++i) nu += sample_bin(terms_[i], x);
      if (!add_poisson(main[bin], nu, &total)) return std::numeric_limits<double>::infinity();
    }
    return total;
  }
  grad->setZero(P);
  if (hess) hess->setZero(P, P);
  // Per sample-bin nu = F_0 F_1 ... F_m with F_0 = A = nominal + sum of the
  // histosys deltas and F_k the factors. A bin's terms are evaluated once
  // (pass 1: each factor's value and derivatives, kept in `f`; each delta's
  // in `d`), then, with the bin's Poisson weights w1 = dP/dnu and
  // w2 = d2P/dnu2 known, their derivatives go straight into the gradient
  // and the dense Hessian (pass 2). The products of all factors but one or
  // two come from prefix and suffix products, never from a division, so a
  // factor at zero (a normfactor at 0) is exact.
  double total = 0.0;
  std::vector<Interp> f, d;              // the bin's factors (index 0 of each term: A) and deltas
  std::vector<size_t> f_first, d_first;  // per term of the bin: where its entries start
  std::vector<double> prefix, suffix;
  Eigen::VectorXd gb = Eigen::VectorXd::Zero(P);  // the bin's d nu / d theta
  std::vector<int> touched;
  std::vector<char> is_touched(P, 0);
  auto touch = [&](int p, double v) {
    if (!is_touched[p]) touched.push_back(p), is_touched[p] = 1;
    gb[p] += v;
  };
  size_t i = 0;
  while (i < terms_.size()) {
    const int bin = terms_[i].bin;
    const size_t first = i;
    double nu = 0.0;
    f.clear(), d.clear(), f_first.clear(), d_first.clear();
    for (; i < terms_.size() && terms_[i].bin == bin; ++i) {
      const SampleBin& t = terms_[i];
      f_first.push_back(f.size());
      d_first.push_back(d.size());
      double A = t.nominal;
      for (const auto& delta : t.deltas) {
        d.push_back(histosys(interp_.histosys, x[delta.param], delta.up, delta.down));
        A += d.back().value;
      }
      f.push_back({A, 1.0, 0.0});
      double v = A;
      for (const auto& factor : t.factors) {
        f.push_back(factor.kind == Factor::kLinear ? Interp{x[factor.param], 1.0, 0.0}
                                                   : normsys(interp_.normsys, x[factor.param], factor.hi, factor.lo, factor.code4));
        v *= f.back().value;
      }
      nu += v;
    }
    const double n = main[bin];
    if (!add_poisson(n, nu, &total)) return std::numeric_limits<double>::infinity();
    const double w1 = n == 0.0 ? 1.0 : 1.0 - n / nu, w2 = n == 0.0 ? 0.0 : n / (nu * nu);
    for (size_t s = first; s < i; ++s) {
      const SampleBin& t = terms_[s];
      const Interp* F = f.data() + f_first[s - first];
      const Interp* D = d.data() + d_first[s - first];
      const size_t m = t.factors.size() + 1, nd = t.deltas.size();
      prefix.assign(m + 1, 1.0);
      suffix.assign(m + 1, 1.0);
      for (size_t k = 0; k < m; ++k) prefix[k + 1] = prefix[k] * F[k].value;
      for (size_t k = m; k-- > 0;) suffix[k] = suffix[k + 1] * F[k].value;
      // First derivatives: d nu / d theta = dF * product of the others.
      const double others0 = suffix[1];
      for (size_t h = 0; h < nd; ++h) touch(t.deltas[h].param, D[h].d1 * others0);
      for (size_t k = 1; k < m; ++k) touch(t.factors[k - 1].param, F[k].d1 * prefix[k] * suffix[k + 1]);
      if (!hess) continue;
      Eigen::MatrixXd& H = *hess;
      // Second derivatives, times w1: each factor's own, then pairs of
      // distinct factors (A's deltas pair with every other factor).
      for (size_t h = 0; h < nd; ++h)
        if (D[h].d2 != 0.0) H(t.deltas[h].param, t.deltas[h].param) += w1 * D[h].d2 * others0;
      for (size_t k = 1; k < m; ++k)
        if (F[k].d2 != 0.0) {
          const int p = t.factors[k - 1].param;
          H(p, p) += w1 * F[k].d2 * prefix[k] * suffix[k + 1];
        }
      for (size_t a = 0; a < m; ++a) {
        double mid = 1.0;  // product of the factors strictly between a and b
        for (size_t b = a + 1; b < m; ++b) {
          const double rest = w1 * prefix[a] * mid * suffix[b + 1];
          const int pb = t.factors[b - 1].param;
          if (a == 0) {
            for (size_t h = 0; h < nd; ++h) {
              const double val = D[h].d1 * F[b].d1 * rest;
              H(t.deltas[h].param, pb) += val;
              H(pb, t.deltas[h].param) += val;
            }
          } else {
            const int pa = t.factors[a - 1].param;
            const double val = F[a].d1 * F[b].d1 * rest;
            H(pa, pb) += val;
            H(pb, pa) += val;
          }
          mid *= F[b].value;
        }
      }
    }
    for (int p : touched) (*grad)[p] += w1 * gb[p];
    if (hess)
      for (int a : touched)
        for (int b : touched) (*hess)(a, b) += w2 * gb[a] * gb[b];
    for (int p : touched) gb[p] = 0.0, is_touched[p] = 0;
    touched.clear();
  }
  return total;
}

}  // namespace refinery::histfactory
