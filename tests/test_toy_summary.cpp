// The toy summary's nuisance response (infer/toy_summary.h): a joint
// least-squares fit of mu_hat - mu_true to the toys' true nuisances, on
// synthetic toys whose bias depends linearly on one nuisance; and the
// slopes the constraints alone give (stats::constraint_slopes) against the
// measured ones on pseudo-experiments of a model that describes its data.
#include "tests/testing.hpp"

#include <cmath>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "infer/toy_summary.h"
#include "src/core/error.h"
#include "src/stats/fit.h"
#include "src/stats/simplified_likelihood.h"

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
  // The fitted values' response to the truths: 1 (a and b follow their
  // truths one to one) within the least-squares errors 0.1 / sqrt(499) and
  // 0.2 / sqrt(499); a constraint alone would shrink them to 1 - 0.1^2 / 1.
  for (int k = 0; k < 2; ++k) {
    REQUIRE(p[k]["response_error"].get<double>() == Approx((k == 0 ? 0.1 : 0.2) / std::sqrt(n - 1.0)).epsilon(0.1));
    REQUIRE(std::abs(p[k]["response"].get<double>() - 1.0) < 4 * p[k]["response_error"].get<double>());
    REQUIRE(p[k]["response_by_constraint"].get<double>() == Approx(0.99).margin(0.002));
  }
  // An attenuated fit, a_hat = 0.8 a + N(0, 0.1): response 0.8.
  {
    std::vector<ToyRow> attenuated = rows;
    std::normal_distribution<double> noise(0.0, 0.1);
    for (auto& r : attenuated) r.nu_hat[0] = 0.8 * r.nu_true[0] + noise(rng);
    const nlohmann::json a = summarise_toys(attenuated, {"a", "b"})["nuisance_pulls"][0];
    INFO(a.dump());
    REQUIRE(std::abs(a["response"].get<double>() - 0.8) < 4 * a["response_error"].get<double>());
    REQUIRE(toy_table(summarise_toys(attenuated, {"a", "b"})).find("response 0.8") != std::string::npos);
  }
  // Fixed truths: no response (the slope needs drawn truths).
  {
    std::vector<ToyRow> fixed = rows;
    for (auto& r : fixed) r.nu_true = {0.5, 0.0};
    REQUIRE(!summarise_toys(fixed, {"a", "b"})["nuisance_pulls"][0].contains("response"));
  }

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

TEST_CASE("Toy summary: the constraint slopes, written and read, and what a model that describes its data shows",
          "[toys][summary]") {
  // Two bins, n_i ~ Poisson(mu s_i + b_i + (L eta)_i), eta ~ N(0, 1): the
  // background's uncertainty (30 and 20 events, correlation 0.5) is as
  // large as the signal's statistical error, so each eta_j moves mu_hat
  // through its constraint. Truth drawn from the priors (eta ~ N(0, 1)),
  // auxiliary data at their centres, as `refinery toys --nu-true from-priors`.
  const nlohmann::json doc = {{"simplified_likelihood", 1},
                              {"bins", {"low", "high"}},
                              {"observed", {1500, 600}},
                              {"background", {1000.0, 400.0}},
                              {"covariance", {{900.0, 300.0}, {300.0, 400.0}}},
                              {"signal", {500.0, 200.0}}};
  const stats::SimplifiedLikelihoodModel model(stats::read_simplified_likelihood(doc, "two.json"));
  REQUIRE(model.size() == 3);
  const int poi = model.index("mu");
  REQUIRE(poi >= 0);
  std::vector<std::string> names;
  for (int i = 0; i < model.size(); ++i)
    if (i != poi) names.push_back(model.parameters()[i].name);
  std::mt19937_64 rng(31);
  std::normal_distribution<double> gauss(0.0, 1.0);
  std::vector<ToyRow> rows;
  for (int t = 0; t < 600; ++t) {
    Eigen::VectorXd x = model.init();
    x[poi] = 1.0;
    ToyRow r;
    r.index = t;
    for (int i = 0; i < model.size(); ++i)
      if (i != poi) r.nu_true.push_back(x[i] = gauss(rng));
    std::unique_ptr<stats::Model> toy = model.toy(x, 1000 + t);
    toy->copy_parameters(model);  // the auxiliary data back at their centres
    const stats::FitResult f = stats::fit(*toy);
    REQUIRE(f.ok());
    const Eigen::VectorXd slope = stats::constraint_slopes(*toy, f, poi);
    REQUIRE(slope[poi] == 0.0);  // the POI has no constraint
    for (int i = 0; i < model.size(); ++i)
      if (i != poi) {
        r.nu_hat.push_back(f.x[i]);
        r.nu_error.push_back(f.error[i]);
        r.nu_constraint_slope.push_back(slope[i]);
      }
    r.mu_true = 1.0;
    r.mu_hat = f.x[poi];
    r.mu_error = f.error[poi];
    r.lower = r.mu_hat - r.mu_error;
    r.upper = r.mu_hat + r.mu_error;
    r.converged = r.interval_ok = true;
    rows.push_back(r);
  }
  const nlohmann::json s = summarise_toys(rows, names);
  REQUIRE(s.contains("nuisance_response"));
  const nlohmann::json& resp = s["nuisance_response"];
  INFO(resp.dump(2));
  REQUIRE(resp["nuisances"].size() == 2);
  for (const auto& k : resp["nuisances"]) {
    REQUIRE(k.contains("constraint_slope"));
    const double expected = k["constraint_slope"].get<double>(), measured = k["slope"].get<double>(),
                 error = k["slope_error"].get<double>();
    // Far from 0 (the slopes are real), and what the toys measure.
    REQUIRE(std::abs(expected) > 5 * error);
    REQUIRE(std::abs(measured - expected) < 3.5 * error);
  }
  REQUIRE(toy_table(s).find("by the constraints alone") != std::string::npos);

  // The CSV carries them as <name>_constraint_slope and reads them back.
  refinery::testing::TempDir tmp("toy_summary_slopes");
  write_toy_csv(tmp.path("s.csv"), names, rows);
  std::string head;
  std::getline(std::ifstream(tmp.path("s.csv")) >> std::ws, head);
  const std::string a = names[0], b = names[1];
  REQUIRE(head == "index,mu_true," + a + "," + b + "," + a + "_hat," + b + "_hat," + a + "_error," + b + "_error," + a +
                      "_constraint_slope," + b + "_constraint_slope,events,converged,interval_ok,mu_hat,mu_error,lower,upper,seconds");
  std::vector<std::string> back_names;
  const std::vector<ToyRow> back = read_toy_csv(tmp.path("s.csv"), &back_names);
  REQUIRE(back_names == names);
  REQUIRE(back[5].nu_constraint_slope[1] == Approx(rows[5].nu_constraint_slope[1]).epsilon(1e-9));
  REQUIRE(back[5].nu_error[1] == Approx(rows[5].nu_error[1]).epsilon(1e-9));
  REQUIRE(summarise_toys(back, back_names)["nuisance_response"]["nuisances"][0].contains("constraint_slope"));
  // One row without them: the file keeps the values and errors only.
  rows[3].nu_constraint_slope.clear();
  write_toy_csv(tmp.path("t.csv"), names, rows);
  const std::vector<ToyRow> without = read_toy_csv(tmp.path("t.csv"), &back_names);
  REQUIRE(without[0].nu_constraint_slope.empty());
  REQUIRE(without[0].nu_hat.size() == 2);
  REQUIRE(!summarise_toys(without, back_names)["nuisance_response"]["nuisances"][0].contains("constraint_slope"));
}

