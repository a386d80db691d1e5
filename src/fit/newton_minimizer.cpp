#include "src/fit/newton_minimizer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace refinery {

bool MinimizerOptions::IsValid(std::string* error) const {
  if (!(edm_tolerance > 0)) return *error = "edm_tolerance must be positive", false;
  if (max_iterations < 1) return *error = "max_iterations must be >= 1", false;
  if (restarts < 0) return *error = "restarts must be >= 0", false;
  if (max_evaluations < -1 || max_evaluations == 0) return *error = "max_evaluations must be -1 (automatic) or >= 1", false;
  return true;
}

int MinimizerOptions::evaluation_budget(int parameters) const {
  return max_evaluations > 0 ? max_evaluations : 1000 + 200 * std::max(parameters, 0);
}

namespace {

// Gradient and Hessian restricted to the free parameters.
void restrict_to(const std::vector<int>& free, const Eigen::VectorXd& g, const Eigen::MatrixXd& H, Eigen::VectorXd* gf,
                 Eigen::MatrixXd* Hf) {
  const int m = static_cast<int>(free.size());
  gf->resize(m);
  Hf->resize(m, m);
  for (int a = 0; a < m; ++a) {
    (*gf)[a] = g[free[a]];
    for (int b = 0; b < m; ++b) (*Hf)(a, b) = H(free[a], free[b]);
  }
}

// Thrown by Search::eval when the evaluations allowed are spent; minimize()
// ends there with the best point offered so far.
struct EvaluationBudgetSpent {};

// The state of a minimisation shared by its attempts.
struct Search {
  const Objective& f;
  const Eigen::VectorXd& lower;
  const Eigen::VectorXd& upper;
  const MinimizerOptions& opt;
  int evaluations = 0;
  int iterations = 0;
  // The box of the current Newton iteration: the bounds, narrowed to the
  // side of each breakpoint that the parameter is on.
  Eigen::VectorXd lo, hi;

  int budget = 0;  // evaluations allowed over all attempts
  double eval(const Eigen::VectorXd& x, Eigen::VectorXd* g, Eigen::MatrixXd* H) {
    if (evaluations >= budget) throw EvaluationBudgetSpent{};
    ++evaluations;
    return f(x, g, H);
  }
  // Parameters that move: not fixed and not pushed against a bound by the gradient.
  std::vector<int> free_set(const Eigen::VectorXd& x, const Eigen::VectorXd& g, const std::vector<bool>& fixed) const {
    std::vector<int> free;
    for (int i = 0; i < static_cast<int>(x.size()); ++i) {
      if (fixed[i]) continue;
      const bool at_lo = x[i] <= lo[i] && g[i] > 0, at_hi = x[i] >= hi[i] && g[i] < 0;
      if (!at_lo && !at_hi) free.push_back(i);
    }
    return free;
  }
  // The NLL is known to ~1 ulp: an EDM below ~10 ulp of |f| cannot be
  // resolved (large unbinned fits, |f| ~ 1e5: ~2e-10).
  double edm_goal(double fx) const { return std::max(opt.edm_tolerance, resolution(fx)); }
  double resolution(double fx) const { return 10.0 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::abs(fx)); }
};

// Damped Newton direction on the free parameters; raises `lambda` until the
// damped Hessian is positive definite. False if it never becomes so.
bool newton_direction(const Eigen::VectorXd& gf, const Eigen::MatrixXd& Hf, double* lambda, Eigen::VectorXd* d,
                      double* edm) {
  for (int attempt = 0; attempt < 60; ++attempt) {
    Eigen::MatrixXd Hd = Hf;
    if (*lambda > 0) Hd.diagonal().array() += *lambda * (1.0 + Hf.diagonal().array().abs());
    // Cholesky: succeeds exactly when the damped Hessian is positive
    // definite, and its blocked form is ~3x faster than LDLT's pivoted one.
    Eigen::LLT<Eigen::MatrixXd> llt(Hd);
    if (llt.info() == Eigen::Success) {
      *d = -llt.solve(gf);
      *edm = -0.5 * gf.dot(*d);
      if (std::isfinite(*edm) && *edm >= 0) return true;
    }
    *lambda = *lambda == 0 ? 1e-8 : *lambda * 10.0;
  }
  return false;
}

