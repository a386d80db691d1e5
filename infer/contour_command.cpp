// `refinery contour BkgOnly.json --patchset PATCHSET.json`: the exclusion
// contour over a patchset whose patches carry signal-mass values in their
// metadata (HEPData's `metadata.values`, named by the patchset's
// `metadata.labels`): asymptotic CLs at every patch (in parallel, as
// `hypotest --all`), then the CLs = level line (0.05: 95% CL) observed and
// for the five expected quantiles, interpolated on a Delaunay triangulation
// of the scattered points (src/stats/exclusion_contour.h). JSON with the
// points and the polylines; `refinery plot exclusion` draws it.
#include <chrono>
#include <iostream>
#include <map>
#include <sstream>

#include "infer/model_source.h"
#include "infer/patch_hypotests.h"
#include "src/config/schema.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/core/worker_threads.h"
#include "src/histfactory/workspace.h"
#include "src/stats/exclusion_contour.h"

namespace refinery::cli {

using nlohmann::json;

namespace {

std::pair<int, int> parse_axes(const std::string& s) {
  const auto comma = s.find(',');
  try {
    if (comma == std::string::npos) throw std::invalid_argument("");
    std::size_t a = 0, b = 0;
    const int i = std::stoi(s.substr(0, comma), &a), j = std::stoi(s.substr(comma + 1), &b);
    if (a != comma || b != s.size() - comma - 1 || i < 0 || j < 0 || i == j) throw std::invalid_argument("");
    return {i, j};
  } catch (const std::logic_error&) {
    throw InputError("", "--axes", "expected two different indices I,J into the patches' metadata.values, got '" + s + "'");
  }
}

json polylines_json(const std::vector<stats::Polyline>& lines) {
  json out = json::array();
  for (const auto& l : lines) {
    json pts = json::array();
    for (const auto& p : l) pts.push_back({p.x, p.y});
    out.push_back(pts);
  }
  return out;
}

}  // namespace

int run_contour(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Exclusion contour over a patchset's signal points (two mass values in each patch's "
                           "metadata): asymptotic CLs at every point, the CLs = level line observed and expected "
                           "(+-1, +-2 sigma) from a triangulated interpolation: refinery contour BkgOnly.json "
                           "--patchset PATCHSET.json");
  add_model_options(options);
  options.add_options()("mu", "Tested signal strength", cxxopts::value<double>()->default_value("1"))(
      "level", "CLs level of the contour (0.05: 95% CL)", cxxopts::value<double>()->default_value("0.05"))(
      "axes", "Which two of the patches' metadata.values are x and y (I,J)",
      cxxopts::value<std::string>()->default_value("0,1"));
  add_common_options(options, false, true);
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  if (!r->count("patchset")) throw InputError("", "--patchset", "the patchset whose signal points the contour spans");
  if (r->count("patch-name")) throw InputError("", "--patch-name", "the contour tests every patch: leave it out");
  for (const char* flag : {"asimov", "toy", "data"})
    if (r->count(flag)) throw InputError("", std::string("--") + flag, "the contour tests each patch's observed data");
  const double mu = (*r)["mu"].as<double>(), level = (*r)["level"].as<double>();
  if (!(level > 0 && level < 1)) throw InputError("", "--level", "must lie in (0, 1)");
  const auto [ax, ay] = parse_axes((*r)["axes"].as<std::string>());
  set_worker_threads(common.threads);
  const std::string ps_file = (*r)["patchset"].as<std::string>();
  const json patchset = read_json_file(ps_file);
  const json base = read_json_file(workspace_path(*r));
  if (verify_digest(*r)) histfactory::verify_patchset_digest(patchset, base, ps_file, workspace_path(*r));
  const auto names = histfactory::patch_names(patchset, ps_file);

