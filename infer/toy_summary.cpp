#include "infer/toy_summary.h"

#include <Eigen/Dense>
#include <algorithm>
#include <limits>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include "src/cli/options.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"

namespace refinery {

namespace {
// Columns around the truth's: index, mu_true, <truth names>, then these.
const std::vector<std::string> kTail = {"events", "converged", "interval_ok", "mu_hat", "mu_error", "lower", "upper", "seconds"};

// The fitted columns' names: <name>_hat for each truth name, then
// <name>_error for each, then (with_slope) <name>_constraint_slope for each.
std::vector<std::string> fitted_columns(const std::vector<std::string>& truth_names, bool with_slope) {
  std::vector<std::string> c;
  for (const auto& n : truth_names) c.push_back(n + "_hat");
  for (const auto& n : truth_names) c.push_back(n + "_error");
  if (with_slope)
    for (const auto& n : truth_names) c.push_back(n + "_constraint_slope");
  return c;
}

// How many columns per truth name the CSV holds: 1 the truth alone, 3 with
// the fitted values and errors, 4 with the constraint slopes too. The
// fitted columns are written only where every row has them and no
// generated name is also a truth name (which would make the header
// ambiguous to read back).
int column_groups(const std::vector<std::string>& truth_names, const std::vector<ToyRow>& rows) {
  if (truth_names.empty() || rows.empty()) return 1;
  bool slopes = true;
  for (const auto& r : rows) {
    if (r.nu_hat.size() != truth_names.size() || r.nu_error.size() != truth_names.size()) return 1;
    slopes = slopes && r.nu_constraint_slope.size() == truth_names.size();
  }
  for (const auto& c : fitted_columns(truth_names, slopes))
    for (const auto& n : truth_names)
      if (c == n) return 1;
  return slopes ? 4 : 3;
}

std::string header_of(const std::vector<std::string>& truth_names, int groups) {
  std::string h = "index,mu_true";
  for (const auto& n : truth_names) h += "," + n;
  if (groups > 1)
    for (const auto& n : fitted_columns(truth_names, groups == 4)) h += "," + n;
  for (const auto& t : kTail) h += "," + t;
  return h;
}
}  // namespace

namespace {
// The column groups of one row (column_groups of the rows is the least of
// their rows').
int row_groups(const std::vector<std::string>& truth_names, const ToyRow& row) {
  return column_groups(truth_names, {row});
}

void write_row(std::ostream& s, const std::vector<std::string>& truth_names, int groups, const ToyRow& r) {
  s << r.index << "," << r.mu_true;
  for (size_t k = 0; k < truth_names.size(); ++k) s << "," << (k < r.nu_true.size() ? r.nu_true[k] : 0.0);
  if (groups > 1) {
    for (double v : r.nu_hat) s << "," << v;
    for (double v : r.nu_error) s << "," << v;
  }
  if (groups == 4)
    for (double v : r.nu_constraint_slope) s << "," << v;
  s << "," << r.events << "," << int(r.converged) << "," << int(r.interval_ok) << "," << r.mu_hat << "," << r.mu_error << ","
    << r.lower << "," << r.upper << "," << r.seconds << "\n";
}
}  // namespace

void write_toy_csv(const std::string& path, const std::vector<std::string>& truth_names, const std::vector<ToyRow>& rows) {
  std::ostringstream s;
  const int groups = column_groups(truth_names, rows);
  s << header_of(truth_names, groups) << "\n" << std::setprecision(10);
  for (const auto& r : rows) write_row(s, truth_names, groups, r);
  write_text_atomically(path, s.str());
}

ToyCsvAppender::ToyCsvAppender(std::string path, std::vector<std::string> truth_names)
    : path_(std::move(path)), names_(std::move(truth_names)) {
  write_toy_csv(path_, names_, {});
}

void ToyCsvAppender::add(const ToyRow& row) {
  rows_.push_back(row);
  const int groups = rows_.size() == 1 ? row_groups(names_, row) : std::min(groups_, row_groups(names_, row));
  if (rows_.size() == 1 || groups != groups_) {  // the header changes: the whole file, atomically
    groups_ = groups;
    write_toy_csv(path_, names_, rows_);
    return;
  }
  std::ostringstream s;
  s << std::setprecision(10);
  write_row(s, names_, groups_, row);
  // One write of one line at the end; a process killed during it leaves at
  // most a cut last line, which read_toy_csv drops for a stopped shard.
  std::ofstream out(path_, std::ios::app | std::ios::binary);
  out << s.str();
  out.flush();
  if (!out) throw std::runtime_error("cannot append to " + path_);
}

std::vector<ToyRow> read_toy_csv(const std::string& path, std::vector<std::string>* truth_names, int64_t* cut_line) {
  if (cut_line) *cut_line = 0;
  std::ifstream in(path);
  if (!in) throw InputError(path, "", "cannot open toy results");
  std::string line;
  std::vector<std::string> head;
  if (std::getline(in, line)) {
    std::stringstream ss(line);
    for (std::string item; std::getline(ss, item, ',');) head.push_back(item);
  }
  const size_t n_tail = kTail.size();
  bool ok = head.size() >= 2 + n_tail && head[0] == "index" && head[1] == "mu_true";
  for (size_t k = 0; ok && k < n_tail; ++k) ok = head[head.size() - n_tail + k] == kTail[k];
  if (!ok) throw InputError(path, "line 1", "not a refinery toys CSV (header differs)");
  std::vector<std::string> names(head.begin() + 2, head.end() - n_tail);
  // The fitted columns, where the middle of the header is T truth names
  // followed by exactly their generated <name>_hat and <name>_error (and
  // <name>_constraint_slope).
  int groups = 1;
  for (int g : {4, 3}) {
    if (groups > 1 || names.empty() || names.size() % g != 0) continue;
    const std::vector<std::string> truth(names.begin(), names.begin() + names.size() / g);
    const std::vector<std::string> rest(names.begin() + names.size() / g, names.end());
    if (rest == fitted_columns(truth, g == 4)) {
      groups = g;
      names = truth;
    }
  }
  const int T = static_cast<int>(names.size()), columns = static_cast<int>(head.size());
  if (truth_names) *truth_names = names;
  std::vector<ToyRow> rows;
  for (int ln = 2; std::getline(in, line); ++ln) {
    if (line.empty()) continue;
    // A last line without its newline is a write cut off (a killed run):
    // dropped where the caller accepts that, read (and so refused) otherwise.
    if (cut_line && in.eof()) {
      *cut_line = ln;
      break;
    }
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string item; std::getline(ss, item, ',');) f.push_back(item);
    if (int(f.size()) != columns)
      throw InputError(path, "line " + std::to_string(ln), "expected " + std::to_string(columns) + " columns, got " + std::to_string(f.size()));
    try {
      ToyRow r;
      r.index = std::stoll(f[0]);
      r.mu_true = std::stod(f[1]);
      for (int k = 0; k < T; ++k) r.nu_true.push_back(std::stod(f[2 + k]));
      if (groups > 1)
        for (int k = 0; k < T; ++k) {
          r.nu_hat.push_back(std::stod(f[2 + T + k]));
          r.nu_error.push_back(std::stod(f[2 + 2 * T + k]));
          if (groups == 4) r.nu_constraint_slope.push_back(std::stod(f[2 + 3 * T + k]));
        }
      const int t = 2 + groups * T;
      r.events = std::stoll(f[t]);
      r.converged = std::stoi(f[t + 1]) != 0;
      r.interval_ok = std::stoi(f[t + 2]) != 0;
      r.mu_hat = std::stod(f[t + 3]);
      r.mu_error = std::stod(f[t + 4]);
      r.lower = std::stod(f[t + 5]);
      r.upper = std::stod(f[t + 6]);
      r.seconds = std::stod(f[t + 7]);
      if (!std::isfinite(r.mu_true) || !std::isfinite(r.lower) || !std::isfinite(r.upper)) throw std::invalid_argument("nan");
      rows.push_back(r);
    } catch (const std::exception&) {
      throw InputError(path, "line " + std::to_string(ln), "malformed or non-finite value");
    }
  }
  return rows;
}