// Armijo backtracking along the projected step d on the parameters `free`.
// With g_full and H_full set, the full step is evaluated with its gradient
// and Hessian, which the next Newton iteration needs when the full step is
// taken (*full_taken): one evaluation per iteration instead of two, and the
// value is the same as without them.
bool line_search(Search& s, const std::vector<int>& free, const Eigen::VectorXd& d, const Eigen::VectorXd& g,
                 Eigen::VectorXd& x, double& fx, double* step_taken, Eigen::VectorXd* g_full = nullptr,
                 Eigen::MatrixXd* H_full = nullptr, bool* full_taken = nullptr) {
  if (full_taken) *full_taken = false;
  double step = 1.0;
  while (step >= s.opt.min_step) {
    Eigen::VectorXd xn = x;
    for (std::size_t a = 0; a < free.size(); ++a)
      xn[free[a]] = std::clamp(x[free[a]] + step * d[a], s.lo[free[a]], s.hi[free[a]]);
    // Once the decrease the step promises to first order is below what the
    // NLL's rounding resolves (10 ulp of |f|, as the EDM's goal), no value
    // comparison can accept it honestly: equal values would pass Armijo's
    // test, and Newton would repeat such steps, each changing x by a few ulp,
    // until its iterations ran out. Smaller steps promise less still: no move.
    const double promised = -g.dot(xn - x);
    if (promised >= 0 && promised < s.resolution(fx)) return false;
    const bool with_derivatives = step == 1.0 && g_full && H_full;
    const double fn = with_derivatives ? s.eval(xn, g_full, H_full) : s.eval(xn, nullptr, nullptr);
    if (std::isfinite(fn) && fn <= fx + 1e-4 * g.dot(xn - x)) {
      x = xn;
      fx = fn;
      *step_taken = step;
      if (full_taken) *full_taken = with_derivatives;
      return true;
    }
    step *= 0.5;
  }
  return false;
}

// Sets the box of a Newton iteration (s.lo, s.hi) and the parameters held on
// a kink. A parameter sitting on a breakpoint takes the side along which its
// one-sided derivative descends (g then holds that derivative), or is held
// when neither side descends.
void set_box(Search& s, const Eigen::VectorXd& x, Eigen::VectorXd& g, const std::vector<bool>& fixed,
             std::vector<bool>* held, int* on_kink) {
  s.lo = s.lower;
  s.hi = s.upper;
  *held = fixed;
  *on_kink = 0;
  std::vector<std::pair<int, double>> at;
  for (const auto& [i, c] : s.opt.breakpoints) {
    if (i < 0 || i >= static_cast<int>(x.size()) || fixed[i] || !(c > s.lower[i] && c < s.upper[i])) continue;
    if (x[i] > c) s.lo[i] = std::max(s.lo[i], c);
    else if (x[i] < c) s.hi[i] = std::min(s.hi[i], c);
    else at.push_back({i, c});
  }
  if (at.empty()) return;
  Eigen::VectorXd xr = x, xl = x, gr, gl;
  for (const auto& [i, c] : at) {
    const double delta = 1e-9 * std::max(1.0, std::abs(c));
    xr[i] = c + delta;
    xl[i] = c - delta;
  }
  const double fr = s.eval(xr, &gr, nullptr), fl = s.eval(xl, &gl, nullptr);
  for (const auto& [i, c] : at) {
    const bool right = std::isfinite(fr) && gr[i] < 0, left = std::isfinite(fl) && gl[i] > 0;
    if (right && (!left || -gr[i] >= gl[i])) {
      s.lo[i] = c;
      g[i] = gr[i];
    } else if (left) {
      s.hi[i] = c;
      g[i] = gl[i];
    } else {
      (*held)[i] = true;
      ++*on_kink;
    }
  }
}

