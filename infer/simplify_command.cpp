// `refinery simplify WORKSPACE.json [--patch P | --patchset PS --patch-name N]
// --out SL.json`: a simplified likelihood (src/stats/simplified_likelihood.h)
// derived from a full pyhf workspace (issue 18 item 4):
//   1. the control regions alone (every channel but the signal regions) are
//      fitted background-only (POI at 0): the signal regions' observations
//      take no part;
//   2. the nuisances' Gaussian: the fit's best values and covariance where
//      the control regions constrain them, their own constraints elsewhere
//      (Gaussian N(aux, sigma); shapesys gamma with mean 1 and sd
//      1/sqrt(tau)); unconstrained ones the control regions do not reach
//      are held at their initial values (a note says which);
//   3. the background of every signal-region bin at that centre is the
//      mean, its covariance the linear propagation of the Gaussian (central
//      differences of --step sigmas); --third-moments quadratic adds the
//      third cumulant of the second-order expansion, --third-moments
//      profile each bin's largest and smallest background one sigma from
//      the centre read as the skewed form a + b t + c t^2. The signal is the
//      POI-scaled samples' yield at POI = 1 and the nominal nuisances; the
//      observations are the signal regions'. (Moments of the prior
//      predictive instead, by drawing the nuisances or by a log-quadratic
//      expansion, reproduced the stau workspace's expected limits 15-25%
//      too strong: docs/simplified_likelihood.md.)
// Signal regions: --signal-regions A,B, or every channel in which the
// signal (the samples the POI scales) has a yield, unless that is every
// channel.
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "infer/model_source.h"
#include "src/cli/command.h"
#include "src/config/schema.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/core/text.h"
#include "src/core/worker_threads.h"
#include "src/histfactory/hf_model.h"
#include "src/histfactory/workspace.h"
#include "src/stats/fit.h"
#include "src/stats/simplified_likelihood.h"
#include "src/stats/workspace_model.h"

namespace refinery::cli {

using nlohmann::json;

namespace {

// Per channel: its bins' offset into expected_main and their count.
std::map<std::string, std::pair<int, int>> channel_bins(const histfactory::HistFactoryModel& m) {
  std::map<std::string, std::pair<int, int>> out;
  int offset = 0;
  for (const auto& s : m.expected_per_sample(m.init())) {
    if (out.count(s.channel)) continue;
    out[s.channel] = {offset, int(s.bins.size())};
    offset += int(s.bins.size());
  }
  return out;
}

}  // namespace

int run_simplify(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "A simplified likelihood (signal-region counts, background mean, covariance and third "
                           "moments) from a full workspace: refinery simplify WORKSPACE.json --patch SIGNAL.json "
                           "--out SL.json");
  add_model_options(options);
  options.add_options()("signal-regions", "Channels that become the simplified likelihood's bins (default: every "
                                          "channel where the signal has a yield)",
                        cxxopts::value<std::string>()->default_value(""))(
      "step", "Finite-difference step in standard deviations of the nuisances", cxxopts::value<double>()->default_value("1"))(
      "third-moments", "none (a Gaussian background), profile (each bin's largest and smallest background one sigma from the centre, read as the skewed form) or quadratic (from the second differences); docs/simplified_likelihood.md",
      cxxopts::value<std::string>()->default_value("none"));
  add_common_options(options, false, true);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  for (const char* flag : {"asimov", "toy", "data", "poi-bounds"})
    if (r->count(flag)) throw InputError("", std::string("--") + flag, "simplify uses the workspace's observed data and bounds");
  if (common.out.empty()) throw InputError("", "--out", "where to write the simplified likelihood (JSON)");
  if (!((*r)["step"].as<double>() > 0.0 && (*r)["step"].as<double>() <= 3.0))
    throw InputError("", "--step", "must lie in (0, 3]");
  const std::string third_kind = (*r)["third-moments"].as<std::string>();
  if (third_kind != "none" && third_kind != "quadratic" && third_kind != "profile")
    throw InputError("", "--third-moments", "expected none, profile or quadratic, got '" + third_kind + "'");
  set_worker_threads(common.threads);
  const auto t0 = std::chrono::steady_clock::now();