std::vector<ToyRow> merge_toy_shards(const std::vector<std::string>& files, const std::string& config_hash,
                                     const std::string& merged_with, nlohmann::json* provenance,
                                     std::vector<std::string>* truth_names) {
  std::vector<ToyRow> all;
  std::vector<std::string> names_first;
  std::map<std::pair<double, int64_t>, std::string> seen_toys;
  // Shards are grouped by their run: the block of toy numbers (--first; 0
  // when the summary predates it) and the true POI values of their toys
  // (every shard of a run holds toys at all of the run's values), so that
  // runs at other signal strengths, or files merged per signal strength,
  // merge too; each run must be complete in itself.
  using Run = std::pair<int64_t, std::set<double>>;
  std::map<Run, std::map<int, std::string>> seen_shards;
  std::map<Run, int> shard_count;
  std::map<Run, nlohmann::json> run_toys;
  nlohmann::json common;
  std::vector<std::string> incomplete;
  for (const auto& file : files) {
    std::vector<std::string> names;
    int64_t cut_line = 0;
    std::vector<ToyRow> rows = read_toy_csv(file, &names, &cut_line);
    if (file == files.front()) names_first = names;
    else if (names != names_first)
      throw InputError(file, "line 1", "its truth columns differ from those of " + files.front());
    for (const auto& r : rows)
      if (r.converged && (!std::isfinite(r.mu_hat) || !std::isfinite(r.mu_error)))
        throw InputError(file, "toy " + std::to_string(r.index), "a converged toy with a non-finite mu_hat or error");
    const std::string side = file + ".json";
    std::ifstream in(side);
    if (!in) throw InputError(side, "", "missing: a shard's summary (config hash, seed, shard) is needed to merge it");
    nlohmann::json s;
    try {
      s = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception&) {
      throw InputError(side, "", "malformed JSON");
    }
    for (const char* key : {"config_hash", "seed", "shard", "nu_true", "analysis"})
      if (!s.is_object() || !s.contains(key)) throw InputError(side, key, "required key missing");
    // A shard stopped before its end (its summary, written as it started,
    // says so) merges with the toys it finished, none included.
    const nlohmann::json complete = s.value("complete", nlohmann::json(true));
    if (!complete.is_boolean()) throw InputError(side, "complete", "expected true or false, got " + complete.dump());
    if (!complete.get<bool>()) incomplete.push_back(file);
    if (cut_line && complete.get<bool>())
      throw InputError(file, "line " + std::to_string(cut_line), "cut off (no newline at its end) in a shard whose summary says it is complete");
    if (rows.empty() && complete.get<bool>()) throw InputError(file, "", "no toys in the file (header only): nothing to merge");
    if (s["config_hash"] != config_hash)
      throw InputError(side, "config_hash", "the shard was made with config " + s["config_hash"].dump() + ", not with " +
                                                merged_with + " (\"" + config_hash + "\"): merge with --config naming the shards' own config");
    nlohmann::json key = {{"seed", s["seed"]}, {"nu_true", s["nu_true"]}, {"analysis", s["analysis"]},
                          {"mc_statistics", s.value("mc_statistics", nlohmann::json(false))}};
    if (common.is_null()) common = key;
    for (const auto& [k, v] : key.items())
      if (common[k] != v)
        throw InputError(side, k, "differs between the shards (" + v.dump() + " here, " + common[k].dump() + " in " + files.front() + ".json)");
    cli::Shard part;
    try {
      part = cli::parse_shard(s["shard"].is_string() ? s["shard"].get<std::string>() : std::string());
    } catch (const InputError&) {
      throw InputError(side, "shard", "expected i/N with 0 <= i < N, got " + s["shard"].dump());
    }
    const int i = part.index, n = part.count;
    const nlohmann::json first_value = s.value("first", nlohmann::json(0));
    if (!first_value.is_number_integer() || first_value.get<int64_t>() < 0)
      throw InputError(side, "first", "expected the first toy number (an integer >= 0), got " + first_value.dump());
    const int64_t block = first_value.get<int64_t>();
    const std::string block_text = block ? " (toys from " + std::to_string(block) + ")" : "";
    // The run's true POI values: those it was asked for (summaries since
    // stop 63), else those of its toys.
    std::set<double> mu_values;
    if (s.contains("mu_values")) {
      try {
        for (double mu : s["mu_values"].get<std::vector<double>>()) mu_values.insert(mu);
      } catch (const nlohmann::json::exception&) {
        throw InputError(side, "mu_values", "expected an array of numbers, got " + s["mu_values"].dump());
      }
      for (const auto& r : rows)
        if (!mu_values.count(r.mu_true))
          throw InputError(file, "toy " + std::to_string(r.index),
                           "mu_true " + std::to_string(r.mu_true) + " is not one of the shard's mu_values " + s["mu_values"].dump());
    } else {
      for (const auto& r : rows) mu_values.insert(r.mu_true);
    }
    const Run run{block, mu_values};
    auto [count, fresh_block] = shard_count.insert({run, n});
    if (!fresh_block && count->second != n)
      throw InputError(side, "shard", "shard of " + std::to_string(n) + " but the others" + block_text + " are of " +
                                          std::to_string(count->second));
    // The toys per true POI value the run was asked for (summaries since
    // stop 63): shards of one run asked for the same number.
    if (s.contains("n")) {
      auto [asked, fresh_n] = run_toys.insert({run, s["n"]});
      if (!fresh_n && asked->second != s["n"])
        throw InputError(side, "n", "the shard was asked for " + s["n"].dump() + " toys per mu_true, the others" + block_text +
                                        " for " + asked->second.dump());
    }
    auto& seen = seen_shards[run];
    if (seen.count(i))
      throw InputError(file, "", "shard " + std::to_string(i) + "/" + std::to_string(n) + block_text + " is also " + seen[i]);
    seen[i] = file;
    for (const auto& r : rows) {
      auto [it, fresh] = seen_toys.insert({{r.mu_true, r.index}, file});
      if (!fresh)
        throw InputError(file, "toy " + std::to_string(r.index), "also in " + it->second + " (mu_true " + std::to_string(r.mu_true) + ")");
      all.push_back(r);
    }
  }
  for (const auto& [run, count] : shard_count)
    for (int i = 0; i < count; ++i)
      if (const int64_t block = run.first; !seen_shards[run].count(i))
        throw InputError("", "--merge", "shard " + std::to_string(i) + "/" + std::to_string(count) +
                                            (block ? " of the toys from " + std::to_string(block) : std::string()) + " is missing");
  if (truth_names) *truth_names = names_first;
  if (all.empty()) throw InputError("", "--merge", "no toys in any of the files: nothing to merge");
  if (provenance) {
    *provenance = common;
    (*provenance)["config_hash"] = config_hash;
    (*provenance)["complete"] = incomplete.empty();
    if (!incomplete.empty()) (*provenance)["incomplete_shards"] = incomplete;
  }
  return all;
}

