// Small text helpers for messages.
#pragma once
#include <string>
#include <vector>

namespace refinery {

// "a, b, c" (items joined by `separator`; "" for none).
std::string join(const std::vector<std::string>& items, const std::string& separator = ", ");
// The non-empty items of "a,b,,c" ({a, b, c}).
std::vector<std::string> split(const std::string& text, char separator = ',');

}  // namespace refinery