  const histfactory::Workspace ws = load_workspace(*r);
  const histfactory::InterpOptions interp = interp_options((*r)["interp"].as<std::string>());
  const std::string measurement = (*r)["measurement"].as<std::string>();
  const histfactory::HistFactoryModel full(ws, measurement, interp);
  const int poi = full.require_poi();
  const std::string poi_name = full.parameters()[poi].name;
  const stats::WorkspaceModel full_model(full);

  // Signal regions, and the signal's yield in them (POI 1 against 0 at the nominal nuisances).
  Eigen::VectorXd at1 = full.init(), at0 = full.init();
  at1[poi] = 1.0;
  at0[poi] = 0.0;
  const Eigen::VectorXd signal_all = full.expected_main(at1) - full.expected_main(at0);
  const auto bins_of = channel_bins(full);
  std::vector<std::string> regions = split((*r)["signal-regions"].as<std::string>());
  if (regions.empty()) {
    for (const auto& name : full.channel_names()) {
      const auto [offset, n] = bins_of.at(name);
      if (signal_all.segment(offset, n).cwiseAbs().maxCoeff() > 0.0) regions.push_back(name);
    }
    if (regions.empty()) throw InputError(ws.file, "channels", "the signal (samples scaled by " + poi_name + ") has no yield in any channel");
    if (regions.size() == full.channel_names().size())
      throw InputError("", "--signal-regions",
                       "the signal has a yield in every channel (" + join(regions) +
                           "): name the signal regions; the others are fitted as control regions");
  }
  for (const auto& name : regions)
    if (!bins_of.count(name))
      throw InputError("", "--signal-regions", "no channel '" + name + "' (channels: " + join(full.channel_names()) + ")");
  const std::set<std::string> in_sr(regions.begin(), regions.end());
  if (in_sr.size() != regions.size()) throw InputError("", "--signal-regions", "a channel named twice");

  // 1. The control regions alone, background-only.
  histfactory::Workspace cr = ws;
  cr.channels.clear();
  cr.observations.clear();
  for (const auto& c : ws.channels)
    if (!in_sr.count(c.name)) cr.channels.push_back(c);
  for (const auto& o : ws.observations)
    if (!in_sr.count(o.first)) cr.observations.push_back(o);
  std::vector<int> fitted;     // full-model index of each free CR parameter
  Eigen::VectorXd cr_best;     // their best fit
  Eigen::MatrixXd cr_chol;     // Cholesky factor of their covariance
  json cr_fit = nullptr;
  if (!cr.channels.empty()) {
    const histfactory::HistFactoryModel cr_hf(cr, measurement, interp);
    stats::WorkspaceModel cr_model(cr_hf);
    const int cr_poi = cr_model.index(poi_name);
    if (cr_poi >= 0) {
      cr_model.set_init(cr_poi, 0.0);
      cr_model.set_fixed(cr_poi, true);
    }
    const stats::FitResult f = stats::fit(cr_model);
    if (!f.ok()) throw std::runtime_error("the control regions' background-only fit failed: " + f.reason);
    if (!f.covariance_ok) throw std::runtime_error("the control regions' background-only fit has no usable covariance");
    std::vector<int> free_cr;
    for (int i = 0; i < cr_model.size(); ++i)
      if (!f.held[i]) free_cr.push_back(i);
    Eigen::MatrixXd cov(free_cr.size(), free_cr.size());
    cr_best.resize(free_cr.size());
    for (size_t a = 0; a < free_cr.size(); ++a) {
      cr_best[a] = f.x[free_cr[a]];
      fitted.push_back(full_model.index(cr_model.parameters()[free_cr[a]].name));
      for (size_t b = 0; b < free_cr.size(); ++b) cov(a, b) = f.covariance(free_cr[a], free_cr[b]);
    }
    Eigen::LLT<Eigen::MatrixXd> llt(cov);
    if (llt.info() != Eigen::Success) throw std::runtime_error("the control regions' fit covariance is not positive definite");
    cr_chol = llt.matrixL();
    cr_fit = {{"channels", cr.channels.size()}, {"status", stats::fit_status_name(f.status)}, {"parameters", free_cr.size()}};
  }

