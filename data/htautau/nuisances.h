// The six nuisance parameters of the H->tautau simulator (design.md sections
// 1 and 12), in normalised units: nu = 0 is nominal, nu = 1 one sigma.
//   tes       hadronic-tau energy scale, pT_had *= 1 + 0.01 nu
//   jes       jet energy scale, every jet pT *= 1 + 0.01 nu
//   soft_met  extra Gaussian (px, py) smearing of the MET of width nu GeV;
//             prior LogNormal(0, 1) clipped to [0, 5], nominal 0
//   bkg_norm, ttbar_norm, diboson_norm: weight factors (1 + a)^nu with
//             a = 0.001 (all backgrounds), 0.02 (ttbar), 0.25 (diboson)
#pragma once
#include <array>
#include <map>
#include <string>
#include <vector>

namespace refinery::htautau {

enum Nuisance { kTes = 0, kJes, kSoftMet, kBkgNorm, kTtbarNorm, kDibosonNorm, kNumNuisances };

struct NuisanceSpec {
  const char* name;
  bool calibration;  // changes x (true) or only weights (false)
  const char* prior; // "gaussian" or "lognormal"
  double size;       // relative 1-sigma size (scale or normalisation)
  double min, max;   // allowed range of nu
};

const std::array<NuisanceSpec, kNumNuisances>& nuisance_specs();
std::vector<std::string> nuisance_names();

// A full nuisance vector.
using NuVector = std::array<double, kNumNuisances>;

// Parses "tes=1,jes=-0.5" (or a JSON-like map) into a NuVector, checking
// names and ranges. `where` names the source in errors (e.g. "--nu").
NuVector parse_nu(const std::string& text, const std::string& where);
NuVector nu_from_map(const std::map<std::string, double>& values, const std::string& where);
std::string format_nu(const NuVector& nu);  // "tes=1,jes=-0.5" (non-zero entries), "nominal"
bool is_nominal(const NuVector& nu);

}  // namespace refinery::htautau
