// The coordinates of the DCR ansatz's nuisances (dcr_ansatz.h): how each
// nuisance enters phi, by a power code, and the names configs and archives'
// metadata give them. LibTorch-free, so that the config schema (refinery_base)
// refuses a bad spelling when the config is loaded, with the same parser the
// training and the archives use.
//   1 (linear): u_k = nu_k, the default;
//   2 (square): u_k = nu_k^2, for a nuisance whose effect is even in it;
//   kCubic:     u_k = nu_k, with nu_k^3 appended after the products;
//   a knot at t (kKnot + round(10 t)): u_k = nu_k, with (nu_k - t)_+^2
//               appended after the products (a quadratic spline, C1 at t).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace refinery::likelihood {

// The power code of a cubic nuisance.
constexpr int kCubic = 3;
// The code of a nuisance with a knot at t: kKnot + round(10 t), |t| < 100
// (a knot on a grid of 0.1).
constexpr int kKnot = 100000;
bool is_knot(int power);
double knot_of(int power);
int knot_code(double t);  // throws std::invalid_argument outside (-100, 100)
// A nuisance whose term is appended after the products (cubic or knot), its
// value at nu and first two derivatives.
bool has_appended_term(int power);
void appended_term(int power, double nu, double* value, double* first, double* second);

// The names of the coordinates in configs and archives' metadata: "linear"
// (power 1), "square" (power 2), "cubic" (kCubic) and "knot:T" (a knot at T,
// e.g. "knot:3"). Throws std::invalid_argument otherwise.
int coordinate_power(const std::string& name);
std::string coordinate_name(int power);
// All powers 1 (or none given).
bool all_linear(const std::vector<int>& powers);
// The number of cubic nuisances; of terms appended after the products (cubic
// and knots); the ansatz's number of coefficients C.
int cubic_terms(const std::vector<int>& powers);
int appended_terms(const std::vector<int>& powers);
int64_t ansatz_size(int64_t n_nuisances, int order, const std::vector<int>& powers = {});

}  // namespace refinery::likelihood
