#include "src/config/selection.h"
#include "src/config/selection_node.h"

#include <cctype>
#include <cstdlib>

#include "src/core/error.h"

namespace refinery {

namespace {

using NodePtr = std::shared_ptr<const Selection::Node>;

class Parser {
 public:
  Parser(const std::string& text, const std::vector<std::string>& names, const std::string& where)
      : s_(text), names_(names), where_(where) {}

  NodePtr parse() {
    NodePtr n = parse_or();
    skip();
    if (pos_ != s_.size()) fail("unexpected '" + s_.substr(pos_, 12) + "'");
    return n;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    const std::string shown = s_.size() > 80 ? s_.substr(0, 77) + "..." : s_;
    throw InputError(where_, "column " + std::to_string(pos_ + 1), what + " in selection '" + shown + "'");
  }
  void skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  // Consumes `word` (a keyword must end at a non-identifier character).
  bool accept(const std::string& word) {
    skip();
    if (s_.compare(pos_, word.size(), word) != 0) return false;
    const bool keyword = std::isalpha(static_cast<unsigned char>(word[0]));
    const size_t end = pos_ + word.size();
    if (keyword && end < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[end])) || s_[end] == '_')) return false;
    pos_ = end;
    return true;
  }
  NodePtr parse_or() {
    NodePtr left = parse_and();
    while (accept("or") || accept("||")) left = binary(Selection::Node::kOr, left, parse_and());
    return left;
  }
  NodePtr parse_and() {
    NodePtr left = parse_unary();
    while (accept("and") || accept("&&")) left = binary(Selection::Node::kAnd, left, parse_unary());
    return left;
  }
  // Bounds that keep the recursive parser, evaluation and destruction far
  // from the stack's end (a selection nested 20,000 deep overflowed it).
  static constexpr int kMaxDepth = 200, kMaxOperators = 1000;
  void enter(size_t at) {
    if (++depth_ > kMaxDepth) {
      pos_ = at;
      fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    }
  }
  NodePtr parse_unary() {
    skip();
    const size_t at = pos_;
    if (accept("not") || (peek_bang() && accept("!"))) {
      auto n = std::make_shared<Selection::Node>();
      n->kind = Selection::Node::kNot;
      enter(at);
      n->a = parse_unary();
      --depth_;
      return n;
    }
    if (accept("(")) {
      enter(at);
      NodePtr inner = parse_or();
      --depth_;
      if (!accept(")")) fail("expected ')'");
      return inner;
    }
    return parse_comparison();
  }
  bool peek_bang() {
    skip();
    return pos_ < s_.size() && s_[pos_] == '!' && (pos_ + 1 >= s_.size() || s_[pos_ + 1] != '=');
  }
  NodePtr parse_comparison() {
    auto n = std::make_shared<Selection::Node>();
    n->kind = Selection::Node::kCompare;
    operand(&n->left_col, &n->left_value);
    skip();
    for (const char* op : {"<=", ">=", "==", "!=", "<", ">"})
      if (accept(op)) {
        n->op = op;
        break;
      }
    if (n->op.empty()) fail("expected a comparison (< <= > >= == !=)");
    operand(&n->right_col, &n->right_value);
    return n;
  }
  void operand(int64_t* col, double* value) {
    skip();
    if (pos_ >= s_.size()) fail("expected a feature name or a number");
    const char c = s_[pos_];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t end = pos_;
      while (end < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[end])) || s_[end] == '_')) ++end;
      const std::string name = s_.substr(pos_, end - pos_);
      for (size_t i = 0; i < names_.size(); ++i)
        if (names_[i] == name) {
          *col = static_cast<int64_t>(i);
          pos_ = end;
          return;
        }
      fail("unknown feature '" + name + "'");
    }
    const char* start = s_.c_str() + pos_;
    char* stop = nullptr;
    *value = std::strtod(start, &stop);
    if (stop == start) fail("expected a feature name or a number");
    pos_ += static_cast<size_t>(stop - start);
  }
  NodePtr binary(Selection::Node::Kind kind, NodePtr a, NodePtr b) {
    if (++operators_ > kMaxOperators) fail("more than " + std::to_string(kMaxOperators) + " and/or operators");
    auto n = std::make_shared<Selection::Node>();
    n->kind = kind;
    n->a = std::move(a);
    n->b = std::move(b);
    return n;
  }

  const std::string& s_;
  const std::vector<std::string>& names_;
  const std::string& where_;
  size_t pos_ = 0;
  int depth_ = 0, operators_ = 0;
};

}  // namespace

Selection Selection::parse(const std::string& text, const std::vector<std::string>& names, const std::string& where) {
  Selection s;
  s.text_ = text;
  s.root_ = Parser(s.text_, names, where).parse();
  return s;
}

}  // namespace refinery