TEST_CASE("Toy summary: a CSV grown toy by toy is the one written at once, and a cut last line", "[toys][summary]") {
  // Rows with every fitted column, then one without the constraint slopes
  // (the header loses those columns: the file is rewritten), then more.
  std::vector<ToyRow> rows;
  for (int i = 0; i < 7; ++i) {
    ToyRow r = usable_toy(i, 1.0 + 0.01 * i, 0.1 + 0.001 * i);
    r.nu_true = {0.1 * i, -0.2 * i};
    r.nu_hat = {0.09 * i, -0.19 * i};
    r.nu_error = {0.5, 0.25 + 0.01 * i};
    if (i != 4) r.nu_constraint_slope = {0.01 * i, 0.02};
    r.events = 100 + i;
    r.seconds = 0.125 * i;
    rows.push_back(r);
  }
  const std::vector<std::string> names = {"a", "b"};
  refinery::testing::TempDir tmp("toy_csv_append");
  auto text = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  ToyCsvAppender csv(tmp.path("grown.csv"), names);
  write_toy_csv(tmp.path("once.csv"), names, {});
  REQUIRE(text(tmp.path("grown.csv")) == text(tmp.path("once.csv")));
  for (size_t n = 1; n <= rows.size(); ++n) {
    csv.add(rows[n - 1]);
    write_toy_csv(tmp.path("once.csv"), names, std::vector<ToyRow>(rows.begin(), rows.begin() + n));
    INFO("after " << n << " rows");
    REQUIRE(text(tmp.path("grown.csv")) == text(tmp.path("once.csv")));
  }
  REQUIRE(csv.rows().size() == rows.size());
  REQUIRE(text(tmp.path("grown.csv")).find("_constraint_slope") == std::string::npos);  // row 4 has none

  // A killed run's last write, cut inside a line: refused where read as is,
  // dropped (its line number told) where the caller accepts a stopped file.
  std::string cut = text(tmp.path("grown.csv"));
  cut += cut.substr(cut.find('\n') + 1, 17);  // the start of the first row again, no newline
  {
    std::ofstream(tmp.path("cut.csv"), std::ios::binary) << cut;
  }
  REQUIRE_THROWS_WITH(read_toy_csv(tmp.path("cut.csv")), Catch::Contains("cut.csv") && Catch::Contains("line 9"));
  int64_t cut_line = -1;
  const std::vector<ToyRow> kept = read_toy_csv(tmp.path("cut.csv"), nullptr, &cut_line);
  REQUIRE(cut_line == 9);
  REQUIRE(kept.size() == rows.size());
  REQUIRE(kept.back().mu_hat == Approx(rows.back().mu_hat).epsilon(1e-12));
  cut_line = -1;
  REQUIRE(read_toy_csv(tmp.path("grown.csv"), nullptr, &cut_line).size() == rows.size());
  REQUIRE(cut_line == 0);
}