double coverage_penalty(double c, int64_t n) {
  const double s68 = std::sqrt(0.68 * (1 - 0.68) * double(n)) / double(n);
  if (c < 0.68 - 2 * s68) return 1 + std::pow(std::abs((c - (0.68 - 2 * s68)) / s68), 4);
  if (c > 0.68 + 2 * s68) return 1 + std::pow(std::abs((c - (0.68 + 2 * s68)) / s68), 3);
  return 1.0;
}

namespace {
nlohmann::json summary_of(const std::vector<const ToyRow*>& rows) {
  int64_t n = 0, covered = 0, failed = 0;
  double width = 0, bias = 0, bias2 = 0;
  std::vector<double> pulls;
  for (const auto* r : rows) {
    if (!r->converged || !r->interval_ok) {
      ++failed;
      continue;
    }
    ++n;
    covered += r->covers();
    width += r->upper - r->lower;
    bias += r->mu_hat - r->mu_true;
    bias2 += (r->mu_hat - r->mu_true) * (r->mu_hat - r->mu_true);
    if (r->mu_error > 0) pulls.push_back((r->mu_hat - r->mu_true) / r->mu_error);
  }
  nlohmann::json j;
  j["toys"] = rows.size();
  j["usable"] = n;
  j["failed"] = failed;
  if (n == 0) return j;
  const double c = double(covered) / n;
  j["coverage"] = c;
  j["coverage_error"] = std::sqrt(0.6827 * (1 - 0.6827) / n);
  j["mean_width"] = width / n;
  j["bias"] = bias / n;
  j["bias_error"] = n > 1 ? std::sqrt(std::max(bias2 / n - (bias / n) * (bias / n), 0.0) / (n - 1)) : 0.0;
  double pm = 0, pv = 0;
  for (double p : pulls) pm += p;
  if (!pulls.empty()) pm /= pulls.size();
  for (double p : pulls) pv += (p - pm) * (p - pm);
  j["pull_mean"] = pm;
  j["pull_sd"] = pulls.size() > 1 ? std::sqrt(pv / (pulls.size() - 1)) : 0.0;
  j["coverage_penalty"] = coverage_penalty(c, n);
  j["score"] = -std::log((width / n + 1e-3) * coverage_penalty(c, n));
  return j;
}


nlohmann::json nuisance_response(const std::vector<ToyRow>& rows, const std::vector<std::string>& names) {
  std::vector<const ToyRow*> use;
  for (const auto& r : rows)
    if (r.converged && r.interval_ok && r.mu_error > 0 && r.nu_true.size() >= names.size()) use.push_back(&r);
  const int64_t n = int64_t(use.size());
  // The truth columns that vary over the toys.
  std::vector<size_t> cols;
  for (size_t k = 0; k < names.size(); ++k) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto* r : use) lo = std::min(lo, r->nu_true[k]), hi = std::max(hi, r->nu_true[k]);
    if (hi > lo) cols.push_back(k);
  }
  const int64_t p = int64_t(cols.size()) + 1;
  if (cols.empty() || n < p + 2) return nullptr;
  Eigen::MatrixXd X(n, p);
  Eigen::VectorXd y(n), pull(n);
  double mean_error = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    X(i, 0) = 1.0;
    for (size_t c = 0; c < cols.size(); ++c) X(i, int64_t(c) + 1) = use[i]->nu_true[cols[c]];
    y[i] = use[i]->mu_hat - use[i]->mu_true;
    pull[i] = y[i] / use[i]->mu_error;
    mean_error += use[i]->mu_error / double(n);
  }
  const Eigen::MatrixXd xtx = X.transpose() * X;
  const Eigen::LDLT<Eigen::MatrixXd> ldlt(xtx);
  if (ldlt.info() != Eigen::Success || !(ldlt.vectorD().array() > 0).all()) return nullptr;
  const Eigen::VectorXd b = ldlt.solve(X.transpose() * y);
  const Eigen::VectorXd res = y - X * b;
  const double s2 = res.squaredNorm() / double(n - p);
  const Eigen::MatrixXd cov = ldlt.solve(Eigen::MatrixXd::Identity(p, p)) * s2;
  auto correlation = [&](const Eigen::VectorXd& a, const Eigen::VectorXd& v) {
    const Eigen::ArrayXd da = a.array() - a.mean(), dv = v.array() - v.mean();
    const double d = std::sqrt((da * da).sum() * (dv * dv).sum());
    return d > 0 ? (da * dv).sum() / d : 0.0;
  };
  nlohmann::json j;
  j["toys"] = n;
  j["intercept"] = b[0];
  j["intercept_error"] = std::sqrt(cov(0, 0));
  nlohmann::json per = nlohmann::json::array();
  for (size_t c = 0; c < cols.size(); ++c) {
    const int64_t i = int64_t(c) + 1;
    nlohmann::json e = {{"name", names[cols[c]]},
                        {"slope", b[i]},
                        {"slope_error", std::sqrt(cov(i, i))},
                        {"pull_correlation", correlation(pull, X.col(i))}};
    // The mean over the toys that carry it (every used toy, or none).
    double sum = 0.0;
    int64_t carried = 0;
    for (const auto* r : use)
      if (r->nu_constraint_slope.size() == names.size() && std::isfinite(r->nu_constraint_slope[cols[c]])) {
        sum += r->nu_constraint_slope[cols[c]];
        ++carried;
      }
    if (carried == n) e["constraint_slope"] = sum / double(n);
    per.push_back(e);
  }
  j["nuisances"] = per;
  j["residual_sd"] = std::sqrt(s2);
  j["mean_error"] = mean_error;
  return j;
}

