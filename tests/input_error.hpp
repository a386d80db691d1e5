// The message of the InputError that f throws, or "<no error>": for tests
// that assert refinery's one-line errors word for word.
#pragma once
#include <functional>
#include <string>

#include "src/core/error.h"

namespace refinery::testing {

inline std::string input_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace refinery::testing
