// Selection::evaluate: a parsed selection on feature tensors, one vectorised
// mask (the library's LibTorch part; the parser is LibTorch-free).
#include <torch/torch.h>

#include "src/config/selection.h"
#include "src/config/selection_node.h"
#include "src/core/error.h"

namespace refinery {

namespace {

torch::Tensor eval_node(const Selection::Node& n, const torch::Tensor& x) {
  switch (n.kind) {
    case Selection::Node::kAnd: return eval_node(*n.a, x).logical_and(eval_node(*n.b, x));
    case Selection::Node::kOr: return eval_node(*n.a, x).logical_or(eval_node(*n.b, x));
    case Selection::Node::kNot: return eval_node(*n.a, x).logical_not();
    case Selection::Node::kCompare: break;
  }
  auto side = [&](int64_t col, double value) {
    return col >= 0 ? x.select(1, col).to(torch::kFloat64) : torch::full({x.size(0)}, value, torch::kFloat64);
  };
  torch::Tensor l = side(n.left_col, n.left_value), r = side(n.right_col, n.right_value);
  if (n.op == "<") return l < r;
  if (n.op == "<=") return l <= r;
  if (n.op == ">") return l > r;
  if (n.op == ">=") return l >= r;
  if (n.op == "==") return l == r;
  return l != r;
}

}  // namespace

torch::Tensor Selection::evaluate(const torch::Tensor& x) const {
  if (x.dim() != 2) throw InputError("", "selection", "features [N,F] expected");
  return eval_node(*root_, x);
}

}  // namespace refinery