  // The signal points, checked before any fit.
  std::vector<stats::Point2> where(names.size());
  std::map<std::pair<double, double>, std::string> seen;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string key = "patches[" + std::to_string(i) + "].metadata.values";
    const json* values = nullptr;
    if (patchset["patches"][i].contains("metadata") && patchset["patches"][i]["metadata"].is_object() &&
        patchset["patches"][i]["metadata"].contains("values"))
      values = &patchset["patches"][i]["metadata"]["values"];
    if (!values || !values->is_array() || static_cast<int>(values->size()) <= std::max(ax, ay))
      throw InputError(ps_file, key,
                       "a contour needs at least " + std::to_string(std::max(ax, ay) + 1) +
                           " signal-mass values per patch (--axes " + (*r)["axes"].as<std::string>() + ")");
    for (int k : {ax, ay})
      if (!(*values)[k].is_number()) throw InputError(ps_file, key + "[" + std::to_string(k) + "]", "not a number");
    where[i] = {(*values)[ax].get<double>(), (*values)[ay].get<double>()};
    const auto [it, fresh] = seen.insert({{where[i].x, where[i].y}, names[i]});
    if (!fresh) throw InputError(ps_file, key, "patch '" + names[i] + "' has the signal point of '" + it->second + "'");
  }
  if (names.size() < 3) throw InputError(ps_file, "patches", "a contour needs at least three signal points");

  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<json> results = hypotest_patches(*r, patchset, base, ps_file, names, mu, stats::TestStat::kQtilde, "qtilde");
  std::vector<stats::Point2> points;
  std::vector<double> observed;
  std::array<std::vector<double>, 5> expected;
  std::vector<std::string> bad_input, failed;
  json point_rows = json::array();
  for (std::size_t i = 0; i < names.size(); ++i) {
    const json& h = results[i];
    const std::string status = h["status"].get<std::string>();
    json row = {{"patch", names[i]}, {"x", where[i].x}, {"y", where[i].y}, {"status", status}};
    if (status == "converged") {
      row["cls_obs"] = h["cls_obs"];
      row["cls_exp"] = h["cls_exp"];
      points.push_back(where[i]);
      observed.push_back(h["cls_obs"].get<double>());
      for (int k = 0; k < 5; ++k) expected[k].push_back(h["cls_exp"][k].get<double>());
    } else {
      row["message"] = h.value("message", "");
      (status == "error" ? bad_input : failed).push_back(names[i]);
    }
    point_rows.push_back(row);
  }
  const auto triangles = stats::delaunay(points);
  json contours;
  contours["observed"] = polylines_json(stats::level_lines(points, observed, triangles, level));
  const char* names_exp[5] = {"expected_m2", "expected_m1", "expected", "expected_p1", "expected_p2"};
  for (int k = 0; k < 5; ++k)
    contours[names_exp[k]] = polylines_json(stats::level_lines(points, expected[k], triangles, level));

  json out = {{"kind", "workspace"}, {"workspace", workspace_path(*r)}, {"patchset", ps_file}, {"mu", mu},
              {"level", level}, {"test_stat", "qtilde"}, {"axes", {ax, ay}}};
  json labels = {"x", "y"};
  if (patchset.contains("metadata") && patchset["metadata"].is_object() && patchset["metadata"].contains("labels") &&
      patchset["metadata"]["labels"].is_array()) {
    const json& l = patchset["metadata"]["labels"];
    if (static_cast<int>(l.size()) > std::max(ax, ay) && l[ax].is_string() && l[ay].is_string()) labels = {l[ax], l[ay]};
  }
  out["labels"] = labels;
  out["points"] = point_rows;
  out["triangles"] = triangles.size();
  out["contours"] = contours;
  out["failed"] = failed;
  out["bad_input"] = bad_input;
  out["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::ostringstream text;
  text << "exclusion contour, CLs = " << level << " at mu = " << mu << ", over " << names.size() << " signal points ("
       << labels[0].get<std::string>() << ", " << labels[1].get<std::string>() << "); " << triangles.size()
       << " triangles\n";
  for (const auto& [key, lines] : contours.items()) {
    std::size_t vertices = 0;
    for (const auto& l : lines) vertices += l.size();
    text << "  " << key << ": " << lines.size() << " line(s), " << vertices << " vertices\n";
  }
  if (!common.out.empty()) write_text_atomically(common.out, out.dump(2) + "\n");
  if (r->count("json")) std::cout << out.dump() << "\n";
  else if (!common.quiet || common.out.empty()) std::cout << text.str() << (common.out.empty() ? "" : "wrote " + common.out + "\n");
  return report_patch_failures("contour", names, bad_input, failed, "points left out");
}

}  // namespace refinery::cli
