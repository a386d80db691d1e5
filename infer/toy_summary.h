// Results of pseudo-experiments (refinery toys): one CSV row per toy, and the
// summary a physicist reads: coverage of the 68.27% interval with its
// binomial error, mean width, bias and pulls of mu_hat, and the score of the
// FAIR Universe HiggsML Uncertainty Challenge,
//   s = -ln((w + 1e-3) f(c)),  f(c) = 1 inside 0.68 +- 2 sigma_68,
//   1 + |(c - (0.68 - 2 sigma_68)) / sigma_68|^4 below, 1 + |(c - (0.68 + 2 sigma_68)) / sigma_68|^3 above,
//   sigma_68 = sqrt(0.68 (1 - 0.68) N) / N
// (w mean width, c coverage, N toys; FAIR-Universe/HEP-Challenge, pages/evaluation.md).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace refinery {

struct ToyRow {
  int64_t index = 0;
  double mu_true = 1.0;
  std::vector<double> nu_true;  // the true values of the other parameters (the CSV's truth columns)
  // The fit's values and Hessian errors of the same parameters (columns
  // <name>_hat, <name>_error; empty in CSVs written without them).
  std::vector<double> nu_hat, nu_error;
  // Per parameter k, the slope of mu_hat on the true nu_k that the fit's own
  // covariance C and constraint curvature P imply for pseudo-experiments
  // with the truth drawn from the priors and the auxiliary data at their
  // centres: -(C P)_{mu,k}, i.e. -C(mu, nu_k) / width_k^2 for a Gaussian
  // constraint (column <name>_constraint_slope; 0 for an unconstrained
  // parameter; empty in CSVs written without it). In the linearised model
  // theta_hat - theta_true = -C P (theta_true - centre) + noise, so a model
  // that describes the data shows this slope and no more: a constrained
  // nuisance pulls mu_hat towards what its centre implies.
  std::vector<double> nu_constraint_slope;
  int64_t events = 0;
  bool converged = false, interval_ok = false;
  double mu_hat = 0, mu_error = 0, lower = 0, upper = 0, seconds = 0;
  bool covers() const { return interval_ok && lower <= mu_true && mu_true <= upper; }
};

// CSV columns: index, mu_true, one per truth name (the model's parameters
// other than the POI: the analysis' own names), then, where every row has
// them, <name>_hat for each and <name>_error for each (the fit's values and
// errors) and, where every row has them too, <name>_constraint_slope for
// each, then events, converged, interval_ok, mu_hat, mu_error, lower,
// upper, seconds. The reader takes CSVs with and without the fitted columns.
void write_toy_csv(const std::string& path, const std::vector<std::string>& truth_names,
                   const std::vector<ToyRow>& rows);  // atomic
// A toys CSV that grows one row at a time, as a run finishes its toys:
// after each add() the file holds what write_toy_csv(path, names, rows())
// writes, so that a run stopped at any point keeps the toys it finished.
// A row is appended where the header stays (a line per toy: O(1), where
// rewriting the file after every toy is O(n) per toy); the file is rewritten
// atomically where the header changes (the first row, a row without the
// fitted columns).
class ToyCsvAppender {
 public:
  ToyCsvAppender(std::string path, std::vector<std::string> truth_names);  // writes the header
  void add(const ToyRow& row);
  const std::vector<ToyRow>& rows() const { return rows_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> names_;
  std::vector<ToyRow> rows_;
  int groups_ = 1;
};
// InputError naming file and line; `truth_names` gets the header's. With
// `cut_line`, a last line without its newline (the write of a killed run)
// is dropped and its number stored there (0 where there is none).
std::vector<ToyRow> read_toy_csv(const std::string& path, std::vector<std::string>* truth_names = nullptr,
                                 int64_t* cut_line = nullptr);
// Reads toy shards for merging and refuses what would double count or mix
// runs: a file without toys, a converged toy with a non-finite mu_hat, a
// shard whose summary (<file>.json) is missing or names another config hash
// (than `config_hash`, which `merged_with` describes in that message: "--config
// FILE", "the built-in experiment (no --config)", a workspace), seed, truth or analysis, the same shard twice, a
// missing shard of i/N, shards of one run asked for different numbers of
// toys, a toy (mu_true, index) in two files, and truth columns that differ.
// Each error names the file. A shard whose summary says it stopped before
// its end ("complete": false) merges with the toys it finished (none
// included). `provenance` gets the shards' common config hash, seed, truth
// and analysis, "complete" (every shard ran to its end) and the files that
// did not ("incomplete_shards"); `truth_names` the truth columns.
std::vector<ToyRow> merge_toy_shards(const std::vector<std::string>& files, const std::string& config_hash,
                                     const std::string& merged_with, nlohmann::json* provenance,
                                     std::vector<std::string>* truth_names = nullptr);
double coverage_penalty(double coverage, int64_t n);
// Overall and per mu_true. With the truth columns' names, also
// `nuisance_response`: a least-squares fit over the usable toys of
//   mu_hat - mu_true = b_0 + sum_k b_k nu_true_k
// to the truth columns that vary (nuisances drawn from their priors), with
// each slope's error, the pull's correlation with each, and the residual
// spread against the mean Hessian error; where the rows carry it, each
// slope's `constraint_slope`, the mean over those toys of ToyRow::
// nu_constraint_slope: what a model that describes the data gives (a
// constrained nuisance that moves mu_hat has a slope by its constraint
// alone). A slope many errors from its constraint slope (from 0 without
// it) names a nuisance whose effect the fit does not describe; a residual
// spread equal to the mean error says the rest of the pull width is
// statistical.
// Where the rows carry the fitted nuisances, also `nuisance_pulls`: per
// parameter, the mean (with its error) and spread of (hat - true) / error
// over the converged toys, and the mean error. Nuisances drawn from their
// priors with the auxiliary data at the centre (or fixed truths with drawn
// auxiliary data) give mean 0 and spread 1 where the model is right; a mean
// many errors from 0 says the fit misplaces that nuisance. Where the truths
// were drawn, also `response`: the slope of the fitted value on the true one
// (least squares, with `response_error`), against `response_by_constraint`,
// 1 - mean error^2 / the truths' variance, the shrinkage of a fit that
// describes the data (its constraint's precision weight); below it, the fit
// attenuates the nuisance (reads more information than the data hold).
nlohmann::json summarise_toys(const std::vector<ToyRow>& rows, const std::vector<std::string>& truth_names = {});
std::string toy_table(const nlohmann::json& summary);

}  // namespace refinery
