// The toy summary's nuisance response (infer/toy_summary.h): a joint
// least-squares fit of mu_hat - mu_true to the toys' true nuisances, on
// synthetic toys whose bias depends linearly on one nuisance.
#include "tests/testing.hpp"

#include <cmath>
#include <fstream>
#include <random>

#include "infer/toy_summary.h"
#include "src/core/error.h"

using namespace refinery;

namespace {
// A usable toy at mu_true = 1 with mu_hat, Hessian error sigma and the
// interval mu_hat +- sigma.
ToyRow usable_toy(int index, double mu_hat, double sigma) {
  ToyRow r;
  r.index = index;
  r.mu_true = 1.0;
  r.mu_hat = mu_hat;
  r.mu_error = sigma;
  r.lower = mu_hat - sigma;
  r.upper = mu_hat + sigma;
  r.converged = r.interval_ok = true;
  return r;
}
}  // namespace

TEST_CASE("Toy summary: the nuisance response finds the nuisance the fit does not absorb", "[toys][summary]") {
  // 400 toys: a, b ~ N(0,1) drawn from their priors, c fixed (not fitted);
  // mu_hat - mu_true = 0.05 + 0.1 a + N(0, 0.09), Hessian error 0.09.
  std::mt19937_64 rng(17);
  std::normal_distribution<double> gauss(0.0, 1.0);
  const double sigma = 0.09, n = 400;
  std::vector<ToyRow> rows;
  for (int i = 0; i < n; ++i) {
    const double a = gauss(rng), b = gauss(rng);
    ToyRow r = usable_toy(i, 1.0 + 0.05 + 0.1 * a + sigma * gauss(rng), sigma);
    r.nu_true = {a, b, 1.0};
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

TEST_CASE("Toy summary: pulls of the fitted nuisances, and the fitted columns of the CSV", "[toys][summary]") {
  // 500 toys, truths a, b ~ N(0,1) (drawn from the priors), fitted errors
  // 0.1: a_hat = a + 0.05 + N(0, 0.1) (biased by half an error), b_hat =
  // b + N(0, 0.2) (its error understated by half).
  std::mt19937_64 rng(23);
  std::normal_distribution<double> gauss(0.0, 1.0);
  const int n = 500;
  std::vector<ToyRow> rows;
  for (int i = 0; i < n; ++i) {
    const double a = gauss(rng), b = gauss(rng);
    const double a_hat = a + 0.05 + 0.1 * gauss(rng), b_hat = b + 0.2 * gauss(rng);
    ToyRow r = usable_toy(i, 1.0 + 0.1 * gauss(rng), 0.1);
    r.nu_true = {a, b};
    r.nu_hat = {a_hat, b_hat};
    r.nu_error = {0.1, 0.1};
    rows.push_back(r);
  }
  rows[7].converged = false;  // not counted
  const nlohmann::json s = summarise_toys(rows, {"a", "b"});
  REQUIRE(s.contains("nuisance_pulls"));
  const nlohmann::json& p = s["nuisance_pulls"];
  INFO(p.dump(2));
  REQUIRE(p.size() == 2);
  REQUIRE(p[0]["name"] == "a");
  REQUIRE(p[0]["toys"] == n - 1);
  // Means 0.5 and 0 with errors sd / sqrt(499) (0.045 and 0.09); spreads 1 and 2.
  REQUIRE(p[0]["mean_error"].get<double>() == Approx(1.0 / std::sqrt(n - 1.0)).epsilon(0.1));
  REQUIRE(std::abs(p[0]["mean"].get<double>() - 0.5) < 3 * p[0]["mean_error"].get<double>());
  REQUIRE(std::abs(p[1]["mean"].get<double>()) < 3 * p[1]["mean_error"].get<double>());
  REQUIRE(std::abs(p[0]["sd"].get<double>() - 1.0) < 0.1);
  REQUIRE(std::abs(p[1]["sd"].get<double>() - 2.0) < 0.2);
  REQUIRE(p[1]["mean_fitted_error"].get<double>() == Approx(0.1));
  REQUIRE(toy_table(s).find("fitted - true nuisances in units of their fitted errors") != std::string::npos);

  // The CSV round trip keeps the fitted columns, named <name>_hat and <name>_error.
  refinery::testing::TempDir tmp("toy_summary_csv");
  const std::string dir = tmp.dir();
  write_toy_csv(dir + "/f.csv", {"a", "b"}, rows);
  std::string head;
  std::getline(std::ifstream(dir + "/f.csv") >> std::ws, head);
  REQUIRE(head == "index,mu_true,a,b,a_hat,b_hat,a_error,b_error,events,converged,interval_ok,mu_hat,mu_error,lower,upper,seconds");
  std::vector<std::string> names;
  const std::vector<ToyRow> back = read_toy_csv(dir + "/f.csv", &names);
  REQUIRE(names == std::vector<std::string>{"a", "b"});
  REQUIRE(back.size() == rows.size());
  REQUIRE(back[3].nu_hat[1] == Approx(rows[3].nu_hat[1]).epsilon(1e-9));
  REQUIRE(back[3].nu_error[0] == Approx(0.1));
  REQUIRE(back[3].mu_hat == Approx(rows[3].mu_hat).epsilon(1e-9));
  // Rows without fitted values (CSVs of earlier versions) write and read as before.
  std::vector<ToyRow> plain = rows;
  for (auto& r : plain) r.nu_hat.clear(), r.nu_error.clear();
  write_toy_csv(dir + "/p.csv", {"a", "b"}, plain);
  std::getline(std::ifstream(dir + "/p.csv") >> std::ws, head);
  REQUIRE(head == "index,mu_true,a,b,events,converged,interval_ok,mu_hat,mu_error,lower,upper,seconds");
  const std::vector<ToyRow> plain_back = read_toy_csv(dir + "/p.csv", &names);
  REQUIRE(names == std::vector<std::string>{"a", "b"});
  REQUIRE(plain_back[3].nu_hat.empty());
  REQUIRE(!summarise_toys(plain_back, names).contains("nuisance_pulls"));
  // Truth names that the generated names would repeat: no fitted columns,
  // so that the header reads back unambiguously.
  write_toy_csv(dir + "/q.csv", {"x", "x_hat"}, rows);
  REQUIRE(read_toy_csv(dir + "/q.csv", &names).front().nu_hat.empty());
  REQUIRE(names == std::vector<std::string>{"x", "x_hat"});
  // A row with a column missing names its line.
  {
    std::ofstream(dir + "/bad.csv") << "index,mu_true,a,a_hat,a_error,events,converged,interval_ok,mu_hat,mu_error,lower,upper,seconds\n"
                                    << "0,1,0.5,0.4,0.1,10,1,1,1,0.1,0.9,1.1\n";
  }
  REQUIRE_THROWS_WITH(read_toy_csv(dir + "/bad.csv"), Catch::Contains("line 2") && Catch::Contains("expected 13 columns, got 12"));
}