// Newton iterations from x (with g, H at x) on the parameters not in `fixed`.
// On a failed line search: drop the parameters the step pushes past a bound,
// then raise the damping towards a scaled gradient step, before giving up.
MinimizerAttempt newton(Search& s, const std::vector<bool>& fixed, Eigen::VectorXd& x, double& fx,
                        Eigen::VectorXd& g, Eigen::MatrixXd& H, const std::string& strategy, int limit = -1) {
  if (limit < 0) limit = s.opt.max_iterations;
  MinimizerAttempt a;
  a.strategy = strategy;
  double lambda = 0.0;  // Levenberg damping, adapted
  int it = 0;
  std::vector<bool> held;
  int on_kink = 0;
  for (; s.iterations + it < limit; ++it) {
    set_box(s, x, g, fixed, &held, &on_kink);
    const std::vector<int> free = s.free_set(x, g, held);
    Eigen::VectorXd gf, d;
    Eigen::MatrixXd Hf;
    restrict_to(free, g, H, &gf, &Hf);
    double edm = 0.0;
    if (!newton_direction(gf, Hf, &lambda, &d, &edm)) {
      a.message = "Hessian could not be regularised";
      break;
    }
    a.edm = edm;
    if (edm < s.edm_goal(fx)) {
      a.converged = true;
      a.message = "converged: EDM " + std::to_string(edm);
      if (on_kink > 0) a.message += " (" + std::to_string(on_kink) + " parameter(s) on a kink of the NLL)";
      break;
    }
    double step = 0.0;
    // The full step is usually taken once the damping has fallen: then its
    // derivatives come with its value.
    Eigen::VectorXd g_full;
    Eigen::MatrixXd H_full;
    bool full_taken = false;
    const bool undamped = lambda == 0.0;
    bool moved = line_search(s, free, d, g, x, fx, &step, undamped ? &g_full : nullptr, undamped ? &H_full : nullptr,
                             &full_taken);
    if (!moved && edm < 1e-6) {
      // No decrease along the Newton direction and a tiny EDM: the minimum
      // is reached to machine precision.
      a.converged = true;
      a.message = "converged at machine precision: EDM " + std::to_string(edm);
      break;
    }
    // Fallback 1: the parameters whose full step crosses a bound become
    // active; a clamped Newton step need not descend.
    if (!moved) {
      std::vector<int> inner;
      for (std::size_t k = 0; k < free.size(); ++k) {
        const double to = x[free[k]] + d[k];
        if (to > s.lo[free[k]] && to < s.hi[free[k]]) inner.push_back(free[k]);
      }
      if (!inner.empty() && inner.size() < free.size()) {
        Eigen::VectorXd gi, di;
        Eigen::MatrixXd Hi;
        restrict_to(inner, g, H, &gi, &Hi);
        double li = lambda, ei = 0.0;
        if (newton_direction(gi, Hi, &li, &di, &ei)) moved = line_search(s, inner, di, g, x, fx, &step);
        step = std::min(step, 0.5);  // keep the damping where it is
      }
    }
    // Fallback 2: stronger damping, down to a short scaled-gradient step.
    for (double boost = 1e-4; !moved && boost <= 1e8; boost *= 100.0) {
      double lb = std::max(lambda, boost), eb = 0.0;
      Eigen::VectorXd db;
      if (!newton_direction(gf, Hf, &lb, &db, &eb)) break;
      moved = line_search(s, free, db, g, x, fx, &step);
      if (moved) lambda = lb, step = 0.5;
    }
    if (!moved) {
      a.message = "line search failed: EDM " + std::to_string(edm);
      break;
    }
    lambda = step == 1.0 ? lambda * 0.1 : lambda;
    if (lambda < 1e-12) lambda = 0.0;
    if (full_taken) {
      g = std::move(g_full);
      H = std::move(H_full);
    } else {
      fx = s.eval(x, &g, &H);
    }
  }
  if (!a.converged && s.iterations + it >= limit)
    a.message = "maximum number of iterations reached: EDM " + std::to_string(a.edm);
  a.iterations = it;
  s.iterations += it;
  a.f = fx;
  return a;
}