nlohmann::json nuisance_pulls(const std::vector<ToyRow>& rows, const std::vector<std::string>& names) {
  const size_t K = names.size();
  std::vector<std::vector<double>> pulls(K), truth(K), fitted(K);
  std::vector<double> error_sum(K, 0.0), error2_sum(K, 0.0);
  for (const auto& r : rows) {
    if (!r.converged || r.nu_hat.size() != K || r.nu_error.size() != K || r.nu_true.size() < K) continue;
    for (size_t k = 0; k < K; ++k)
      if (r.nu_error[k] > 0 && std::isfinite(r.nu_error[k]) && std::isfinite(r.nu_hat[k])) {
        pulls[k].push_back((r.nu_hat[k] - r.nu_true[k]) / r.nu_error[k]);
        truth[k].push_back(r.nu_true[k]);
        fitted[k].push_back(r.nu_hat[k]);
        error_sum[k] += r.nu_error[k];
        error2_sum[k] += r.nu_error[k] * r.nu_error[k];
      }
  }
  nlohmann::json per = nlohmann::json::array();
  for (size_t k = 0; k < K; ++k) {
    const size_t n = pulls[k].size();
    if (n < 2) continue;
    double m = 0, v = 0;
    for (double p : pulls[k]) m += p / double(n);
    for (double p : pulls[k]) v += (p - m) * (p - m) / double(n - 1);
    nlohmann::json e = {{"name", names[k]},
                        {"toys", n},
                        {"mean", m},
                        {"mean_error", std::sqrt(v / double(n))},
                        {"sd", std::sqrt(v)},
                        {"mean_fitted_error", error_sum[k] / double(n)}};
    // The fitted value's response to the truth (least squares of hat on
    // true), where the truths were drawn. A fit that describes the data
    // shrinks towards the constraint's centre by its precision weight only:
    // slope 1 - error^2 / prior variance, the prior variance estimated by
    // the truths' spread. A smaller slope is attenuation (the model reads
    // more information about the nuisance than the data hold, as per-event
    // noise in a learned response does), a larger one an overstated response.
    const Eigen::Map<const Eigen::VectorXd> t(truth[k].data(), Eigen::Index(n)), f(fitted[k].data(), Eigen::Index(n));
    const Eigen::VectorXd dt = t.array() - t.mean(), df = f.array() - f.mean();
    const double stt = dt.squaredNorm();
    if (n > 2 && stt > 0.0) {
      const double slope = dt.dot(df) / stt;
      const double residual = (df - slope * dt).squaredNorm() / double(n - 2);
      e["response"] = slope;
      e["response_error"] = std::sqrt(residual / stt);
      e["response_by_constraint"] = 1.0 - (error2_sum[k] / double(n)) / (stt / double(n - 1));
    }
    per.push_back(e);
  }
  if (per.empty()) return nullptr;
  return per;
}

}  // namespace

