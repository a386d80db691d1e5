// `refinery scan` in shards (`--shard i/N`, a contiguous block of the points,
// or of the rows of the first parameter in 2D) and their merge (`refinery
// scan --merge SHARD.json...`). Each shard's result carries the model's
// digest, the whole grid and its shard; the merge refuses shards of another
// model, grid or best fit, and a missing or repeated shard, and writes what
// the unsharded scan writes (the points equal to the fits' tolerance: a
// shard's walk outward from the MLE starts at the MLE, not at its
// neighbour's point in another shard). LibTorch-free (runs in the front end).
#pragma once
#include <nlohmann/json.hpp>

#include <string>

namespace refinery::cli {

// The human-readable scan result: the MLE, a 1D scan's table and intervals,
// a 2D scan's size and failures.
std::string scan_text(const nlohmann::json& out);

// A 2D scan's 68.27% and 95% regions (Wilks, 2 dof): out["contours"], one
// entry per level with its polylines (stats::scan_contour). Nothing for a
// 1D scan or a shard.
void add_scan_contours(nlohmann::json& out);

// `refinery scan --merge FILE...`.
int run_scan_merge(int argc, char** argv);

}  // namespace refinery::cli