  // 2. The nuisances' Gaussian: centre and Cholesky factor in the full
  // model's free parameters (the POI at 0): the control regions' fit where
  // it constrains them, their own constraints elsewhere.
  std::vector<std::pair<int, int>> sr_bins;  // (offset, n) per signal region
  std::vector<std::string> bin_names;
  for (const auto& name : regions) {
    sr_bins.push_back(bins_of.at(name));
    for (int b = 0; b < bins_of.at(name).second; ++b)
      bin_names.push_back(bins_of.at(name).second == 1 ? name : name + "[" + std::to_string(b) + "]");
  }
  const int n = int(bin_names.size());
  std::vector<int> from_fit_at(full_model.size(), -1);
  for (size_t a = 0; a < fitted.size(); ++a) from_fit_at[fitted[a]] = int(a);
  std::vector<int> free;                 // full-model indices of the varied parameters
  std::vector<double> centre, prior_sd;  // prior_sd < 0: from the fit's covariance
  std::vector<std::string> unconstrained;
  for (int i = 0; i < full_model.size(); ++i) {
    const auto& p = full_model.parameters()[i];
    if (i == poi || p.fixed) continue;
    if (from_fit_at[i] >= 0) {
      free.push_back(i), centre.push_back(cr_best[from_fit_at[i]]), prior_sd.push_back(-1.0);
    } else if (p.constraint == stats::Constraint::kGaussian) {
      free.push_back(i), centre.push_back(p.aux), prior_sd.push_back(p.width);
    } else if (p.constraint == stats::Constraint::kPoisson) {  // gamma: mean aux / tau, sd sqrt(aux) / tau
      free.push_back(i), centre.push_back(p.aux / p.width), prior_sd.push_back(std::sqrt(p.aux) / p.width);
    } else if (p.constraint == stats::Constraint::kLogNormal) {
      free.push_back(i), centre.push_back(p.aux), prior_sd.push_back(p.aux * p.width);
    } else {
      unconstrained.push_back(p.name);
    }
  }
  const int np = int(free.size());
  Eigen::MatrixXd L = Eigen::MatrixXd::Zero(np, np);
  {
    std::vector<int> fit_rows;  // positions in `free` of the fitted parameters, in fit order
    fit_rows.resize(fitted.size());
    for (int a = 0; a < np; ++a) {
      if (prior_sd[a] >= 0.0) L(a, a) = prior_sd[a];
      else fit_rows[from_fit_at[free[a]]] = a;
    }
    for (size_t a = 0; a < fitted.size(); ++a)
      for (size_t b = 0; b <= a; ++b) L(fit_rows[a], fit_rows[b]) = cr_chol(a, b);
  }
  // 3. The signal regions' background at the centre (the control regions'
  // best fit, the constraints' centres elsewhere) and its response to each
  // standard normal e_a (theta = centre + L e), by central differences of
  // step h sigmas: m1 = y(0), m2 = g g^T (the linear propagation of the
  // fit's covariance, as the post-fit errors of `refinery yields`). With
  // --third-moments quadratic, also the second differences A_i and the
  // third cumulant of y0 + g.e + e.A.e / 2, 3 g.A.g + tr(A^3).
  const double h = (*r)["step"].as<double>();
  const Eigen::VectorXd lower = full_model.lower(), upper = full_model.upper();
  auto background = [&](const Eigen::VectorXd& e) {
    Eigen::VectorXd x = full.init();
    x[poi] = 0.0;
    const Eigen::VectorXd theta = L * e;
    for (int a = 0; a < np; ++a) x[free[a]] = centre[a] + theta[a];
    x = x.cwiseMax(lower).cwiseMin(upper);
    const Eigen::VectorXd all = full.expected_main(x);
    Eigen::VectorXd y(n);
    int k = 0;
    for (const auto& [offset, m] : sr_bins)
      for (int b = 0; b < m; ++b) y[k++] = all[offset + b];
    return y;
  };
  const Eigen::VectorXd mean = background(Eigen::VectorXd::Zero(np));
  for (int k = 0; k < n; ++k)
    if (!(mean[k] > 0.0))
      throw InputError(ws.file, bin_names[k], "the background expected in this signal-region bin is not positive");
  Eigen::MatrixXd g(n, np);
  std::vector<Eigen::MatrixXd> A(n, Eigen::MatrixXd::Zero(np, np));
  std::vector<bool> moves(np, false);
  for (int a = 0; a < np; ++a) {
    Eigen::VectorXd e = Eigen::VectorXd::Zero(np);
    e[a] = h;
    const Eigen::VectorXd plus = background(e), minus = background(-e);
    g.col(a) = (plus - minus) / (2.0 * h);
    for (int k = 0; k < n; ++k) A[k](a, a) = (plus[k] - 2.0 * mean[k] + minus[k]) / (h * h);
    moves[a] = !(plus - mean).isZero(0.0) || !(minus - mean).isZero(0.0);
  }
  Eigen::MatrixXd cov = g * g.transpose();
  Eigen::VectorXd centre_mean = mean, third = Eigen::VectorXd::Zero(n);
  if (third_kind == "profile") {
    // Each bin's profile one sigma each way: the largest and smallest
    // background y+, y- in the unit ball of the whitened nuisances (where
    // half their squared length, the constraints' cost, is 1/2), read as
    // y(t) = a + b t + c t^2 at t = -1, 0, 1 with t standard normal, the
    // skewed form's own parametrisation. Its moments mean a + c, variance
    // b^2 + 2 c^2 and third cumulant 6 b^2 c + 8 c^3 replace the linear
    // ones; correlations stay the linear propagation's.
    Eigen::VectorXd sd(n);
    for (int k = 0; k < n; ++k) {
      const double norm = g.row(k).norm();
      if (!(norm > 0)) {
        sd[k] = 0.0;
        continue;
      }
      // From +-u, u = g_k / |g_k| (the steepest direction, exact to first
      // order), by the fixed-point iteration e <- +-grad y / |grad y| (the
      // sphere's optimality condition), gradients by central differences.
      const Eigen::VectorXd u = g.row(k).transpose() / norm;
      auto extreme = [&](double sign) {
        Eigen::VectorXd e = sign * u;
        double best = background(e)[k];
        for (int it = 0; it < 30; ++it) {
          Eigen::VectorXd grad(np);
          for (int a = 0; a < np; ++a) {
            Eigen::VectorXd ep = e, em = e;
            ep[a] += 1e-3, em[a] -= 1e-3;
            grad[a] = (background(ep)[k] - background(em)[k]) / 2e-3;
          }
          if (!(grad.norm() > 0)) break;
          const Eigen::VectorXd next = sign * grad / grad.norm();
          const double value = background(next)[k];
          if (!(sign * (value - best) > 1e-12 * std::abs(best))) break;
          e = next;
          best = value;
        }
        return best;
      };
      // Over the ball, not the sphere: where every direction lowers (raises)
      // the background, its profile cannot rise (fall) at all.
      const double up = std::max(extreme(1.0), mean[k]), down = std::min(extreme(-1.0), mean[k]);
      const double b = 0.5 * (up - down), c = 0.5 * (up + down) - mean[k];
      centre_mean[k] = mean[k] + c;
      sd[k] = std::sqrt(b * b + 2.0 * c * c);
      third[k] = 6.0 * b * b * c + 8.0 * c * c * c;
    }
    for (int k = 0; k < n; ++k)
      for (int l = 0; l < n; ++l) {
        const double lin = std::sqrt(cov(k, k) * cov(l, l));
        if (k != l) cov(k, l) = lin > 0 ? cov(k, l) / lin * sd[k] * sd[l] : 0.0;
      }
    for (int k = 0; k < n; ++k) cov(k, k) = sd[k] * sd[k];
  }
  if (third_kind == "quadratic") {
    for (int a = 0; a < np; ++a)
      for (int b = 0; b < a; ++b) {
        if (!moves[a] || !moves[b]) continue;  // the mixed difference is 0
        Eigen::VectorXd e = Eigen::VectorXd::Zero(np);
        e[a] = h, e[b] = h;
        const Eigen::VectorXd pp = background(e);
        e[b] = -h;
        const Eigen::VectorXd pm = background(e);
        e[a] = -h;
        const Eigen::VectorXd mm = background(e);
        e[b] = h;
        const Eigen::VectorXd mp = background(e);
        for (int k = 0; k < n; ++k) A[k](a, b) = A[k](b, a) = (pp[k] - pm[k] - mp[k] + mm[k]) / (4.0 * h * h);
      }
    for (int k = 0; k < n; ++k) third[k] = 3.0 * g.row(k) * A[k] * g.row(k).transpose() + (A[k] * A[k] * A[k]).trace();
  }
  json out;
  out["simplified_likelihood"] = 1;
  out["bins"] = bin_names;
  std::vector<double> obs, sig, bkg, m3;
  for (const auto& [offset, m] : sr_bins)
    for (int b = 0; b < m; ++b) {
      obs.push_back(full.observed().main[offset + b]);
      sig.push_back(signal_all[offset + b]);
    }
  for (int k = 0; k < n; ++k) bkg.push_back(centre_mean[k]), m3.push_back(third[k]);
  out["observed"] = obs;
  out["signal"] = sig;
  out["background"] = bkg;
  out["covariance"] = json::array();
  for (int k = 0; k < n; ++k) {
    std::vector<double> row(n);
    for (int l = 0; l < n; ++l) row[l] = cov(k, l);
    out["covariance"].push_back(row);
  }
  // The quadratic form a + b theta + c theta^2 reaches a skew of sqrt(8)
  // (|m3| = sqrt(8 m2^3)) at most; beyond, the largest it reaches (98% of the
  // limit, where b stays > 0), with a note.
  std::vector<std::string> clipped;
  for (int k = 0; k < n; ++k) {
    const double limit = 0.98 * stats::max_third_moment(cov(k, k));
    if (std::abs(m3[k]) > limit) {
      std::ostringstream os;
      os << bin_names[k] << " (skew " << third[k] / std::pow(cov(k, k), 1.5) << ")";
      clipped.push_back(os.str());
      m3[k] = std::copysign(limit, m3[k]);
    }
  }
  if (third_kind != "none") out["third_moments"] = m3;
  out["poi"] = {{"name", poi_name}, {"bounds", {full.lower()[poi], full.upper()[poi]}}};
  out["provenance"] = {{"workspace", ws.file},
                       {"signal_regions", regions},
                       {"control_region_fit", cr_fit},
                       {"nuisances", np},
                       {"step", h},
                       {"third_moments", third_kind},
                       {"unconstrained_at_init", unconstrained},
                       {"third_moments_clipped", clipped},
                       {"command", "refinery simplify"}};
  if (r->count("patch")) out["provenance"]["patches"] = (*r)["patch"].as<std::vector<std::string>>();
  if (r->count("patch-name")) out["provenance"]["patch_name"] = (*r)["patch-name"].as<std::string>();
  write_text_atomically(common.out, out.dump(2) + "\n");
  if (!common.quiet) {
    std::cout << "signal regions: " << join(regions) << " (" << n << " bins); control regions: "
              << (cr.channels.empty() ? std::string("none") : std::to_string(cr.channels.size()) + " channels, fitted background-only")
              << "\n";
    for (int k = 0; k < n; ++k)
      std::cout << "  " << bin_names[k] << ": observed " << obs[k] << ", background " << centre_mean[k] << " +- "
                << std::sqrt(cov(k, k)) << " (skew " << third[k] / std::pow(cov(k, k), 1.5) << "), signal " << sig[k]
                << "\n";
    if (!unconstrained.empty())
      std::cout << "note: held at their initial values (no constraint, not in the control regions): " << join(unconstrained)
                << "\n";
    if (!clipped.empty())
      std::cout << "note: third moments beyond the skewed form's reach (skew sqrt(8)), written at 98% of it: " << join(clipped)
                << "\n";
    std::cout << "wrote " << common.out << " (" << np << " nuisances, "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s)\n";
  }
  return 0;
}

}  // namespace refinery::cli
