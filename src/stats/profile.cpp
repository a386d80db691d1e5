#include "src/stats/profile.h"

#include "src/stats/exclusion_contour.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace refinery::stats {

double chi2_level(double cl) {
  double lo = 0.0, hi = 40.0;
  for (int i = 0; i < 200; ++i) {
    const double z = 0.5 * (lo + hi);
    (std::erf(z / std::sqrt(2.0)) < cl ? lo : hi) = z;
  }
  const double z = 0.5 * (lo + hi);
  return z * z;
}

double chi2_level_2d(double cl) { return -2.0 * std::log1p(-cl); }

std::vector<std::vector<std::pair<double, double>>> scan_contour(const std::vector<ScanPoint>& points, double level) {
  std::vector<Point2> xy;
  std::vector<double> value;
  for (const auto& p : points) {
    if (!p.converged || p.values.size() != 2 || !std::isfinite(p.t)) continue;
    xy.push_back({p.values[0], p.values[1]});
    // level_lines interpolates log(value) linearly: exp(t) makes that t.
    value.push_back(std::exp(std::min(std::max(p.t, 0.0), 700.0)));
  }
  std::vector<std::vector<std::pair<double, double>>> out;
  if (xy.size() < 3) return out;
  for (const auto& line : level_lines(xy, value, delaunay(xy), std::exp(level))) {
    std::vector<std::pair<double, double>> l;
    for (const auto& q : line) l.push_back({q.x, q.y});
    out.push_back(std::move(l));
  }
  return out;
}

namespace {

ScanPoint point(const Model& model, const FitResult& best, std::vector<std::pair<int, double>> hold,
                const Eigen::VectorXd& warm, const ProfileOptions& options) {
  FitOptions fo = options.fit;
  fo.start = warm;
  fo.covariance = false;
  ScanPoint p;
  for (const auto& h : hold) p.values.push_back(h.second);
  fo.hold.insert(fo.hold.end(), hold.begin(), hold.end());
  FitResult r = fit(model, fo);
  p.nll = r.nll;
  p.t = 2.0 * (r.nll - best.nll);
  p.converged = r.ok();
  p.reason = r.ok() ? "" : r.reason;
  p.x = r.x;
  return p;
}

}  // namespace

