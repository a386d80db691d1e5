#include "src/stats/exclusion_contour.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <utility>

namespace refinery::stats {

namespace {

double orient(const Point2& a, const Point2& b, const Point2& c) {
  return (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x);
}

struct Circle {
  double x, y, r2;
};

Circle circumcircle(const Point2& a, const Point2& b, const Point2& c) {
  const double d = 2.0 * (a.x * (b.y - c.y) + b.x * (c.y - a.y) + c.x * (a.y - b.y));
  const double a2 = a.x * a.x + a.y * a.y, b2 = b.x * b.x + b.y * b.y, c2 = c.x * c.x + c.y * c.y;
  const double ux = (a2 * (b.y - c.y) + b2 * (c.y - a.y) + c2 * (a.y - b.y)) / d;
  const double uy = (a2 * (c.x - b.x) + b2 * (a.x - c.x) + c2 * (b.x - a.x)) / d;
  return {ux, uy, (a.x - ux) * (a.x - ux) + (a.y - uy) * (a.y - uy)};
}

}  // namespace

std::vector<Triangle> delaunay(const std::vector<Point2>& input) {
  const int n = static_cast<int>(input.size());
  if (n < 3) return {};
  // Scale to the unit square.
  double x0 = input[0].x, x1 = x0, y0 = input[0].y, y1 = y0;
  for (const auto& p : input) x0 = std::min(x0, p.x), x1 = std::max(x1, p.x), y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
  const double sx = x1 > x0 ? x1 - x0 : 1.0, sy = y1 > y0 ? y1 - y0 : 1.0;
  std::vector<Point2> p(n + 3);
  for (int i = 0; i < n; ++i) p[i] = {(input[i].x - x0) / sx, (input[i].y - y0) / sy};
  // A triangle far around the unit square.
  p[n] = {-1000.0, -1000.0};
  p[n + 1] = {1000.0, -1000.0};
  p[n + 2] = {0.5, 1000.0};
  struct Face {
    Triangle v;
    Circle c;
  };
  auto face = [&](int a, int b, int c) {
    if (orient(p[a], p[b], p[c]) < 0) std::swap(b, c);
    return Face{{a, b, c}, circumcircle(p[a], p[b], p[c])};
  };
  std::vector<Face> faces = {face(n, n + 1, n + 2)};
  for (int i = 0; i < n; ++i) {
    // Faces whose circumcircle holds the point (strictly: cocircular points
    // of a grid keep their triangles, any diagonal is a Delaunay one).
    std::vector<Face> kept;
    std::map<std::pair<int, int>, int> edges;  // undirected edge -> count among removed faces
    std::vector<std::pair<int, int>> directed;
    for (const Face& f : faces) {
      const double dx = p[i].x - f.c.x, dy = p[i].y - f.c.y;
      if (dx * dx + dy * dy < f.c.r2 * (1.0 - 1e-12)) {
        for (int k = 0; k < 3; ++k) {
          const int a = f.v[k], b = f.v[(k + 1) % 3];
          ++edges[{std::min(a, b), std::max(a, b)}];
          directed.push_back({a, b});
        }
      } else {
        kept.push_back(f);
      }
    }
    // The cavity's boundary: edges of one removed face only.
    for (const auto& [a, b] : directed)
      if (edges[{std::min(a, b), std::max(a, b)}] == 1 && std::abs(orient(p[a], p[b], p[i])) > 0.0)
        kept.push_back(face(a, b, i));
    faces = std::move(kept);
  }
  std::vector<Triangle> out;
  for (const Face& f : faces)
    if (f.v[0] < n && f.v[1] < n && f.v[2] < n) out.push_back(f.v);
  // A finite enclosing triangle can leave slivers of the convex hull
  // uncovered: walk the boundary (counter-clockwise) and fill each reflex
  // vertex b of a -> b -> c with the triangle (a, c, b) until it is convex.
  for (bool changed = true; changed;) {
    changed = false;
    std::map<std::pair<int, int>, int> count;
    for (const Triangle& t : out)
      for (int k = 0; k < 3; ++k) ++count[{std::min(t[k], t[(k + 1) % 3]), std::max(t[k], t[(k + 1) % 3])}];
    std::map<int, int> next;  // boundary edges a -> b, in the triangles' orientation
    for (const Triangle& t : out)
      for (int k = 0; k < 3; ++k) {
        const int a = t[k], b = t[(k + 1) % 3];
        if (count[{std::min(a, b), std::max(a, b)}] == 1) next[a] = b;
      }
    for (const auto& [a, b] : next) {
      const auto it = next.find(b);
      if (it == next.end()) continue;
      const int c = it->second;
      if (c != a && orient(p[a], p[b], p[c]) < -1e-12) {
        out.push_back({a, c, b});
        changed = true;
        break;
      }
    }
  }
  return out;
}

std::vector<Polyline> level_lines(const std::vector<Point2>& points, const std::vector<double>& values,
                                  const std::vector<Triangle>& triangles, double level) {
  const double floor = std::log(std::numeric_limits<double>::min());
  std::vector<double> f(values.size());
  for (std::size_t i = 0; i < values.size(); ++i)
    f[i] = (values[i] > 0.0 ? std::log(values[i]) : floor) - std::log(level);
  // The crossing on edge (a, b), a < b, computed once so that the two
  // triangles sharing the edge give the same point.
  std::map<std::pair<int, int>, int> crossing;
  std::vector<Point2> nodes;
  auto node = [&](int a, int b) {
    if (a > b) std::swap(a, b);
    const auto it = crossing.find({a, b});
    if (it != crossing.end()) return it->second;
    const double t = f[a] / (f[a] - f[b]);
    nodes.push_back({points[a].x + t * (points[b].x - points[a].x), points[a].y + t * (points[b].y - points[a].y)});
    crossing[{a, b}] = static_cast<int>(nodes.size()) - 1;
    return static_cast<int>(nodes.size()) - 1;
  };
  // Each triangle with vertices on both sides (>= 0 counts as above) gives
  // one segment between the two crossed edges.
  std::multimap<int, int> links;
  std::vector<std::pair<int, int>> segments;
  for (const Triangle& t : triangles) {
    std::vector<int> crossed;
    for (int k = 0; k < 3; ++k) {
      const int a = t[k], b = t[(k + 1) % 3];
      if ((f[a] >= 0) != (f[b] >= 0)) crossed.push_back(node(a, b));
    }
    if (crossed.size() != 2) continue;
    segments.push_back({crossed[0], crossed[1]});
    links.insert({crossed[0], crossed[1]});
    links.insert({crossed[1], crossed[0]});
  }
  // Join the segments into polylines: start at an end (a node with one
  // link) where there is one, so open lines come out whole.
  std::set<std::pair<int, int>> used;
  auto take = [&](int a, int b) { return used.insert({std::min(a, b), std::max(a, b)}).second; };
  std::vector<Polyline> lines;
  auto walk = [&](int start) {
    std::vector<int> chain = {start};
    for (int at = start;;) {
      int next = -1;
      auto [lo, hi] = links.equal_range(at);
      for (auto it = lo; it != hi; ++it)
        if (!used.count({std::min(at, it->second), std::max(at, it->second)})) {
          next = it->second;
          break;
        }
      if (next < 0) break;
      take(at, next);
      chain.push_back(next);
      at = next;
    }
    if (chain.size() < 2) return;
    Polyline line;
    for (int k : chain) line.push_back(nodes[k]);
    lines.push_back(std::move(line));
  };
  for (const auto& [a, b] : segments)
    if (links.count(a) == 1 && !used.count({std::min(a, b), std::max(a, b)})) walk(a);
  for (const auto& [a, b] : segments)
    if (!used.count({std::min(a, b), std::max(a, b)})) walk(a);
  return lines;
}

}  // namespace refinery::stats