// Polish: one full Newton step from a converged point, judged by the EDM
// (gradient and Hessian are accurate to far below the NLL value's rounding,
// which limits any comparison of values). Quadratic convergence takes an EDM
// of 1e-10 to ~1e-20: parameters then sit at the minimum to ~1e-10 of their
// errors.
void polish(Search& s, const std::vector<bool>& fixed, Eigen::VectorXd& x, double& fx, Eigen::VectorXd& g,
            Eigen::MatrixXd& H, double* edm) {
  const int n = static_cast<int>(x.size());
  std::vector<bool> held;
  int on_kink = 0;
  Eigen::VectorXd g_side = g;
  set_box(s, x, g_side, fixed, &held, &on_kink);
  const std::vector<int> free = s.free_set(x, g_side, held);
  const int m = static_cast<int>(free.size());
  Eigen::VectorXd gf;
  Eigen::MatrixXd Hf;
  restrict_to(free, g_side, H, &gf, &Hf);
  Eigen::LLT<Eigen::MatrixXd> llt(Hf);
  if (m == 0 || llt.info() != Eigen::Success) return;
  const Eigen::VectorXd d = -llt.solve(gf);
  Eigen::VectorXd xn = x;
  for (int a = 0; a < m; ++a) xn[free[a]] = std::clamp(x[free[a]] + d[a], s.lo[free[a]], s.hi[free[a]]);
  Eigen::VectorXd gn(n);
  Eigen::MatrixXd Hn(n, n);
  const double fn = s.eval(xn, &gn, &Hn);
  Eigen::VectorXd gnf;
  Eigen::MatrixXd Hnf;
  restrict_to(free, gn, Hn, &gnf, &Hnf);
  Eigen::LDLT<Eigen::MatrixXd> ln(Hnf);
  const double edm_n = ln.info() == Eigen::Success ? 0.5 * gnf.dot(ln.solve(gnf)) : *edm;
  if (std::isfinite(fn) && std::isfinite(edm_n) && edm_n >= 0 && edm_n < *edm) {
    x = xn, fx = fn, g = gn, H = Hn;
    *edm = edm_n;
  }
}

// Scale of parameter i for steps: its Hessian width where that is defined,
// else 1, and never more than its range.
double scale_of(const Search& s, const Eigen::MatrixXd& H, int i) {
  double w = H(i, i) > 0 ? 1.0 / std::sqrt(H(i, i)) : 1.0;
  if (!std::isfinite(w)) w = 1.0;
  const double range = s.upper[i] - s.lower[i];
  return std::clamp(w, 1e-8, std::isfinite(range) && range > 0 ? range : 1.0);
}

// One sweep of one-dimensional pattern searches, parameter by parameter:
// steps of the parameter's width, doubled while they descend and quartered
// when neither direction does, down to 1e-7 of the width. Returns the
// parameters that no step moved ("stuck") and whether anything moved.
bool coordinate_sweep(Search& s, const std::vector<bool>& fixed, const Eigen::MatrixXd& H, Eigen::VectorXd& x,
                      double& fx, std::vector<bool>* stuck) {
  const int n = static_cast<int>(x.size());
  stuck->assign(n, false);
  bool any = false;
  for (int i = 0; i < n; ++i) {
    if (fixed[i]) continue;
    const double width = scale_of(s, H, i);
    double h = width;
    bool moved = false;
    for (int k = 0; k < 60 && h > 1e-7 * width; ++k) {
      bool better = false;
      for (double dir : {1.0, -1.0}) {
        Eigen::VectorXd xn = x;
        xn[i] = std::clamp(x[i] + dir * h, s.lower[i], s.upper[i]);
        if (xn[i] == x[i]) continue;
        const double fn = s.eval(xn, nullptr, nullptr);
        if (std::isfinite(fn) && fn < fx) {
          x = xn, fx = fn;
          better = true;
          break;
        }
      }
      moved = moved || better;
      h = better ? 2.0 * h : 0.25 * h;
    }
    (*stuck)[i] = !moved;
    any = any || moved;
  }
  return any;
}

}  // namespace

