#include "infer/scan_shards.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <vector>

#include "infer/model_source.h"
#include "src/cli/options.h"
#include "src/config/schema.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/stats/profile.h"

namespace refinery::cli {

using nlohmann::json;

std::string scan_text(const json& out) {
  std::ostringstream text;
  if (out.contains("description")) text << out["description"].get<std::string>() << "\n";
  const json& scan = out.at("scan");
  const json& names = scan.at("parameters");
  const std::string a = names.at(0).get<std::string>();
  for (const auto& p : out.at("fit").at("parameters"))
    if (p.at("name") == a) text << a << "_hat " << p.at("value").get<double>() << " +- " << p.at("error").get<double>() << "\n";
  const json& points = scan.at("points");
  if (names.size() == 1) {
    text << std::setw(12) << a << std::setw(13) << "t" << "\n";
    for (const auto& p : points) {
      const bool ok = p.at("converged").get<bool>();
      text << std::setw(12) << std::setprecision(5) << p.at("value").get<double>() << std::setw(13)
           << p.at("t").get<double>() << (ok ? "" : "  (not converged: " + p.value("reason", std::string()) + ")") << "\n";
    }
    if (out.contains("interval_68") && out.contains("interval_95")) {
      auto v = [&](const char* key, const char* side) { return out[key][side]["value"].get<double>(); };
      text << "68.27%: [" << v("interval_68", "lower") << ", " << v("interval_68", "upper") << "]  95%: ["
           << v("interval_95", "lower") << ", " << v("interval_95", "upper") << "]\n";
    }
  } else {
    int failed = 0;
    for (const auto& p : points) failed += !p.at("converged").get<bool>();
    text << "2D scan of " << a << " x " << names.at(1).get<std::string>() << ": " << points.size() << " points"
         << (failed ? ", " + std::to_string(failed) + " not converged" : "") << "\n";
    for (const auto& c : out.value("contours", json::array())) {
      double lo_a = INFINITY, hi_a = -INFINITY, lo_b = INFINITY, hi_b = -INFINITY;
      bool closed = !c.at("lines").empty();
      for (const auto& line : c.at("lines")) {
        for (const auto& q : line) {
          lo_a = std::min(lo_a, q[0].get<double>()), hi_a = std::max(hi_a, q[0].get<double>());
          lo_b = std::min(lo_b, q[1].get<double>()), hi_b = std::max(hi_b, q[1].get<double>());
        }
        closed = closed && line.size() > 2 && line.front() == line.back();
      }
      text << std::setprecision(4) << 100.0 * c.at("cl").get<double>() << "% region (t <= " << c.at("t").get<double>()
           << "): ";
      if (c.at("lines").empty()) text << "no boundary inside the grid\n";
      else
        text << a << " in [" << lo_a << ", " << hi_a << "], " << names.at(1).get<std::string>() << " in [" << lo_b << ", "
             << hi_b << "]" << (closed ? "" : " (leaves the grid: widen --range/--range2)") << "\n";
    }
  }
  if (scan.contains("shard")) text << "shard " << scan["shard"]["shard"].get<std::string>() << " of the grid\n";
  return text.str();
}

void add_scan_contours(json& out) {
  const json& scan = out.at("scan");
  if (scan.at("parameters").size() != 2 || scan.contains("shard")) return;
  std::vector<stats::ScanPoint> points;
  for (const auto& p : scan.at("points")) {
    stats::ScanPoint q;
    q.values = p.at("value").get<std::vector<double>>();
    q.t = p.at("t").is_number() ? p.at("t").get<double>() : NAN;
    q.converged = p.at("converged").get<bool>();
    points.push_back(q);
  }
  json contours = json::array();
  for (double cl : {std::erf(1.0 / std::sqrt(2.0)), 0.95}) {  // one sigma's 68.27%, and 95%
    const double level = stats::chi2_level_2d(cl);
    json lines = json::array();
    for (const auto& line : stats::scan_contour(points, level)) {
      json l = json::array();
      for (const auto& [x, y] : line) l.push_back({x, y});
      lines.push_back(l);
    }
    contours.push_back({{"cl", cl}, {"t", level}, {"lines", lines}});
  }
  out["contours"] = contours;
}

namespace {

// A shard's best-fit NLL (NaN where it has none, which no other matches).
double best_nll(const json& shard) {
  return shard.contains("fit") && shard["fit"].value("nll", json()).is_number() ? shard["fit"]["nll"].get<double>()
                                                                                 : NAN;
}

}  // namespace

int run_scan_merge(int argc, char** argv) {
  const auto merge = parse_merge_command(argc, argv, "Merge the shards of a scan: refinery scan --merge SHARD.json...",
                                         "Shard results (JSON) of refinery scan --shard i/N");
  if (!merge) return 0;
  const CommonOptions& common = merge->common;
  const std::vector<std::string>& files = merge->files;

  std::vector<json> shards;  // by shard index
  std::vector<std::string> shard_file;
  json first_id;
  std::string first_file;
  double seconds = 0.0, first_nll = NAN;
  for (const auto& file : files) {
    json j = read_json_file(file);
    if (!j.is_object() || !j.contains("scan") || !j["scan"].is_object() || !j["scan"].contains("points"))
      throw InputError(file, "scan", "not the result of refinery scan");
    if (!j["scan"].contains("shard"))
      throw InputError(file, "scan.shard", "not a shard: the result of refinery scan without --shard i/N");
    const json id = j["scan"]["shard"];
    const std::string shard_text = id.value("shard", "");
    const Shard part = [&] {
      try {
        return parse_shard(shard_text);
      } catch (const InputError&) {
        throw InputError(file, "scan.shard.shard", "expected i/N, got '" + shard_text + "'");
      }
    }();
    json same = id;
    same.erase("shard");
    same["parameters"] = j["scan"].value("parameters", json());
    if (first_file.empty()) {
      first_id = same;
      first_file = file;
      first_nll = best_nll(j);
      shards.assign(part.count, json());
      shard_file.assign(part.count, "");
    } else {
      for (const auto& [key, value] : first_id.items())
        if (same.value(key, json()) != value)
          throw InputError(file, "scan.shard." + key,
                           "differs from " + first_file + ": a shard of another model or grid");
      if (int(shards.size()) != part.count)
        throw InputError(file, "scan.shard.shard", "is one of " + std::to_string(part.count) + " shards; " + first_file +
                                                       " is one of " + std::to_string(shards.size()));
      // The same best fit (the same data): every shard fits it alike.
      if (!(std::abs(best_nll(j) - first_nll) <= 1e-9 * (1.0 + std::abs(first_nll))))
        throw InputError(file, "fit.nll", "differs from " + first_file + "'s best fit: a shard of other data");
    }
    if (!shards[part.index].is_null())
      throw InputError(file, "scan.shard.shard", "shard " + shard_text + " is given twice (also " + shard_file[part.index] + ")");
    seconds += j.value("seconds", 0.0);
    shard_file[part.index] = file;
    shards[part.index] = std::move(j);
  }
  for (std::size_t i = 0; i < shards.size(); ++i)
    if (shards[i].is_null())
      throw InputError("", "--merge", "shard " + std::to_string(i) + "/" + std::to_string(shards.size()) + " is missing");

  const json& grid = first_id.at("grid");
  const bool two = grid.size() == 2;
  const std::size_t na = grid.at(0).size(), per_row = two ? grid.at(1).size() : 1;
  json out = shards[0];
  json points = json::array();
  for (std::size_t i = 0; i < shards.size(); ++i) {
    const stats::ScanRows rows = stats::ScanRows::block(na, int(i), int(shards.size()));
    const json& p = shards[i]["scan"]["points"];
    if (p.size() != (rows.end - rows.begin) * per_row)
      throw InputError(shard_file[i], "scan.points", "holds " + std::to_string(p.size()) + " points, not the " +
                                                         std::to_string((rows.end - rows.begin) * per_row) + " of its shard");
    for (const auto& point : p) points.push_back(point);
  }
  out["scan"]["points"] = points;
  out["scan"].erase("shard");
  add_scan_contours(out);
  out["seconds"] = seconds;
  if (!common.out.empty()) write_text_atomically(common.out, out.dump(2) + "\n");
  if (merge->json) std::cout << out.dump() << "\n";
  else if (!common.quiet) std::cout << scan_text(out) << "merged " << shards.size() << " shards"
                                    << (common.out.empty() ? "" : " into " + common.out) << "\n";
  return 0;
}

}  // namespace refinery::cli
