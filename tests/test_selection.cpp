// Region selections: parsing, precedence, evaluation against a hand count,
// and errors that name the column.
#include "testing.hpp"

#include "src/config/selection.h"
#include "src/core/error.h"

using namespace refinery;

TEST_CASE("Selections: comparisons, and/or/not with precedence and parentheses", "[selection]") {
  const std::vector<std::string> names{"a", "b", "PRI_jet_num"};
  torch::Tensor x = torch::tensor({{1.0f, 5.0f, 0.0f}, {3.0f, 2.0f, 2.0f}, {-1.0f, 7.0f, 1.0f}, {3.0f, 3.0f, 3.0f}});
  auto mask = [&](const std::string& text) {
    torch::Tensor m = Selection::parse(text, names, "test").evaluate(x);
    std::vector<int> out;
    for (int64_t i = 0; i < m.size(0); ++i) out.push_back(m[i].item<bool>());
    return out;
  };
  REQUIRE(mask("a > 0") == std::vector<int>{1, 1, 0, 1});
  REQUIRE(mask("a >= 3 and b < 3") == std::vector<int>{0, 1, 0, 0});
  // and binds tighter than or: a < 0 or (a == 3 and b == 3)
  REQUIRE(mask("a < 0 or a == 3 and b == 3") == std::vector<int>{0, 0, 1, 1});
  REQUIRE(mask("(a < 0 or a == 3) and b == 3") == std::vector<int>{0, 0, 0, 1});
  REQUIRE(mask("!(PRI_jet_num == 0) && b != 2") == std::vector<int>{0, 0, 1, 1});
  REQUIRE(mask("not a <= 1 || 2.5e0 > b") == std::vector<int>{0, 1, 0, 1});
  REQUIRE(mask("a == b") == std::vector<int>{0, 0, 0, 1});
}

TEST_CASE("Selections: errors name the source and the column", "[selection][bad-input]") {
  const std::vector<std::string> names{"a", "b"};
  REQUIRE_THROWS_WITH(Selection::parse("a > 1 and c < 2", names, "cfg.json: regions/vbf"),
                      "cfg.json: regions/vbf: column 11: unknown feature 'c' in selection 'a > 1 and c < 2'");
  REQUIRE_THROWS_WITH(Selection::parse("(a > 1", names, "s"), "s: column 7: expected ')' in selection '(a > 1'");
  REQUIRE_THROWS_WITH(Selection::parse("a 1", names, "s"),
                      "s: column 3: expected a comparison (< <= > >= == !=) in selection 'a 1'");
  REQUIRE_THROWS_WITH(Selection::parse("a > 1 b", names, "s"), "s: column 7: unexpected 'b' in selection 'a > 1 b'");
  REQUIRE_THROWS_AS(Selection::parse("", names, "s"), InputError);
  // Nesting and length bounded (20,000 levels overflowed the stack), the
  // selection shown shortened.
  const std::string deep = std::string(20000, '(') + "a > 1" + std::string(20000, ')');
  REQUIRE_THROWS_WITH(Selection::parse(deep, names, "s"),
                      "s: column 201: nested deeper than 200 levels in selection '" + std::string(77, '(') + "...'");
  std::string nots;
  for (int i = 0; i < 300; ++i) nots += "not ";
  REQUIRE_THROWS_WITH(Selection::parse(nots + "a > 1", names, "s"),
                      Catch::Contains("nested deeper than 200 levels"));
  std::string chain = "a > 1";
  for (int i = 0; i < 1001; ++i) chain += " and b < 2";
  REQUIRE_THROWS_WITH(Selection::parse(chain, names, "s"), Catch::Contains("more than 1000 and/or operators"));
  chain.resize(chain.size() - std::string(" and b < 2").size());
  REQUIRE(Selection::parse(chain, names, "s").evaluate(torch::zeros({2, 2})).sum().item<int64_t>() == 0);
}
