// Exclusion contours from scattered points (issue 16 item 5): CLs known at
// signal points (m1, m2) that need not lie on a grid are interpolated on a
// Delaunay triangulation, linearly in log CLs within each triangle, and the
// level line (CLs = 0.05) is traced through the triangles (marching
// triangles), joined into polylines. Coordinates are scaled to the unit
// square for the triangulation (masses of different ranges give triangles of
// sensible shape); the contour is returned in the original units.
//
// Exact for a field that is linear in log CLs; elsewhere its error is that of
// linear interpolation over each triangle, i.e. set by the point density.
// Outside the convex hull of the points nothing is extrapolated.
#pragma once
#include <array>
#include <vector>

namespace refinery::stats {

struct Point2 {
  double x = 0.0, y = 0.0;
};
using Triangle = std::array<int, 3>;  // indices into the points, counter-clockwise
using Polyline = std::vector<Point2>;

// Delaunay triangulation (Bowyer-Watson) of points in general or grid
// position; duplicate points must have been removed (InputError otherwise is
// the caller's: this returns triangles of the distinct ones only).
std::vector<Triangle> delaunay(const std::vector<Point2>& points);

// The lines where log(value) = log(level), value interpolated linearly in
// log within each triangle; value <= 0 counts as far below the level. A
// polyline is closed when its first and last points coincide.
std::vector<Polyline> level_lines(const std::vector<Point2>& points, const std::vector<double>& values,
                                  const std::vector<Triangle>& triangles, double level);

}  // namespace refinery::stats
