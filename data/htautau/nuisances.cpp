#include "data/htautau/nuisances.h"

#include <cmath>
#include <sstream>

#include "src/core/error.h"
#include "src/core/text.h"

namespace refinery::htautau {

const std::array<NuisanceSpec, kNumNuisances>& nuisance_specs() {
  static const std::array<NuisanceSpec, kNumNuisances> specs = {{
      {"tes", true, "gaussian", 0.01, -10.0, 10.0},
      {"jes", true, "gaussian", 0.01, -10.0, 10.0},
      {"soft_met", true, "lognormal", 1.0, 0.0, 5.0},
      {"bkg_norm", false, "gaussian", 0.001, -10.0, 10.0},
      {"ttbar_norm", false, "gaussian", 0.02, -10.0, 10.0},
      {"diboson_norm", false, "gaussian", 0.25, -10.0, 10.0},
  }};
  return specs;
}

std::vector<std::string> nuisance_names() {
  std::vector<std::string> names;
  for (const auto& s : nuisance_specs()) names.emplace_back(s.name);
  return names;
}

NuVector nu_from_map(const std::map<std::string, double>& values, const std::string& where) {
  NuVector nu{};
  for (const auto& [name, value] : values) {
    int k = -1;
    for (int i = 0; i < kNumNuisances; ++i)
      if (name == nuisance_specs()[i].name) k = i;
    if (k < 0) throw InputError("", where, "unknown nuisance '" + name + "' (known: " + join(nuisance_names()) + ")");
    const auto& s = nuisance_specs()[k];
    if (!std::isfinite(value) || value < s.min || value > s.max) {
      std::ostringstream os;
      os << name << " = " << value << " outside its allowed range [" << s.min << ", " << s.max
         << "]";
      throw InputError("", where, os.str());
    }
    nu[k] = value;
  }
  return nu;
}

NuVector parse_nu(const std::string& text, const std::string& where) {
  std::map<std::string, double> values;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos)
      throw InputError("", where, "expected name=value, got '" + item + "'");
    std::string name = item.substr(0, eq), value = item.substr(eq + 1);
    try {
      size_t used = 0;
      double v = std::stod(value, &used);
      if (used != value.size()) throw std::invalid_argument(value);
      values[name] = v;
    } catch (const std::exception&) {
      throw InputError("", where, "value of " + name + " is not a number: '" + value + "'");
    }
  }
  return nu_from_map(values, where);
}

std::string format_nu(const NuVector& nu) {
  std::ostringstream os;
  for (int k = 0; k < kNumNuisances; ++k)
    if (nu[k] != 0.0) os << (os.tellp() > 0 ? "," : "") << nuisance_specs()[k].name << "=" << nu[k];
  std::string s = os.str();
  return s.empty() ? "nominal" : s;
}

bool is_nominal(const NuVector& nu) {
  for (double v : nu)
    if (v != 0.0) return false;
  return true;
}

}  // namespace refinery::htautau
