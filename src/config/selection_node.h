// The parsed form of a Selection (src/config/selection.h): a tree of
// and/or/not over comparisons, shared by the parser (selection.cpp) and the
// evaluation on tensors (selection_eval.cpp).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "src/config/selection.h"

namespace refinery {

struct Selection::Node {
  enum Kind { kAnd, kOr, kNot, kCompare } kind;
  std::shared_ptr<const Node> a, b;  // operands of and/or/not
  // Comparison: each side a feature column (>= 0) or a constant.
  int64_t left_col = -1, right_col = -1;
  double left_value = 0, right_value = 0;
  std::string op;
};

}  // namespace refinery
