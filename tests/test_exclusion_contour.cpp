// Exclusion contours (src/stats/exclusion_contour.h, `refinery contour`):
// the triangulation is Delaunay (no point inside any triangle's
// circumcircle) and tiles the convex hull, also on a grid whose points are
// cocircular; the level line of a field linear in log CLs is exact; on the
// ATLAS stau patchset the points' CLs are hypotest --all's and the observed
// contour separates excluded from allowed points; a patchset without mass
// values or with two patches at one point is refused.
#include "tests/testing.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "src/stats/exclusion_contour.h"

using namespace refinery;
using nlohmann::json;
using stats::Point2;

namespace {

double cross(const Point2& o, const Point2& a, const Point2& b) {
  return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

// Area of the convex hull (Andrew's monotone chain).
double hull_area(std::vector<Point2> p) {
  std::sort(p.begin(), p.end(), [](const Point2& a, const Point2& b) { return a.x < b.x || (a.x == b.x && a.y < b.y); });
  std::vector<Point2> h(2 * p.size());
  std::size_t k = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    while (k >= 2 && cross(h[k - 2], h[k - 1], p[i]) <= 0) --k;
    h[k++] = p[i];
  }
  for (std::size_t i = p.size() - 1, t = k + 1; i-- > 0;) {
    while (k >= t && cross(h[k - 2], h[k - 1], p[i]) <= 0) --k;
    h[k++] = p[i];
  }
  h.resize(k - 1);
  double a = 0;
  for (std::size_t i = 0; i < h.size(); ++i) a += cross({0, 0}, h[i], h[(i + 1) % h.size()]);
  return 0.5 * a;
}

// Delaunay in the unit square the points are scaled to (as delaunay() does:
// the property is not invariant under scaling one axis), tiling the hull.
void check_delaunay(const std::vector<Point2>& raw, const std::vector<stats::Triangle>& t) {
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& q : raw) x0 = std::min(x0, q.x), x1 = std::max(x1, q.x), y0 = std::min(y0, q.y), y1 = std::max(y1, q.y);
  std::vector<Point2> p;
  for (const auto& q : raw) p.push_back({(q.x - x0) / (x1 - x0), (q.y - y0) / (y1 - y0)});
  double area = 0;
  for (const auto& tri : t) {
    const Point2 &a = p[tri[0]], &b = p[tri[1]], &c = p[tri[2]];
    REQUIRE(cross(a, b, c) > 0);  // counter-clockwise, not degenerate
    area += 0.5 * cross(a, b, c);
    // No point strictly inside the circumcircle (in-circle determinant).
    for (std::size_t i = 0; i < p.size(); ++i) {
      const double ax = a.x - p[i].x, ay = a.y - p[i].y, bx = b.x - p[i].x, by = b.y - p[i].y, cx = c.x - p[i].x,
                   cy = c.y - p[i].y;
      const double det = (ax * ax + ay * ay) * (bx * cy - cx * by) - (bx * bx + by * by) * (ax * cy - cx * ay) +
                         (cx * cx + cy * cy) * (ax * by - bx * ay);
      CHECK(det <= 1e-9);
    }
  }
  CHECK(area == Approx(hull_area(p)).epsilon(1e-9));
}

}  // namespace

TEST_CASE("Contour: the triangulation is Delaunay and tiles the hull, on scattered points and on a grid", "[contour]") {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<Point2> p;
  for (int i = 0; i < 200; ++i) p.push_back({100 + 400 * u(rng), 300 * u(rng) * u(rng)});  // masses' scales
  const auto t = stats::delaunay(p);
  check_delaunay(p, t);
  std::vector<Point2> grid;
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 5; ++j) grid.push_back({100.0 + 50 * i, 10.0 * j});
  const auto g = stats::delaunay(grid);
  CHECK(g.size() == 2 * 5 * 4);
  check_delaunay(grid, g);
}

