#include "infer/toy_hypotest.h"

#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <array>

#include "src/cli/options.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/core/hash.h"
#include "src/core/progress.h"
#include "src/config/schema.h"
#include "src/core/worker_threads.h"
#include "src/stats/toy_calculator.h"

namespace refinery::cli {

using nlohmann::json;

namespace {

json q_json(double q) { return std::isfinite(q) ? json(q) : json(nullptr); }

// The toys of one hypothesis: their indices, statistics (null where a fit
// failed) and the failures with their reasons.
void put_sample(json& j, const stats::ToySample& s) {
  json q = json::array(), failures = json::array();
  for (std::size_t k = 0; k < s.q.size(); ++k) {
    q.push_back(q_json(s.q[k]));
    if (!s.reason[k].empty()) failures.push_back({{"toy", s.index[k]}, {"reason", s.reason[k]}});
  }
  j["mu"] = s.mu;
  j["n"] = s.index.size();
  j["failed"] = s.failed();
  j["failures"] = failures;
  j["index"] = s.index;
  j["q"] = q;
}

json sample_json(const stats::ToySample& s, const stats::Model& model) {
  json j = {{"generated_at", json::object()}};
  for (int i = 0; i < model.size(); ++i) j["generated_at"][model.parameters()[i].name] = s.generated_at[i];
  put_sample(j, s);
  return j;
}

stats::ToySample sample_from_json(const json& j, const std::string& file, const std::string& key) {
  stats::ToySample s;
  try {
    s.mu = j.at("mu").get<double>();
    s.index = j.at("index").get<std::vector<std::int64_t>>();
    const json& q = j.at("q");
    if (!q.is_array() || q.size() != s.index.size()) throw InputError(file, key + ".q", "needs one entry per index");
    for (const auto& v : q) s.q.push_back(v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>());
    s.reason.assign(s.index.size(), "");
    std::map<std::int64_t, std::size_t> where;
    for (std::size_t k = 0; k < s.index.size(); ++k) where[s.index[k]] = k;
    for (const auto& f : j.at("failures")) {
      const auto it = where.find(f.at("toy").get<std::int64_t>());
      if (it == where.end()) throw InputError(file, key + ".failures", "names a toy the shard does not hold");
      s.reason[it->second] = f.at("reason").get<std::string>();
    }
  } catch (const json::exception& e) {
    throw InputError(file, key, std::string("not a toy sample written by refinery hypotest: ") + e.what());
  }
  return s;
}

// A number of a result for the text summaries; `none` where it is null
// (not finite when written).
std::string number_text(const json& v, int precision, const char* none) {
  if (v.is_null()) return none;
  std::ostringstream c;
  c << std::setprecision(precision) << v.get<double>();
  return c.str();
}

// The text summary of a (merged) result.
std::string summary_text(const json& out) {
  std::ostringstream os;
  os << std::setprecision(5);
  const bool q0 = out.at("test_stat") == "q0";
  const json& t = out.at("toys");
  os << "toy-based " << out.at("test_stat").get<std::string>() << " at " << out.at("poi_name").get<std::string>()
     << " = " << out.at("mu").get<double>() << ": " << t.at("null").at("n").get<std::int64_t>() << " + "
     << t.at("alt").at("n").get<std::int64_t>() << " pseudo-experiments (seed " << t.at("seed") << ", shard "
     << t.at("shard").get<std::string>() << ")\n";
  os << "  q_obs = " << out.at("q_obs").get<double>() << "\n";
  auto val = [](const json& v) { return number_text(v, 5, "nan"); };
  if (q0) {
    os << "  p0 = " << val(out["p0_obs"]) << " +- " << val(out["p0_obs_error"]) << "\n  expected p0 (+2..-2 sigma):";
    for (const auto& v : out["p0_exp"]) os << " " << val(v);
  } else {
    os << "  CLs = " << val(out["cls_obs"]) << " +- " << val(out["cls_obs_error"]) << "  (CLs+b " << val(out["clsb_obs"])
       << " +- " << val(out["clsb_obs_error"]) << ", CLb " << val(out["clb_obs"]) << " +- " << val(out["clb_obs_error"])
       << ")\n  expected CLs (-2..+2 sigma):";
    for (const auto& v : out["cls_exp"]) os << " " << val(v);
  }
  os << "\n";
  const std::int64_t failed = t.at("null").at("failed").get<std::int64_t>() + t.at("alt").at("failed").get<std::int64_t>();
  if (failed) os << "  " << failed << " pseudo-experiments failed to fit (left out; listed under toys.*.failures)\n";
  return os.str();
}

// Fills the p-value keys of `out` from the samples.
void put_pvalues(json& out, double q_obs, const stats::ToySample& null, const stats::ToySample& alt,
                 stats::TestStat stat) {
  const stats::ToyPValues p = stats::toy_pvalues(q_obs, null, alt, stat);
  json expected = json::array();
  for (double v : p.expected) expected.push_back(q_json(v));
  if (stat == stats::TestStat::kQ0) {
    out["p0_obs"] = q_json(p.clsb);
    out["p0_obs_error"] = q_json(p.clsb_error);
    out["p0_exp"] = expected;
  } else {
    out["cls_obs"] = q_json(p.cls);
    out["cls_obs_error"] = q_json(p.cls_error);
    out["clsb_obs"] = q_json(p.clsb);
    out["clsb_obs_error"] = q_json(p.clsb_error);
    out["clb_obs"] = q_json(p.clb);
    out["clb_obs_error"] = q_json(p.clb_error);
    out["cls_exp"] = expected;
  }
}

// The toys' options common to hypotest and limit; sets the worker threads.
stats::ToyOptions toy_options(const ModelSource& s, const cxxopts::ParseResult& r, int threads) {
  stats::ToyOptions options;
  options.ntoys = r["ntoys"].as<std::int64_t>();
  if (options.ntoys < 1 || options.ntoys > 100000000) throw InputError("", "--ntoys", "must lie in 1..1e8");
  const std::string at = r["toys-at"].as<std::string>();
  if (at != "conditional" && at != "initial")
    throw InputError("", "--toys-at", "expected conditional or initial, got '" + at + "'");
  options.at_initial = at == "initial";
  std::uint64_t config_seed = 0;
  if (s.config) config_seed = s.config->document.value("seed", std::uint64_t(0));
  options.seed = r.count("seed") ? r["seed"].as<std::uint64_t>() : config_seed;
  // An experiment's model evaluates its events on LibTorch's threads: one
  // toy at a time there; the workspace engine runs toys side by side.
  set_worker_threads(s.workspace ? threads : 1);
  return options;
}

// The POI value where `values` (over the ascending `mus`) first falls
// below `level`, linear in log between the two points around it; NaN if it
// never does or starts below.
double first_crossing(const std::vector<double>& mus, const std::vector<double>& values, double level) {
  for (std::size_t i = 1; i < mus.size(); ++i) {
    const double a = values[i - 1], b = values[i];
    if (!(a >= level)) return std::numeric_limits<double>::quiet_NaN();
    if (b < level) {
      if (!(b > 0.0)) return mus[i];
      const double t = (std::log(a) - std::log(level)) / (std::log(a) - std::log(b));
      return mus[i - 1] + t * (mus[i] - mus[i - 1]);
    }
  }
  return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

void add_toy_hypotest_options(cxxopts::Options& options) {
  options.add_options("Toys")("calculator", "asymptotics (the formulae of arXiv:1007.1727) or toybased (pseudo-experiments)",
                              cxxopts::value<std::string>()->default_value("asymptotics"))(
      "ntoys", "Pseudo-experiments per hypothesis (toybased)", cxxopts::value<std::int64_t>()->default_value("1000"))(
      "toys-at",
      "Where the toys are drawn: conditional (the fits to the data at the tested POI and at 0, the LHC convention) or "
      "initial (the model's initial nuisances, as pyhf)",
      cxxopts::value<std::string>()->default_value("conditional"))(
      "shard", "Draw shard i of N (i/N, 0-based): the toys with index % N == i; --merge joins the shards",
      cxxopts::value<std::string>()->default_value("0/1"))(
      "merge", "Merge the toy-based results of the shards given as the positional arguments");
}

void add_toy_limit_options(cxxopts::Options& options) {
  options.add_options("Toys")("calculator", "asymptotics (the formulae of arXiv:1007.1727) or toybased (needs --scan)",
                              cxxopts::value<std::string>()->default_value("asymptotics"))(
      "ntoys", "Pseudo-experiments per hypothesis and scan point (toybased)",
      cxxopts::value<std::int64_t>()->default_value("1000"))(
      "toys-at", "Where the toys are drawn: conditional (the LHC convention) or initial (pyhf)",
      cxxopts::value<std::string>()->default_value("conditional"));
}

bool toy_calculator_requested(const cxxopts::ParseResult& r) {
  const std::string c = r["calculator"].as<std::string>();
  if (c != "asymptotics" && c != "toybased")
    throw InputError("", "--calculator", "unknown calculator '" + c + "' (known: asymptotics, toybased)");
  if (c == "asymptotics")
    for (const char* flag : {"ntoys", "toys-at", "shard"})
      if (r.count(flag)) throw InputError("", std::string("--") + flag, "needs --calculator toybased");
  return c == "toybased";
}

json toy_limit_json(const ModelSource& s, const cxxopts::ParseResult& r, double level, const std::vector<double>& mus,
                    int threads, bool quiet, std::string* text) {
  const auto t0 = std::chrono::steady_clock::now();
  const int poi = s.poi >= 0 ? s.poi : s.model->poi("", "--poi");
  for (double mu : mus) stats::check_poi_value(*s.model, poi, mu, "--scan");
  const stats::ToyOptions options = toy_options(s, r, threads);
  stats::ToyCalculator calc(*s.model, poi, stats::TestStat::kQtilde);
  Progress progress("toys", static_cast<std::int64_t>(mus.size()) * 2 * options.ntoys, quiet, 5.0);
  std::mutex lock;
  json points = json::array();
  std::vector<double> observed;
  std::array<std::vector<double>, 5> expected;
  std::int64_t failed_toys = 0;
  std::string message;
  for (std::size_t i = 0; i < mus.size(); ++i) {
    const std::int64_t before = static_cast<std::int64_t>(i) * 2 * options.ntoys;
    const stats::ToyHypotestResult h = calc.hypotest(mus[i], options, [&](std::int64_t done, std::int64_t) {
      std::lock_guard<std::mutex> g(lock);
      progress.update(before + done);
    });
    json p = {{"mu", mus[i]}, {"converged", h.converged}};
    if (!h.converged) {
      if (message.empty()) message = h.message;
      points.push_back(p);
      continue;
    }
    put_pvalues(p, h.q_obs, h.null, h.alt, stats::TestStat::kQtilde);
    p["q_obs"] = h.q_obs;
    p["failed_toys"] = h.null.failed() + h.alt.failed();
    failed_toys += h.null.failed() + h.alt.failed();
    observed.push_back(h.p.cls);
    for (int k = 0; k < 5; ++k) expected[k].push_back(h.p.expected[k]);
    points.push_back(p);
  }
  progress.finish();
  json out = s.header;
  out["level"] = level;
  out["calculator"] = "toybased";
  out["toys"] = {{"ntoys", options.ntoys}, {"seed", options.seed},
                 {"generated", options.at_initial ? "initial" : "conditional"}, {"failed", failed_toys}};
  out["scan"] = points;
  bool ok = message.empty();
  std::vector<double> scanned;
  for (const auto& p : points)
    if (p["converged"].get<bool>()) scanned.push_back(p["mu"].get<double>());
  auto limit = [&](const std::vector<double>& v) {
    const double x = ok ? first_crossing(scanned, v, level) : std::numeric_limits<double>::quiet_NaN();
    return std::isfinite(x) ? json(x) : json(nullptr);
  };
  out["upper_limit_obs"] = limit(observed);
  json exp = json::array();
  for (int k = 0; k < 5; ++k) exp.push_back(limit(expected[k]));
  out["upper_limit_exp"] = exp;
  if (!message.empty()) {
    out["status"] = "failed";
    out["message"] = message;
  } else if (out["upper_limit_obs"].is_null()) {
    out["status"] = "failed";
    out["message"] = "the observed CLs does not cross the level inside the scan (widen --scan)";
  } else {
    out["status"] = "converged";
  }
  out["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (text) {
    std::ostringstream os;
    os << s.description << "\ntoy-based " << 100 * (1 - level) << "% CL upper limit on "
       << s.model->parameters()[poi].name << " from " << mus.size() << " scan points x 2 x " << options.ntoys
       << " pseudo-experiments\n";
    auto v = [](const json& j) { return number_text(j, 4, "none"); };
    os << "  observed " << v(out["upper_limit_obs"]) << "\n  expected (-2..+2 sigma):";
    for (const auto& e : exp) os << " " << v(e);
    os << "\n";
    if (failed_toys) os << "  " << failed_toys << " pseudo-experiments failed to fit (left out)\n";
    *text = os.str();
  }
  return out;
}

json toy_hypotest_json(const ModelSource& s, const cxxopts::ParseResult& r, double mu, stats::TestStat stat,
                       const std::string& stat_name, int threads, bool quiet, std::string* text) {
  const auto t0 = std::chrono::steady_clock::now();
  const int poi = s.poi >= 0 ? s.poi : s.model->poi("", "--poi");
  stats::check_poi_value(*s.model, poi, mu, "--mu");
  stats::ToyOptions options = toy_options(s, r, threads);
  const cli::Shard part = cli::parse_shard(r["shard"].as<std::string>());
  options.shard = part.index;
  options.shards = part.count;
  const std::string at = options.at_initial ? "initial" : "conditional";

  json out = s.header;
  out["mu"] = mu;
  out["test_stat"] = stat_name;
  out["calculator"] = "toybased";
  out["poi_name"] = s.model->parameters()[poi].name;
  json identity = {{"model_digest", model_digest(*s.model)}, {"poi", out["poi_name"]}, {"mu", mu},
                   {"test_stat", stat_name}, {"ntoys", options.ntoys}, {"seed", options.seed}, {"generated", at}};

  Progress progress("toys", 2 * ((options.ntoys - options.shard + options.shards - 1) / options.shards), quiet, 5.0);
  std::mutex lock;
  stats::ToyCalculator calc(*s.model, poi, stat);
  const stats::ToyHypotestResult h = calc.hypotest(mu, options, [&](std::int64_t done, std::int64_t) {
    std::lock_guard<std::mutex> g(lock);
    progress.update(done);
  });
  progress.finish();
  out["q_obs"] = h.q_obs;
  json toys = identity;
  toys["shard"] = std::to_string(options.shard) + "/" + std::to_string(options.shards);
  if (h.converged) {
    put_pvalues(out, h.q_obs, h.null, h.alt, stat);
    toys["null"] = sample_json(h.null, *s.model);
    toys["alt"] = sample_json(h.alt, *s.model);
  }
  out["toys"] = toys;
  out["status"] = h.converged ? "converged" : "failed";
  if (!h.converged) out["message"] = h.message;
  out["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (text && h.converged) *text = s.description + "\n" + summary_text(out);
  return out;
}

int run_hypotest_merge(int argc, char** argv) {
  const auto merge = parse_merge_command(argc, argv, "Merge the shards of a toy-based hypotest: refinery hypotest --merge SHARD.json...",
                                         "Shard results (JSON) of refinery hypotest --calculator toybased --shard i/N");
  if (!merge) return 0;
  const CommonOptions& common = merge->common;
  const std::vector<std::string>& files = merge->files;

  json first;
  std::string first_file;
  std::vector<bool> seen;
  stats::ToySample null, alt;
  std::map<std::int64_t, std::pair<double, std::string>> null_rows, alt_rows;
  for (const auto& file : files) {
    const json j = read_json_file(file);
    if (!j.is_object() || j.value("calculator", "") != "toybased" || !j.contains("toys"))
      throw InputError(file, "calculator", "not the result of refinery hypotest --calculator toybased");
    if (j.value("status", "") != "converged")
      throw InputError(file, "status", "this shard failed (" + j.value("message", std::string("no message")) + ")");
    json id = j.at("toys");
    const std::string shard_text = id.value("shard", "");
    const cli::Shard part = [&] {
      try {
        return cli::parse_shard(shard_text);
      } catch (const InputError&) {
        throw InputError(file, "toys.shard", "expected i/N, got '" + shard_text + "'");
      }
    }();
    const int shard = part.index, shards = part.count;
    for (const char* k : {"shard", "null", "alt"}) id.erase(k);
    if (first_file.empty()) {
      first = j;
      first_file = file;
      seen.assign(shards, false);
    } else {
      json first_id = first.at("toys");
      for (const char* k : {"shard", "null", "alt"}) first_id.erase(k);
      for (const auto& [key, value] : first_id.items())
        if (id.value(key, json()) != value)
          throw InputError(file, "toys." + key,
                           "differs from " + first_file + " (" + id.value(key, json()).dump() + " vs " + value.dump() +
                               "): a shard of another model or other options");
      if (j.at("q_obs") != first.at("q_obs"))
        throw InputError(file, "q_obs", "differs from " + first_file + ": another data set");
      if (int(seen.size()) != shards)
        throw InputError(file, "toys.shard", "is one of " + std::to_string(shards) + " shards; " + first_file +
                                                 " is one of " + std::to_string(seen.size()));
    }
    if (seen[shard]) throw InputError(file, "toys.shard", "shard " + shard_text + " is given twice");
    seen[shard] = true;
    for (const char* key : {"null", "alt"}) {
      const stats::ToySample s = sample_from_json(j.at("toys").at(key), file, std::string("toys.") + key);
      auto& rows = std::string(key) == "null" ? null_rows : alt_rows;
      for (std::size_t k = 0; k < s.index.size(); ++k) {
        if (s.index[k] % shards != shard)
          throw InputError(file, std::string("toys.") + key + ".index", "holds a toy of another shard");
        rows[s.index[k]] = {s.q[k], s.reason[k]};
      }
      (std::string(key) == "null" ? null : alt).mu = s.mu;
    }
  }
  for (std::size_t i = 0; i < seen.size(); ++i)
    if (!seen[i])
      throw InputError("", "--merge", "shard " + std::to_string(i) + "/" + std::to_string(seen.size()) + " is missing");
  const std::int64_t ntoys = first.at("toys").at("ntoys").get<std::int64_t>();
  for (auto* rows : {&null_rows, &alt_rows})
    if (std::int64_t(rows->size()) != ntoys)
      throw InputError("", "--merge", "the shards hold " + std::to_string(rows->size()) + " toys of a hypothesis, not " +
                                          std::to_string(ntoys));
  auto fill = [](stats::ToySample& s, const std::map<std::int64_t, std::pair<double, std::string>>& rows) {
    for (const auto& [i, v] : rows) {
      s.index.push_back(i);
      s.q.push_back(v.first);
      s.reason.push_back(v.second);
    }
  };
  fill(null, null_rows);
  fill(alt, alt_rows);

  const std::string stat_name = first.at("test_stat").get<std::string>();
  const stats::TestStat stat = stats::parse_test_stat(stat_name);
  json out = first;
  for (const char* k : {"cls_obs", "cls_obs_error", "clsb_obs", "clsb_obs_error", "clb_obs", "clb_obs_error",
                        "cls_exp", "p0_obs", "p0_obs_error", "p0_exp", "seconds"})
    out.erase(k);
  put_pvalues(out, first.at("q_obs").get<double>(), null, alt, stat);
  // The generating points are the same in every shard (same model and data).
  json& toys = out["toys"];
  toys["shard"] = "0/1";
  toys["merged"] = files;
  put_sample(toys["null"], null);
  put_sample(toys["alt"], alt);
  if (!common.out.empty()) write_text_atomically(common.out, out.dump(2) + "\n");
  if (merge->json) std::cout << out.dump() << "\n";
  else {
    std::cout << "merged " << files.size() << " shards\n" << summary_text(out);
    if (!common.out.empty()) std::cout << "wrote " << common.out << "\n";
  }
  return 0;
}

}  // namespace refinery::cli