std::vector<ScanPoint> profile_scan(const Model& model, const FitResult& best, int index,
                                    const std::vector<double>& values, const ProfileOptions& options,
                                    ScanRows rows) {
  std::vector<ScanPoint> out(values.size());
  std::vector<size_t> up, down;
  for (size_t i = 0; i < values.size(); ++i)
    if (rows.contains(i)) (values[i] >= best.x[index] ? up : down).push_back(i);
  std::sort(up.begin(), up.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::sort(down.begin(), down.end(), [&](size_t a, size_t b) { return values[a] > values[b]; });
  for (const auto* side : {&up, &down}) {
    Eigen::VectorXd warm = best.x;
    for (size_t i : *side) {
      out[i] = point(model, best, {{index, values[i]}}, warm, options);
      if (out[i].converged) warm = out[i].x;
    }
  }
  return out;
}

std::vector<ScanPoint> profile_scan_2d(const Model& model, const FitResult& best, int a, int b,
                                       const std::vector<double>& values_a, const std::vector<double>& values_b,
                                       const ProfileOptions& options, ScanRows rows) {
  const size_t na = values_a.size(), nb = values_b.size();
  std::vector<ScanPoint> out(na * nb);
  if (na == 0 || nb == 0) return out;
  auto nearest = [](const std::vector<double>& v, double x) {
    size_t k = 0;
    for (size_t i = 1; i < v.size(); ++i)
      if (std::abs(v[i] - x) < std::abs(v[k] - x)) k = i;
    return k;
  };
  // Rows of a ordered outward from the MLE (each side warm-started from the
  // row before it); within a row, b visited outward from its MLE-nearest
  // column too.
  const double a_hat = best.x[a], b_hat = best.x[b];
  const size_t start_b = nearest(values_b, b_hat);
  std::vector<size_t> cols_up, cols_down;
  for (size_t j = 0; j < nb; ++j) (values_b[j] >= values_b[start_b] ? cols_up : cols_down).push_back(j);
  std::sort(cols_up.begin(), cols_up.end(), [&](size_t x, size_t y) { return values_b[x] < values_b[y]; });
  std::sort(cols_down.begin(), cols_down.end(), [&](size_t x, size_t y) { return values_b[x] > values_b[y]; });
  std::vector<size_t> up, down;
  for (size_t i = 0; i < na; ++i)
    if (rows.contains(i)) (values_a[i] >= a_hat ? up : down).push_back(i);
  std::sort(up.begin(), up.end(), [&](size_t x, size_t y) { return values_a[x] < values_a[y]; });
  std::sort(down.begin(), down.end(), [&](size_t x, size_t y) { return values_a[x] > values_a[y]; });
  for (const auto* side : {&up, &down}) {
    Eigen::VectorXd row_warm = best.x;
    for (size_t i : *side) {
      bool first = true;
      for (const auto* cols : {&cols_up, &cols_down}) {
        Eigen::VectorXd warm = row_warm;
        for (size_t j : *cols) {
          ScanPoint& p = out[i * nb + j];
          p = point(model, best, {{a, values_a[i]}, {b, values_b[j]}}, warm, options);
          if (p.converged) {
            warm = p.x;
            if (first) row_warm = p.x;
          }
          first = false;
        }
      }
    }
  }
  return out;
}

namespace {

// One side of the interval: direction +1 (upper) or -1 (lower).
Crossing find_crossing(const Model& model, const FitResult& best, int index, double level, int direction,
                       const ProfileOptions& options) {
  const Parameter& par = model.parameters()[index];
  const double hat = best.x[index];
  const double bound = direction > 0 ? par.upper : par.lower;
  const double target = std::sqrt(level);
  const double sigma = best.error.size() > index && best.error[index] > 0 ? best.error[index]
                                                                          : std::max(0.1 * std::abs(hat), 0.1);
  Crossing c;
  // Points (v, sqrt t) known so far; sqrt t is close to linear in v.
  double v_a = hat, q_a = 0.0;
  Eigen::VectorXd warm = best.x;
  double v = hat + direction * sigma * target;
  for (int step = 0; step < options.max_crossing_steps; ++step) {
    if (direction * (v - bound) >= 0) v = bound;
    ScanPoint r = point(model, best, {{index, v}}, warm, options);
    ++c.fits;
    if (!r.converged) {
      c.status = "profile fit failed at " + par.name + " = " + std::to_string(v) + ": " + r.reason;
      c.value = v;
      return c;
    }
    const double t = std::max(r.t, 0.0);
    const double q = std::sqrt(t);
    if (std::abs(t - level) < options.crossing_tolerance) {
      c.value = v;
      c.found = true;
      c.status = "found";
      return c;
    }
    if (v == bound && t < level) {
      c.value = bound;
      c.at_bound = true;
      c.status = "t below the level at the bound of " + par.name;
      return c;
    }
    warm = r.x;
    // Secant on sqrt(t) - sqrt(level) through the last two points.
    double next;
    if (std::abs(q - q_a) > 1e-12) next = v + (target - q) * (v - v_a) / (q - q_a);
    else next = v + direction * sigma;
    // Keep the step on the correct side and not wildly long.
    if (direction * (next - hat) <= 0) next = 0.5 * (v + hat);
    v_a = v;
    q_a = q;
    v = next;
  }
  c.value = v;
  c.status = "no crossing within " + std::to_string(options.max_crossing_steps) + " profile fits";
  return c;
}

}  // namespace

Interval profile_interval(const Model& model, const FitResult& best, int index, double level,
                          const ProfileOptions& options) {
  Interval in;
  in.parameter = model.parameters()[index].name;
  in.level = level;
  in.cl = std::erf(std::sqrt(level) / std::sqrt(2.0));
  in.lower = find_crossing(model, best, index, level, -1, options);
  in.upper = find_crossing(model, best, index, level, +1, options);
  return in;
}

nlohmann::json Interval::to_json() const {
  auto side = [](const Crossing& c) {
    return nlohmann::json{{"value", c.value}, {"found", c.found}, {"at_bound", c.at_bound}, {"status", c.status},
                          {"fits", c.fits}};
  };
  return {{"parameter", parameter}, {"level", level}, {"cl", cl}, {"lower", side(lower)}, {"upper", side(upper)},
          {"width", upper.value - lower.value}};
}

}  // namespace refinery::stats
