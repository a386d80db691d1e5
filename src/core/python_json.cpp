#include "src/core/python_json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace refinery {

std::string python_float_repr(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  // Shortest round-trip digits (C++17 to_chars), then Python's layout
  // (float_repr_style "short", format code 'r').
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (sci[0] == '-') sign = "-", sci.erase(0, 1);
  const std::size_t e = sci.find('e');
  std::string digits;
  for (std::size_t i = 0; i < e; ++i)
    if (sci[i] != '.') digits += sci[i];
  const int exponent = std::atoi(sci.c_str() + e + 1);
  // x = 0.d1d2... * 10^decpt
  const int decpt = exponent + 1;
  if (digits == "0") return sign + "0.0";
  std::string out = sign;
  if (decpt <= -4 || decpt > 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char ebuf[16];
    std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out + ebuf;
  }
  if (decpt <= 0) return out + "0." + std::string(-decpt, '0') + digits;
  if (static_cast<int>(digits.size()) <= decpt) return out + digits + std::string(decpt - digits.size(), '0') + ".0";
  return out + digits.substr(0, decpt) + "." + digits.substr(decpt);
}

namespace {

void append_string(std::string& out, const std::string& s) {
  // UTF-8 in, ASCII out: every code point above 0x7f as \uXXXX (surrogate
  // pairs above 0xffff), as ensure_ascii does.
  static const char* hex = "0123456789abcdef";
  auto u = [&](unsigned v) {
    out += "\\u";
    for (int sh = 12; sh >= 0; sh -= 4) out += hex[(v >> sh) & 0xf];
  };
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    unsigned cp = c;
    std::size_t len = 1;
    if (c >= 0xf0) len = 4, cp = c & 0x07;
    else if (c >= 0xe0) len = 3, cp = c & 0x0f;
    else if (c >= 0xc0) len = 2, cp = c & 0x1f;
    for (std::size_t k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    i += len;
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (cp < 0x20 || (cp > 0x7e && cp < 0x10000)) {
      u(cp);
    } else if (cp >= 0x10000) {
      cp -= 0x10000;
      u(0xd800 + (cp >> 10));
      u(0xdc00 + (cp & 0x3ff));
    } else {
      out += static_cast<char>(cp);
    }
  }
  out += '"';
}

void dump(std::string& out, const nlohmann::json& j) {
  // Iterative over containers would avoid deep recursion; documents reach
  // this function only after read_json_file bounded their depth.
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = j.begin(); it != j.end(); ++it) {  // std::map: keys sorted by code point
        if (!first) out += ", ";
        first = false;
        append_string(out, it.key());
        out += ": ";
        dump(out, it.value());
      }
      out += '}';
      return;
    }
    case nlohmann::json::value_t::array: {
      out += '[';
      for (std::size_t i = 0; i < j.size(); ++i) {
        if (i) out += ", ";
        dump(out, j[i]);
      }
      out += ']';
      return;
    }
    case nlohmann::json::value_t::string: append_string(out, j.get_ref<const std::string&>()); return;
    case nlohmann::json::value_t::boolean: out += j.get<bool>() ? "true" : "false"; return;
    case nlohmann::json::value_t::null: out += "null"; return;
    case nlohmann::json::value_t::number_integer: out += std::to_string(j.get<std::int64_t>()); return;
    case nlohmann::json::value_t::number_unsigned: out += std::to_string(j.get<std::uint64_t>()); return;
    case nlohmann::json::value_t::number_float: out += python_float_repr(j.get<double>()); return;
    default: out += "null"; return;
  }
}

}  // namespace

std::string python_json_dumps(const nlohmann::json& document) {
  std::string out;
  dump(out, document);
  return out;
}

}  // namespace refinery
