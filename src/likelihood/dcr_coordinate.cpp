#include "src/likelihood/dcr_coordinate.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace refinery::likelihood {

bool is_knot(int power) { return power > kKnot - 1000 && power < kKnot + 1000; }
double knot_of(int power) { return (power - kKnot) / 10.0; }

int knot_code(double t) {
  const long tenths = std::isfinite(t) && std::fabs(t) < 100.0 ? std::lround(10.0 * t) : 1000;
  if (tenths <= -1000 || tenths >= 1000)
    throw std::invalid_argument("a knot within (-100, 100), got " + std::to_string(t));
  return kKnot + int(tenths);
}

bool has_appended_term(int power) { return power == kCubic || is_knot(power); }

void appended_term(int power, double nu, double* value, double* first, double* second) {
  if (power == kCubic) {
    *value = nu * nu * nu, *first = 3.0 * nu * nu, *second = 6.0 * nu;
  } else if (is_knot(power)) {
    const double d = nu - knot_of(power);
    *value = d > 0 ? d * d : 0.0, *first = d > 0 ? 2.0 * d : 0.0, *second = d > 0 ? 2.0 : 0.0;
  } else {
    *value = *first = *second = 0.0;
  }
}

int coordinate_power(const std::string& name) {
  if (name == "linear") return 1;
  if (name == "square") return 2;
  if (name == "cubic") return kCubic;
  if (name.rfind("knot:", 0) == 0) {
    const std::string t = name.substr(5);
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(t, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (t.empty() || used != t.size()) throw std::invalid_argument("a knot's position after 'knot:', got '" + name + "'");
    if (std::fabs(10.0 * v - std::round(10.0 * v)) > 1e-9)
      throw std::invalid_argument("a knot on a grid of 0.1, got '" + name + "'");
    return knot_code(v);
  }
  throw std::invalid_argument("expected linear, square, cubic or knot:T, got '" + name + "'");
}

std::string coordinate_name(int power) {
  if (is_knot(power)) {
    std::ostringstream s;
    s << "knot:" << knot_of(power);
    return s.str();
  }
  return power == 2 ? "square" : power == kCubic ? "cubic" : "linear";
}

int cubic_terms(const std::vector<int>& powers) {
  int n = 0;
  for (int p : powers) n += p == kCubic;
  return n;
}

int appended_terms(const std::vector<int>& powers) {
  int n = 0;
  for (int p : powers) n += has_appended_term(p);
  return n;
}

int64_t ansatz_size(int64_t k, int order, const std::vector<int>& powers) {
  return (order == 1 ? k : k + k * (k + 1) / 2) + appended_terms(powers);
}

bool all_linear(const std::vector<int>& powers) {
  for (int p : powers)
    if (p != 1) return false;
  return true;
}

}  // namespace refinery::likelihood
