// Region selections written as expressions over event features, e.g.
//   "PRI_jet_num >= 2 and DER_mass_jet_jet > 400"
//   "(DER_mass_transverse_met_lep < 40) && !(PRI_jet_num == 0)"
// Grammar: or-expressions of and-expressions of (possibly negated)
// comparisons or parenthesised expressions; a comparison is operand op
// operand with op one of < <= > >= == != and operands feature names or
// numbers. `and`/`&&`, `or`/`||`, `not`/`!`. Parsed once against the feature
// names, evaluated on feature tensors as one vectorised mask. Errors name
// the source, the column and what was expected.
#pragma once
#include <memory>
#include <string>
#include <vector>

// LibTorch's tensor, declared only: parsing is LibTorch-free (the fuzzers
// and the front end's library use it); evaluate() is defined in
// selection_eval.cpp and its callers include <torch/torch.h>.
namespace at {
class Tensor;
}  // namespace at

namespace refinery {

class Selection {
 public:
  // `where` names the source in errors (e.g. "analysis.json: measurement/regions/0/selection").
  static Selection parse(const std::string& text, const std::vector<std::string>& feature_names,
                         const std::string& where);
  // Boolean mask [N] for features [N,F].
  at::Tensor evaluate(const at::Tensor& features) const;
  const std::string& text() const { return text_; }

  struct Node;

 private:
  std::string text_;
  std::shared_ptr<const Node> root_;
};

}  // namespace refinery