TEST_CASE("Contour: the level line of a field linear in log CLs is exact, closed where it encircles", "[contour]") {
  std::mt19937_64 rng(6);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<Point2> p;
  for (int i = 0; i < 300; ++i) p.push_back({u(rng), u(rng)});
  const auto t = stats::delaunay(p);
  std::vector<double> v;
  for (const auto& q : p) v.push_back(0.05 * std::exp(3.0 * (q.x + 2 * q.y - 1.5)));
  const auto lines = stats::level_lines(p, v, t, 0.05);
  REQUIRE(lines.size() == 1);  // one open line across the square
  CHECK(lines[0].size() > 10);
  for (const auto& q : lines[0]) CHECK(q.x + 2 * q.y == Approx(1.5).margin(1e-12));
  // A bump: log v = 1 - 9 r^2 crosses the level on a closed line.
  std::vector<double> bump;
  for (const auto& q : p) bump.push_back(0.05 * std::exp(1.0 - 9.0 * ((q.x - 0.5) * (q.x - 0.5) + (q.y - 0.5) * (q.y - 0.5))));
  const auto ring = stats::level_lines(p, bump, t, 0.05);
  REQUIRE(ring.size() == 1);
  CHECK(ring[0].front().x == ring[0].back().x);
  CHECK(ring[0].front().y == ring[0].back().y);
  for (const auto& q : ring[0]) CHECK(std::hypot(q.x - 0.5, q.y - 0.5) == Approx(1.0 / 3).epsilon(0.08));
}

TEST_CASE("Contour CLI: the ATLAS stau exclusion from its 57 patches, drawn, and bad patchsets refused", "[contour][cli][plot]") {
  using refinery::testing::run_refinery;
  refinery::testing::TempDir tmp("contour");
  const std::string dir = refinery::testing::source_path("tests/data/pyhf/atlas-susy-2018-04");
  const std::string args = dir + "/BkgOnly.json --patchset " + dir + "/patchset.json";
  auto r = run_refinery("contour " + args + " --quiet --out " + tmp.path("c.json"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const json c = json::parse(refinery::testing::read_file(tmp.path("c.json")));
  REQUIRE(c["points"].size() == 57);
  CHECK(c["labels"] == json::array({"mst", "mn2"}));
  r = run_refinery("hypotest " + args + " --all --quiet --out " + tmp.path("all.json"));
  REQUIRE(r.exit_code == 0);
  const json all = json::parse(refinery::testing::read_file(tmp.path("all.json")));
  for (std::size_t i = 0; i < 57; ++i) {
    REQUIRE(c["points"][i]["patch"] == all[i]["patch"]);
    CHECK(c["points"][i]["cls_obs"] == all[i]["cls_obs"]);
  }
  // The observed line separates the points: along the massless-LSP row
  // (mn2 = 1) it crosses between the excluded and the allowed stau masses.
  REQUIRE(c["contours"]["observed"].size() >= 1);
  std::vector<double> crossings;
  for (const auto& line : c["contours"]["observed"])
    for (const auto& v : line)
      if (std::abs(v[1].get<double>() - 1.0) < 1e-9) crossings.push_back(v[0].get<double>());
  REQUIRE(crossings.size() == 2);
  std::sort(crossings.begin(), crossings.end());
  for (const auto& p : c["points"]) {
    if (p["y"].get<double>() != 1.0) continue;
    const double m = p["x"].get<double>();
    const bool inside = m > crossings[0] && m < crossings[1];
    INFO(p.dump());
    CHECK(inside == (p["cls_obs"].get<double>() < 0.05));
  }
  for (const char* key : {"expected", "expected_m1", "expected_p1"}) CHECK(!c["contours"][key].empty());
  // Drawn.
  r = run_refinery("plot exclusion " + tmp.path("c.json") + " --out " + tmp.path("c.png"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const json side = json::parse(refinery::testing::read_file(tmp.path("c.png.series.json")));
  int points = 0;
  for (const auto& s : side["series"])
    if (s["type"] == "points") points += s["n"].get<int>();
    else if (s["name"] == "observed") CHECK(s["lines"] == c["contours"]["observed"].size());
  CHECK(points == 57);
  // A patch without mass values; two patches at one signal point.
  json ps = json::parse(refinery::testing::read_file(dir + "/patchset.json"));
  ps["patches"][3]["metadata"].erase("values");
  std::ofstream(tmp.path("novalues.json")) << ps.dump();
  r = run_refinery("contour " + dir + "/BkgOnly.json --patchset " + tmp.path("novalues.json") + " --skip-digest-check");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("novalues.json: patches[3].metadata.values: a contour needs") != std::string::npos);
  ps = json::parse(refinery::testing::read_file(dir + "/patchset.json"));
  ps["patches"][5]["metadata"]["values"] = ps["patches"][4]["metadata"]["values"];
  std::ofstream(tmp.path("twice.json")) << ps.dump();
  r = run_refinery("contour " + dir + "/BkgOnly.json --patchset " + tmp.path("twice.json") + " --skip-digest-check");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("twice.json: patches[5].metadata.values: patch") != std::string::npos);
}
