// The toy summary's nuisance response (infer/toy_summary.h): a joint
// least-squares fit of mu_hat - mu_true to the toys' true nuisances, on
// synthetic toys whose bias depends linearly on one nuisance.
#include "tests/testing.hpp"

#include <cmath>
#include <random>

#include "infer/toy_summary.h"

using namespace refinery;

TEST_CASE("Toy summary: the nuisance response finds the nuisance the fit does not absorb", "[toys][summary]") {
  // 400 toys: a, b ~ N(0,1) drawn from their priors, c fixed (not fitted);
  // mu_hat - mu_true = 0.05 + 0.1 a + N(0, 0.09), Hessian error 0.09.
  std::mt19937_64 rng(17);
  std::normal_distribution<double> gauss(0.0, 1.0);
  const double sigma = 0.09, n = 400;
  std::vector<ToyRow> rows;
  for (int i = 0; i < n; ++i) {
    ToyRow r;
    r.index = i;
    r.mu_true = 1.0;
    const double a = gauss(rng), b = gauss(rng);
    r.nu_true = {a, b, 1.0};
    r.mu_hat = 1.0 + 0.05 + 0.1 * a + sigma * gauss(rng);
    r.mu_error = sigma;
    r.lower = r.mu_hat - sigma;
    r.upper = r.mu_hat + sigma;
    r.converged = r.interval_ok = true;
    rows.push_back(r);
  }
  const nlohmann::json s = summarise_toys(rows, {"a", "b", "c"});
  REQUIRE(s.contains("nuisance_response"));
  const nlohmann::json& r = s["nuisance_response"];
  INFO(r.dump(2));
  REQUIRE(r["toys"] == 400);
  REQUIRE(r["nuisances"].size() == 2);  // c does not vary
  const nlohmann::json &ra = r["nuisances"][0], &rb = r["nuisances"][1];
  REQUIRE(ra["name"] == "a");
  REQUIRE(rb["name"] == "b");
  // Errors: sigma / sqrt(n) = 0.0045 for each slope and the intercept.
  for (const auto* e : {&ra, &rb}) REQUIRE(std::abs((*e)["slope_error"].get<double>() / (sigma / std::sqrt(n)) - 1) < 0.15);
  REQUIRE(std::abs(ra["slope"].get<double>() - 0.1) < 4 * ra["slope_error"].get<double>());
  REQUIRE(std::abs(rb["slope"].get<double>()) < 4 * rb["slope_error"].get<double>());
  REQUIRE(std::abs(r["intercept"].get<double>() - 0.05) < 4 * r["intercept_error"].get<double>());
  // The residual is the statistical spread; the pull correlates with a as
  // 0.1 / sqrt(0.1^2 + 0.09^2) = 0.74 (error ~0.03).
  REQUIRE(std::abs(r["residual_sd"].get<double>() / sigma - 1) < 0.1);
  REQUIRE(r["mean_error"].get<double>() == Approx(sigma));
  REQUIRE(std::abs(ra["pull_correlation"].get<double>() - 0.74) < 0.12);
  REQUIRE(std::abs(rb["pull_correlation"].get<double>()) < 0.15);
  const std::string table = toy_table(s);
  REQUIRE(table.find("mu_hat - mu_true per unit of the true nuisances (joint least squares over 400 toys)") !=
          std::string::npos);
  REQUIRE(table.find("residual sd 0.0") != std::string::npos);
  // Without names, or with fixed truths only (nominal toys): no response.
  REQUIRE(!summarise_toys(rows).contains("nuisance_response"));
  for (auto& row : rows) row.nu_true = {0.0, 0.0, 1.0};
  REQUIRE(!summarise_toys(rows, {"a", "b", "c"}).contains("nuisance_response"));
}
