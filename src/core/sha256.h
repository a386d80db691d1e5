// SHA-256 (FIPS 180-4) of a byte string, as 64 lowercase hex digits: the
// digest pyhf records for the background-only workspace of a patchset.
#pragma once
#include <string>

namespace refinery {

std::string sha256_hex(const std::string& bytes);

}  // namespace refinery
