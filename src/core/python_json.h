// A JSON document as text exactly as Python's json.dumps(obj, sort_keys=True)
// writes it with its defaults (separators ", " and ": ", ensure_ascii, floats
// as Python's repr, integers as integers): the canonical form whose SHA-256
// pyhf records as a patchset's digest of its background-only workspace.
#pragma once
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace refinery {

std::string python_json_dumps(const nlohmann::json& document);
// Python's repr of a finite double: the shortest digits that round-trip,
// positional for 1e-4 <= |x| < 1e16 (with ".0" when integral), otherwise
// "d.ddde+XX" with at least two exponent digits.
std::string python_float_repr(double x);

}  // namespace refinery
