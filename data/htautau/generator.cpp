#include "data/htautau/generator.h"

#include <torch/torch.h>

#include <cmath>
#include <optional>

#include "data/four_vector.h"
#include "data/random.h"
#include "src/core/float64.h"

namespace refinery::htautau {

namespace {

using torch::Tensor;
constexpr double kMTau = 1.777, kMZ = 91.19, kGammaZ = 2.495, kMH = 125.0, kMW = 80.38,
                 kGammaW = 2.09, kMTop = 172.5, kMB = 4.7;

// Breit-Wigner (Cauchy) mass truncated to [lo, hi] by inverse CDF.
Tensor breit_wigner(int64_t n, double m, double width, double lo, double hi, RandomStream& g) {
  double a = std::atan(2.0 * (lo - m) / width), b = std::atan(2.0 * (hi - m) / width);
  return m + 0.5 * width * torch::tan(g.uniform(n, a, b));
}
// Isotropic two-body decay with angles from the stream.
std::pair<Tensor, Tensor> decay(const Tensor& parent, const Tensor& m1, const Tensor& m2,
                                RandomStream& g) {
  const int64_t n = parent.size(0);
  return kin::two_body_decay(parent, m1, m2, g.uniform(n, -1.0, 1.0), g.uniform(n, -M_PI, M_PI));
}
// Lab four-vector of a system of mass m, transverse momentum pt, rapidity y.
Tensor system_p4(const Tensor& m, const Tensor& pt, const Tensor& y, RandomStream& g) {
  Tensor phi = g.uniform(m.size(0), -M_PI, M_PI);
  Tensor mt = torch::sqrt(m * m + pt * pt);
  return torch::stack({mt * torch::cosh(y), pt * torch::cos(phi), pt * torch::sin(phi),
                       mt * torch::sinh(y)},
                      1);
}
// Visible energy fraction of tau -> l nu nu (unpolarised, massless limit):
// f(x) = (5 - 9x^2 + 4x^3)/3, CDF F(x) = (5x - 3x^3 + x^4)/3, inverted by Newton.
Tensor leptonic_fraction(int64_t n, RandomStream& g) {
  Tensor u = g.uniform(n);
  Tensor x = u.clone();
  for (int it = 0; it < 8; ++it) {
    Tensor F = (5.0 * x - 3.0 * x.pow(3) + x.pow(4)) / 3.0 - u;
    Tensor f = (5.0 - 9.0 * x * x + 4.0 * x.pow(3)) / 3.0;
    x = (x - F / f.clamp_min(1e-3)).clamp(0.0, 1.0);
  }
  return x;
}
// Visible fraction of tau -> hadrons nu: pi nu (uniform, 25%) or rho/a1 nu
// (peaked at intermediate values, 75%).
Tensor hadronic_fraction(int64_t n, RandomStream& g) {
  Tensor pi = g.uniform(n);
  Tensor rho = 0.5 * (g.uniform(n) + g.uniform(n)) * 0.9 + 0.1;
  return torch::where(g.uniform(n) < 0.25, pi, rho);
}

// Relative pT resolutions of the lepton and the hadronic tau.
constexpr double kLepResolution = 0.015, kHadResolution = 0.06;

Tensor smear_pt(const Tensor& pt, const Tensor& rel_sigma, RandomStream& g) {
  return (pt * (1.0 + rel_sigma * g.normal(pt.size(0)))).clamp_min(0.0);
}

struct Truth {
  Tensor weight;         // p / q of an enhanced production [N] (undefined: 1)
  Tensor lep, had;       // visible [N,4]
  Tensor vbf;            // bool [N]
  Tensor nu;             // sum of neutrinos [N,4]
  std::vector<Tensor> jets;  // each [N,4] (pt may be tiny: removed by thresholds)
  Tensor system;         // the hard system [N,4], which the QCD jets recoil against
  // A lepton from a tau decay before its visible fraction is drawn: the tau
  // [N,4] and the stream at the fraction's draws (generate_process draws it
  // for the events that can pass the preselection only); lep undefined then,
  // nu the hadronic side's neutrinos only.
  Tensor lep_parent;
  std::optional<RandomStream> lep_fraction;
};

// Moves `g` past the draws `draw` makes for n events (run on none of them).
template <class Draw>
void skip_draws(RandomStream& g, int64_t n, Draw draw) {
  RandomStream counted = g.restricted(torch::empty({0}, torch::kInt64), n);
  draw(counted);
  g.skip(counted.drawn() - g.drawn());
}

// The events `idx` of a Truth.
Truth select(const Truth& t, const Tensor& idx) {
  auto pick = [&](const Tensor& v) { return v.defined() ? v.index_select(0, idx) : v; };
  Truth s;
  s.weight = pick(t.weight);
  s.lep = pick(t.lep);
  s.had = pick(t.had);
  s.vbf = pick(t.vbf);
  s.nu = pick(t.nu);
  s.system = pick(t.system);
  s.lep_parent = pick(t.lep_parent);
  s.lep_fraction = t.lep_fraction;
  for (const Tensor& j : t.jets) s.jets.push_back(pick(j));
  return s;
}

// boson -> tau tau -> (l nu nu)(had nu)
void decay_ditau(const Tensor& boson, Truth& t, RandomStream& g) {
  const int64_t n = boson.size(0);
  Tensor mt = torch::full({n}, kMTau, kF64);
  auto [t1, t2] = decay(boson, mt, mt, g);
  // The lepton's visible fraction xl: drawn by generate_process where it
  // matters (lep = xl t1, nu += (1 - xl) t1).
  t.lep_parent = t1;
  t.lep_fraction = g;
  skip_draws(g, n, [](RandomStream& s) { leptonic_fraction(0, s); });
  Tensor xh = hadronic_fraction(n, g).unsqueeze(1);
  t.had = xh * t2;
  t.nu = (1.0 - xh) * t2;
}

// W -> l nu (lepton = true) or W -> tau nu, tau -> had nu (lepton = false).
void decay_w(const Tensor& w, bool lepton, Truth& t, RandomStream& g) {
  const int64_t n = w.size(0);
  Tensor zero = torch::zeros({n}, kF64);
  if (lepton) {
    auto [l, nu] = decay(w, zero, zero, g);
    t.lep = l;
    t.nu = t.nu.defined() ? t.nu + nu : nu;
  } else {
    auto [tau, nu] = decay(w, torch::full({n}, kMTau, kF64), zero, g);
    Tensor xh = hadronic_fraction(n, g).unsqueeze(1);
    t.had = xh * tau;
    Tensor nus = nu + (1.0 - xh) * tau;
    t.nu = t.nu.defined() ? t.nu + nus : nus;
  }
}

// Extra QCD jets: a recoil jet balancing the system's pT, plus a Poisson number
// (at most two) of softer jets.
void add_qcd_jets(const Tensor& system, double extra_rate, double extra_mean_pt, Truth& t,
                  RandomStream& g) {
  const int64_t n = system.size(0);
  Tensor spt = kin::pt(system), sphi = kin::phi(system), seta = kin::eta(system);
  Tensor zero = torch::zeros({n}, kF64);
  Tensor rpt = spt * g.uniform(n, 0.6, 1.1);
  Tensor rphi = kin::wrap_phi(sphi + M_PI + g.normal(n, 0.0, 0.35));
  Tensor reta = g.normal(n, 0.0, 1.8) + 0.3 * seta.clamp(-3, 3);
  t.jets.push_back(kin::from_pt_eta_phi_m(rpt, reta, rphi, zero));
  Tensor count = g.poisson_capped(n, extra_rate, 2);
  for (int j = 0; j < 2; ++j) {
    Tensor pt = torch::where(count > j, 20.0 + g.exponential(n, extra_mean_pt), zero);
    t.jets.push_back(kin::from_pt_eta_phi_m(pt, g.normal(n, 0.0, 2.2), g.uniform(n, -M_PI, M_PI),
                                            zero));
  }
}

// The system pT's Gamma(k, theta) term, drawn from the mixture of
// PtEnhancement when it is active (one more uniform per event to choose the
// component; the same uniforms otherwise), with each event's p / q.
struct EnhancedGamma {
  Tensor x, weight;  // weight undefined when not enhanced
};
EnhancedGamma enhanced_gamma(int64_t n, int k, double theta, const PtEnhancement& e, RandomStream& g) {
  Tensor x = g.gamma_int(n, k, theta);
  if (!e.active()) return {x, Tensor()};
  x = torch::where(g.uniform(n) < e.fraction, e.scale * x, x);
  // q / p = (1 - f) + f s^-k exp((x / theta)(1 - 1/s)), in logs for large x.
  Tensor log_ratio = (x / theta) * (1.0 - 1.0 / e.scale) - k * std::log(e.scale);
  Tensor q_over_p = (1.0 - e.fraction) + e.fraction * torch::exp(log_ratio);
  return {x, 1.0 / q_over_p};
}

// The hard system of mass m with pT ~ Gamma(k, theta) (from the enhanced
// mixture when asked, its p / q into t.weight) and y ~ N(0, y_sd); without
// the enhancement the generator's own draws in their order.
Tensor hard_system(const Tensor& m, int k, double theta, double y_sd, const PtEnhancement& enh, Truth& t,
                   RandomStream& g) {
  const int64_t n = m.size(0);
  if (!enh.active()) return system_p4(m, g.gamma_int(n, k, theta), g.normal(n, 0.0, y_sd), g);
  EnhancedGamma pt = enhanced_gamma(n, k, theta, enh, g);
  t.weight = pt.weight;
  return system_p4(m, pt.x, g.normal(n, 0.0, y_sd), g);
}

// The hard process and the decays: everything the loose preselection looks
// at (the lepton, the hadronic tau) and the jets of the decays (ttbar's b
// quarks); the QCD and tagging jets are add_jets's, the stream's next draws.
Truth produce_decays(int process, int64_t n, RandomStream& g, const PtEnhancement& enh) {
  Truth t;
  switch (process) {
    case kHtautau: {
      Tensor vbf = g.uniform(n) < kVbfFraction;
      t.vbf = vbf;
      Tensor pt;
      if (!enh.active()) {  // the generator's own draws, in their order
        pt = torch::where(vbf, g.gamma_int(n, 2, 45.0), g.gamma_int(n, 2, 22.0));
      } else {
        EnhancedGamma pt_vbf = enhanced_gamma(n, 2, 45.0, enh, g);
        EnhancedGamma pt_ggf = enhanced_gamma(n, 2, 22.0, enh, g);
        pt = torch::where(vbf, pt_vbf.x, pt_ggf.x);
        t.weight = torch::where(vbf, pt_vbf.weight, pt_ggf.weight);
      }
      Tensor y = torch::where(vbf, g.normal(n, 0.0, 1.4), g.normal(n, 0.0, 1.7));
      t.system = system_p4(torch::full({n}, kMH, kF64), pt, y, g);
      decay_ditau(t.system, t, g);
      break;
    }
    case kZtautau: {
      Tensor m = breit_wigner(n, kMZ, kGammaZ, 60.0, 160.0, g);
      Tensor pt;
      if (!enh.active()) {  // the generator's own draws, in their order
        pt = g.gamma_int(n, 1, 14.0) + 0.15 * g.gamma_int(n, 2, 30.0) *
                                           (g.uniform(n) < 0.3).to(torch::kFloat64);
      } else {
        EnhancedGamma hard = enhanced_gamma(n, 1, 14.0, enh, g);
        t.weight = hard.weight;
        Tensor tail = g.gamma_int(n, 2, 30.0);
        pt = hard.x + 0.15 * tail * (g.uniform(n) < 0.3).to(torch::kFloat64);
      }
      t.system = system_p4(m, pt, g.normal(n, 0.0, 2.0), g);
      decay_ditau(t.system, t, g);
      break;
    }
    case kTtbar: {
      Tensor mtt = 2.0 * kMTop + 10.0 + g.gamma_int(n, 2, 80.0);
      Tensor tt = hard_system(mtt, 2, 30.0, 1.2, enh, t, g);
      auto [top1, top2] = decay(tt, torch::full({n}, kMTop, kF64),
                                              torch::full({n}, kMTop, kF64), g);
      Tensor mw1 = breit_wigner(n, kMW, kGammaW, 60.0, 100.0, g);
      Tensor mw2 = breit_wigner(n, kMW, kGammaW, 60.0, 100.0, g);
      auto [b1, w1] = decay(top1, torch::full({n}, kMB, kF64), mw1, g);
      auto [b2, w2] = decay(top2, torch::full({n}, kMB, kF64), mw2, g);
      decay_w(w1, true, t, g);
      decay_w(w2, false, t, g);
      t.jets = {b1, b2};
      t.system = tt;
      break;
    }
    case kDiboson: {
      Tensor mww = 2.0 * kMW + g.gamma_int(n, 2, 60.0);
      Tensor ww = hard_system(mww, 2, 15.0, 1.8, enh, t, g);
      Tensor m1 = breit_wigner(n, kMW, kGammaW, 60.0, 100.0, g);
      Tensor m2 = breit_wigner(n, kMW, kGammaW, 60.0, 100.0, g);
      m1 = torch::minimum(m1, 0.5 * mww), m2 = torch::minimum(m2, 0.5 * mww);
      auto [w1, w2] = decay(ww, m1, m2, g);
      decay_w(w1, true, t, g);
      decay_w(w2, false, t, g);
      t.system = ww;
      break;
    }
  }
  return t;
}

// The QCD and tagging jets of the events of `t` (appended to t.jets), from
// the stream's draws after produce_decays's.
void add_jets(int process, Truth& t, RandomStream& g) {
  const int64_t n = t.system.size(0);
  Tensor zero = torch::zeros({n}, kF64);
  switch (process) {
    case kHtautau: {
      // Gluon fusion: QCD radiation. VBF: two forward tagging jets in
      // opposite hemispheres with a large rapidity gap.
      const Tensor& h = t.system;
      Truth qcd;
      add_qcd_jets(h, 0.5, 18.0, qcd, g);
      Tensor side = torch::where(g.uniform(n) < 0.5, torch::ones({n}, kF64), -torch::ones({n}, kF64));
      Tensor eta1 = side * g.normal(n, 2.3, 0.9).abs(), eta2 = -side * g.normal(n, 2.3, 0.9).abs();
      Tensor hphi = kin::phi(h);
      Tensor tag1 = kin::from_pt_eta_phi_m(25.0 + g.gamma_int(n, 2, 25.0), eta1,
                                           kin::wrap_phi(hphi + M_PI + g.normal(n, 0.0, 0.7)), zero);
      Tensor tag2 = kin::from_pt_eta_phi_m(22.0 + g.gamma_int(n, 2, 20.0), eta2,
                                           g.uniform(n, -M_PI, M_PI), zero);
      Tensor v = t.vbf.unsqueeze(1);
      t.jets.push_back(torch::where(v, tag1, qcd.jets[0]));
      t.jets.push_back(torch::where(v, tag2, qcd.jets[1]));
      t.jets.push_back(torch::where(v, torch::zeros_like(tag1), qcd.jets[2]));
      break;
    }
    case kZtautau:
      add_qcd_jets(t.system, 0.35, 15.0, t, g);
      break;
    case kTtbar: {
      Tensor count = g.poisson_capped(n, 0.8, 1);
      Tensor extra = torch::where(count > 0, 20.0 + g.exponential(n, 25.0), zero);
      t.jets.push_back(kin::from_pt_eta_phi_m(extra, g.normal(n, 0.0, 2.2),
                                              g.uniform(n, -M_PI, M_PI), zero));
      break;
    }
    case kDiboson:
      add_qcd_jets(t.system, 0.3, 18.0, t, g);
      break;
  }
}

}  // namespace

double cross_section_fb(int process) {
  // sigma x BR(lep-had) in fb; see docs/simulator.md for the yields they give.
  static const double xs[kNumProcesses] = {610.0, 190000.0, 2720.0, 358.0};
  return xs[process];
}

ObjectSet generate_process(int process, int64_t n_produced, double weight, RandomStream& g,
                           GeneratorTruth* truth, const PtEnhancement& enhancement) {
  Truth t = produce_decays(process, n_produced, g, enhancement);
  // The jets are the stream's next draws. They are made below for the events
  // the preselection keeps only, from a copy of the stream restricted to
  // them (the numbers every event would have had: the same events as when
  // all were made); the stream moves past them (their count, from a run on
  // no events).
  const RandomStream jet_stream = g;
  skip_draws(g, n_produced, [&](RandomStream& s) {
    Truth no_events = select(t, torch::empty({0}, torch::kInt64));
    add_jets(process, no_events, s);
  });
  // Detector: lepton 1.5% pT resolution, hadronic tau 6%, jets stochastic
  // 80%/sqrt(pT) (+) 5%. MET = neutrinos minus the mismeasurement of every
  // visible object, plus a resolution term growing with the visible activity.
  // The loose preselection is applied first: everything after it runs on the
  // kept events only. A lepton from a tau decay gets its visible fraction
  // (a Newton solve, the costliest draw) only where the event can still
  // pass: the hadronic tau passes, and the tau itself, smeared as the lepton
  // would be, clears the lepton's threshold (the lepton carries a fraction
  // <= 1 of the tau's momentum, in its direction; the bounds allow for
  // rounding).
  const bool pending = t.lep_parent.defined();
  const Tensor& lep_direction = pending ? t.lep_parent : t.lep;
  const RandomStream lep_smearing = g;
  skip_draws(g, n_produced, [](RandomStream& s) {
    const Tensor none = torch::empty({0}, kF64);
    smear_pt(none, none, s);
  });
  Tensor had_true = kin::pt(t.had);
  Tensor had_pt = smear_pt(had_true, torch::full({n_produced}, kHadResolution, kF64), g);
  Tensor had_eta = kin::eta(t.had);
  const Tensor lep_bound = kin::pt(lep_direction) * (1.0 + kLepResolution * RandomStream(lep_smearing).normal(n_produced));
  const Tensor candidates = (had_pt > kLooseHadPtMin)
                                .logical_and(had_eta.abs() < kHadEtaMax)
                                .logical_and(lep_bound > kLepPtMin * (1.0 - 1e-9))
                                .logical_and(kin::eta(lep_direction).abs() < kLepEtaMax + 1e-9)
                                .nonzero()
                                .squeeze(1);
  const int64_t n_candidates = candidates.size(0);
  Tensor lep, xl;
  if (pending) {
    RandomStream fraction = t.lep_fraction->restricted(candidates, n_produced);
    xl = leptonic_fraction(n_candidates, fraction).unsqueeze(1);
    lep = xl * t.lep_parent.index_select(0, candidates);
  } else {
    lep = t.lep.index_select(0, candidates);
  }
  Tensor lep_true = kin::pt(lep);
  RandomStream lep_smearing_here = lep_smearing.restricted(candidates, n_produced);
  Tensor lep_pt = smear_pt(lep_true, torch::full({n_candidates}, kLepResolution, kF64), lep_smearing_here);
  Tensor lep_eta = kin::eta(lep);
  const Tensor pass = (lep_pt > kLepPtMin).logical_and(lep_eta.abs() < kLepEtaMax).nonzero().squeeze(1);
  const Tensor idx = candidates.index_select(0, pass);
  const int64_t n = idx.size(0);
  auto keep = [&](const Tensor& v) { return v.index_select(0, idx); };
  auto passed = [&](const Tensor& v) { return v.index_select(0, pass); };
  Truth kept = select(t, idx);
  kept.lep = passed(lep);
  if (pending) kept.nu = (1.0 - passed(xl)) * kept.lep_parent + kept.nu;
  {
    RandomStream jets = jet_stream.restricted(idx, n_produced);
    add_jets(process, kept, jets);
  }
  ObjectSet o;
  o.lep_pt = passed(lep_pt);
  o.lep_eta = passed(lep_eta);
  o.lep_phi = kin::phi(kept.lep);
  o.had_pt = keep(had_pt);
  o.had_eta = keep(had_eta);
  o.had_phi = kin::phi(kept.had);
  lep_true = passed(lep_true);
  had_true = keep(had_true);
  Tensor mis_x = (o.lep_pt - lep_true) * torch::cos(o.lep_phi) + (o.had_pt - had_true) * torch::cos(o.had_phi);
  Tensor mis_y = (o.lep_pt - lep_true) * torch::sin(o.lep_phi) + (o.had_pt - had_true) * torch::sin(o.had_phi);
  Tensor sum_vis = o.lep_pt + o.had_pt;
  std::vector<Tensor> jpt, jeta, jphi;
  for (const Tensor& j : kept.jets) {
    Tensor pt_true = kin::pt(j);
    Tensor rel = torch::sqrt(0.64 / pt_true.clamp_min(1.0) + 0.0025);
    Tensor pt = smear_pt(pt_true, rel, g);
    Tensor phi = kin::phi(j);
    mis_x += (pt - pt_true) * torch::cos(phi);
    mis_y += (pt - pt_true) * torch::sin(phi);
    sum_vis += pt;
    jpt.push_back(pt);
    jeta.push_back(kin::eta(j));
    jphi.push_back(phi);
  }
  const Tensor& nu = kept.nu;
  Tensor met_sigma = 4.0 + 0.4 * torch::sqrt(sum_vis);
  o.met_x = nu.select(1, 1) - mis_x + met_sigma * g.normal(n);
  o.met_y = nu.select(1, 2) - mis_y + met_sigma * g.normal(n);
  // Keep the three leading jets within acceptance above the loose threshold.
  Tensor JP = torch::stack(jpt, 1), JE = torch::stack(jeta, 1), JF = torch::stack(jphi, 1);
  Tensor ok = (JP > kLooseJetPtMin).logical_and(JE.abs() < kJetEtaMax);
  JP = torch::where(ok, JP, torch::zeros_like(JP));
  auto sorted = JP.sort(1, true);
  Tensor order = std::get<1>(sorted).narrow(1, 0, kMaxJets);
  o.jet_pt = std::get<0>(sorted).narrow(1, 0, kMaxJets).contiguous();
  o.jet_eta = torch::where(o.jet_pt > 0, JE.gather(1, order), torch::zeros_like(o.jet_pt));
  o.jet_phi = torch::where(o.jet_pt > 0, JF.gather(1, order), torch::zeros_like(o.jet_pt));
  o.jet_dir_known = torch::ones({n, kMaxJets}, torch::kBool);
  o.soft_x = g.normal(n);
  o.soft_y = g.normal(n);
  o.weight = kept.weight.defined() ? weight * kept.weight : torch::full({n}, weight, kF64);
  o.process = torch::full({n}, process, torch::kInt32);
  if (truth) {
    truth->nu_x = nu.select(1, 1).contiguous();
    truth->nu_y = nu.select(1, 2).contiguous();
    truth->vbf = kept.vbf.defined() ? kept.vbf : torch::zeros({n}, torch::kBool);
  }
  return o;
}

}  // namespace refinery::htautau