MinimizerResult minimize(const Objective& f, Eigen::VectorXd x0, const Eigen::VectorXd& lower,
                         const Eigen::VectorXd& upper, const std::vector<bool>& fixed,
                         const MinimizerOptions& opt) {
  const int n = static_cast<int>(x0.size());
  MinimizerResult r;
  Search s{f, lower, upper, opt, 0, 0, lower, upper, opt.evaluation_budget(n)};
  Eigen::VectorXd x = x0.cwiseMax(lower).cwiseMin(upper);
  Eigen::VectorXd g(n);
  Eigen::MatrixXd H(n, n);
  double fx = s.eval(x, &g, &H);
  auto finish = [&](const Eigen::VectorXd& xb, double fb) {
    r.x = xb;
    r.f = fb;
    r.iterations = s.iterations;
    r.evaluations = s.evaluations;
    r.at_bound.resize(n);
    for (int i = 0; i < n; ++i) r.at_bound[i] = !fixed[i] && (xb[i] <= lower[i] || xb[i] >= upper[i]);
    return r;
  };
  if (!std::isfinite(fx)) {
    r.message = "objective not finite at the starting point (non-positive expected yield?)";
    return finish(x, fx);
  }

  // The best point so far, converged or not; a converged point always wins
  // over an unconverged one, and a lower one over a higher one.
  Eigen::VectorXd best_x = x;
  double best_f = fx;
  bool best_ok = false;
  int best = -1;
  auto offer = [&](const MinimizerAttempt& a, const Eigen::VectorXd& xa, double fa) {
    r.attempts.push_back(a);
    if (best < 0 || (a.converged && !best_ok) || (a.converged == best_ok && fa < best_f)) {
      best_x = xa, best_f = fa, best_ok = a.converged;
      best = static_cast<int>(r.attempts.size()) - 1;
    }
  };

  // The attempts below end early where the evaluation budget is spent
  // (Search::eval throws): a fit that no attempt converges, with
  // derivatives that mislead Newton and coordinate sweeps that creep, would
  // otherwise run for as many evaluations as the sweeps' rounds allow.
  bool spent = false;
  try {
    // Attempt 1: Newton, with half of the iterations (a Newton search that
    // needs more is zigzagging, e.g. across a kink it was not told of).
    MinimizerAttempt a = newton(s, fixed, x, fx, g, H, "newton", std::max(1, opt.max_iterations / 2));
    if (a.converged) {
      polish(s, fixed, x, fx, g, H, &a.edm);
      a.f = fx;
    }
    offer(a, x, fx);

    // Attempt 2: coordinate sweeps alternating with Newton. Parameters that no
    // sweep moves although their (one-sided) gradient is not small sit on a
    // kink of the NLL (piecewise-linear interpolation): Newton runs with them
    // held, and the point is a minimum when Newton converges on the rest and
    // the next sweep moves nothing.
    if (!best_ok && std::isfinite(fx) && s.iterations < opt.max_iterations) {
      MinimizerAttempt c;
      c.strategy = "coordinate sweeps + newton";
      const int before = s.iterations;
      x = best_x;
      fx = s.eval(x, &g, &H);
      std::vector<bool> held = fixed;
      int kinks = 0;
      for (int round = 0; round < 30 && s.iterations < opt.max_iterations; ++round) {
        std::vector<bool> stuck;
        const bool moved = coordinate_sweep(s, fixed, H, x, fx, &stuck);
        fx = s.eval(x, &g, &H);
        if (!moved && round > 0) {
          c.converged = true;
          break;
        }
        held = fixed;
        kinks = 0;
        for (int i = 0; i < n; ++i)
          if (!fixed[i] && stuck[i] && std::abs(g[i]) * scale_of(s, H, i) > 1e-3 && x[i] > lower[i] && x[i] < upper[i])
            held[i] = true, ++kinks;
        MinimizerAttempt inner = newton(s, held, x, fx, g, H, c.strategy);
        c.edm = inner.edm;
        if (inner.converged && kinks == 0) {
          c.converged = true;
          break;
        }
        if (!inner.converged && !moved) break;
      }
      c.iterations = s.iterations - before;
      c.f = fx;
      if (c.converged) {
        polish(s, held, x, fx, g, H, &c.edm);
        c.f = fx;
        c.message = kinks == 0 ? "converged: EDM " + std::to_string(c.edm)
                               : "converged with " + std::to_string(kinks) +
                                     " parameter(s) at a kink of the NLL (no decrease either side): EDM of the others " +
                                     std::to_string(c.edm);
      } else {
        c.message = "coordinate sweeps and Newton stalled: EDM " + std::to_string(c.edm);
      }
      offer(c, x, fx);
    }

    // Attempts 3...: Newton from deterministic perturbations of the best point.
    std::mt19937_64 rng(0x5eed);
    std::normal_distribution<double> normal;
    for (int k = 1; k <= opt.restarts && !best_ok && s.iterations < opt.max_iterations; ++k) {
      Eigen::VectorXd gb(n);
      Eigen::MatrixXd Hb(n, n);
      s.eval(best_x, &gb, &Hb);
      x = best_x;
      for (int i = 0; i < n; ++i)
        if (!fixed[i]) x[i] = std::clamp(best_x[i] + 0.5 * k * scale_of(s, Hb, i) * normal(rng), lower[i], upper[i]);
      fx = s.eval(x, &g, &H);
      if (!std::isfinite(fx)) continue;
      MinimizerAttempt rk = newton(s, fixed, x, fx, g, H, "restart " + std::to_string(k));
      if (rk.converged) {
        polish(s, fixed, x, fx, g, H, &rk.edm);
        rk.f = fx;
      }
      offer(rk, x, fx);
    }
    // Basin probes along the parameters the model marks as multimodal: a
    // converged point that a one-parameter move lowers is a local minimum;
    // Newton restarts from the lowest probe until no probe descends.
    if (best_ok && !opt.multimodal.empty()) {
      MinimizerAttempt b;
      b.strategy = "basin probes + newton";
      const int before = s.iterations;
      x = best_x;
      fx = s.eval(x, &g, &H);
      bool moved_any = false;
      for (int round = 0; round < 50 && s.iterations < opt.max_iterations; ++round) {
        Eigen::VectorXd probe_x = x;
        double probe_f = fx - 1e-12 * std::max(1.0, std::abs(fx));
        for (int i : opt.multimodal) {
          if (i < 0 || i >= n || fixed[i]) continue;
          const double width = scale_of(s, H, i);
          for (double k : {0.125, -0.125, 0.25, -0.25, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0}) {
            Eigen::VectorXd xn = x;
            xn[i] = std::clamp(x[i] + k * width, lower[i], upper[i]);
            const double fn = s.eval(xn, nullptr, nullptr);
            if (std::isfinite(fn) && fn < probe_f) probe_x = xn, probe_f = fn;
          }
        }
        if (probe_f >= fx - 1e-12 * std::max(1.0, std::abs(fx))) break;
        Eigen::VectorXd xb = probe_x;
        double fb = s.eval(xb, &g, &H);
        MinimizerAttempt inner = newton(s, fixed, xb, fb, g, H, b.strategy);
        if (!inner.converged || !(fb < fx)) {
          s.eval(x, &g, &H);
          break;
        }
        polish(s, fixed, xb, fb, g, H, &inner.edm);
        x = xb, fx = fb, b.edm = inner.edm, moved_any = true;
      }
      if (moved_any) {
        b.converged = true;
        b.iterations = s.iterations - before;
        b.f = fx;
        b.message = "converged: EDM " + std::to_string(b.edm) + ", lower basin found by probes";
        offer(b, x, fx);
      }
    }
  } catch (const EvaluationBudgetSpent&) {
    spent = true;
  }
  if (spent) {
    MinimizerAttempt b;
    b.strategy = "evaluation budget";
    b.f = best_f;
    b.message = "evaluation budget of " + std::to_string(s.budget) + " spent (MinimizerOptions::max_evaluations)";
    r.attempts.push_back(b);
    if (best < 0) best = 0;
  }
  r.status = best_ok ? MinimizerStatus::kConverged : MinimizerStatus::kFailed;
  r.edm = r.attempts[best].edm;
  r.message = r.attempts[best].message;
  if (spent && !best_ok && best + 1 < static_cast<int>(r.attempts.size()))
    r.message = r.attempts.back().message + "; the best attempt's: " + r.message;
  if (r.attempts.size() > 1)
    r.message += " (" + r.attempts[best].strategy + ", attempt " + std::to_string(best + 1) + " of " +
                 std::to_string(r.attempts.size()) + (best_ok ? ")" : "; none converged)");
  return finish(best_x, best_f);
}

}  // namespace refinery