nlohmann::json summarise_toys(const std::vector<ToyRow>& rows, const std::vector<std::string>& truth_names) {
  std::vector<const ToyRow*> all;
  std::map<double, std::vector<const ToyRow*>> by_mu;
  for (const auto& r : rows) {
    all.push_back(&r);
    by_mu[r.mu_true].push_back(&r);
  }
  nlohmann::json j;
  j["overall"] = summary_of(all);
  nlohmann::json per = nlohmann::json::array();
  for (const auto& [mu, rs] : by_mu) {
    nlohmann::json s = summary_of(rs);
    s["mu_true"] = mu;
    per.push_back(s);
  }
  j["per_mu_true"] = per;
  double secs = 0;
  for (const auto& r : rows) secs += r.seconds;
  j["seconds_per_toy"] = rows.empty() ? 0.0 : secs / rows.size();
  if (!truth_names.empty()) {
    nlohmann::json response = nuisance_response(rows, truth_names);
    if (!response.is_null()) j["nuisance_response"] = response;
    nlohmann::json pulls = nuisance_pulls(rows, truth_names);
    if (!pulls.is_null()) j["nuisance_pulls"] = pulls;
  }
  return j;
}

std::string toy_table(const nlohmann::json& s) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(4);
  o << "mu_true   toys  coverage (+- binomial)  mean width     bias  pull mean  pull sd    score\n";
  auto line = [&](const std::string& label, const nlohmann::json& r) {
    o << std::left << std::setw(8) << label << std::right << std::setw(6) << r.value("usable", 0);
    if (!r.contains("coverage")) {
      o << "  (no usable toys)\n";
      return;
    }
    o << std::setw(10) << r["coverage"].get<double>() << " +- " << std::setw(6) << r["coverage_error"].get<double>()
      << std::setw(16) << r["mean_width"].get<double>() << std::setw(9) << r["bias"].get<double>() << std::setw(11)
      << r["pull_mean"].get<double>() << std::setw(9) << r["pull_sd"].get<double>() << std::setw(9)
      << r["score"].get<double>() << "\n";
  };
  for (const auto& r : s["per_mu_true"]) {
    std::ostringstream l;
    l << std::setprecision(3) << r["mu_true"].get<double>();
    line(l.str(), r);
  }
  if (s["per_mu_true"].size() > 1) line("all", s["overall"]);
  if (s.contains("nuisance_response")) {
    const nlohmann::json& r = s["nuisance_response"];
    o << "mu_hat - mu_true per unit of the true nuisances (joint least squares over " << r["toys"].get<int64_t>()
      << " toys):\n";
    for (const auto& k : r["nuisances"]) {
      o << "  " << std::left << std::setw(16) << k["name"].get<std::string>() << std::right << std::showpos
        << std::setw(9) << k["slope"].get<double>() << std::noshowpos << " +- " << k["slope_error"].get<double>()
        << "   pull correlation " << std::showpos << k["pull_correlation"].get<double>() << std::noshowpos;
      if (k.contains("constraint_slope"))
        o << "   by the constraints alone " << std::showpos << k["constraint_slope"].get<double>() << std::noshowpos;
      o << "\n";
    }
    o << "  residual sd " << r["residual_sd"].get<double>() << " (mean error " << r["mean_error"].get<double>()
      << ")\n";
  }
  if (s.contains("nuisance_pulls")) {
    // The ten farthest from 0 (in errors of the mean) where there are many.
    std::vector<nlohmann::json> shown(s["nuisance_pulls"].begin(), s["nuisance_pulls"].end());
    const size_t all = shown.size(), limit = 12;
    if (all > limit) {
      auto score = [](const nlohmann::json& k) {
        const double e = k["mean_error"].get<double>();
        return e > 0 ? std::abs(k["mean"].get<double>()) / e : 0.0;
      };
      std::stable_sort(shown.begin(), shown.end(), [&](const auto& a, const auto& b) { return score(a) > score(b); });
      shown.resize(10);
    }
    o << "fitted - true nuisances in units of their fitted errors (mean +- its error, spread; mean fitted error;\n"
         "  slope of the fitted on the true value, and by its constraint alone)";
    if (all > limit) o << ", the 10 of " << all << " farthest from 0 (all in the summary JSON)";
    o << ":\n";
    for (const auto& k : shown) {
      o << "  " << std::left << std::setw(16) << k["name"].get<std::string>() << std::right << std::showpos
        << std::setw(9) << k["mean"].get<double>() << std::noshowpos << " +- " << k["mean_error"].get<double>()
        << "   sd " << k["sd"].get<double>() << "   error " << k["mean_fitted_error"].get<double>();
      if (k.contains("response"))
        o << "   response " << k["response"].get<double>() << " +- " << k["response_error"].get<double>() << " ("
          << k["response_by_constraint"].get<double>() << ")";
      o << "\n";
    }
  }
  o << "failed fits or intervals: " << s["overall"].value("failed", 0) << ", " << std::setprecision(2)
    << s.value("seconds_per_toy", 0.0) << " s per toy\n";
  return o.str();
}

}  // namespace refinery
