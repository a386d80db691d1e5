// Error types of refinery. The CLI maps InputError (bad files, configs,
// arguments) to exit code 2 and anything else to exit code 1; every message
// is one line that names the file and the key or dataset at fault.
#pragma once
#include <stdexcept>
#include <string>

namespace refinery {

// Bad input from the user: missing or malformed file, bad config key or
// value, wrong shape, NaN in data, invalid command-line argument.
class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& message) : std::runtime_error(message) {}
  // "<file>: <where>: <what>" with empty parts left out.
  InputError(const std::string& file, const std::string& where, const std::string& what)
      : std::runtime_error(compose(file, where, what)) {}

  static std::string compose(const std::string& file, const std::string& where,
                             const std::string& what) {
    std::string out;
    if (!file.empty()) out += file + ": ";
    if (!where.empty()) out += where + ": ";
    return out + what;
  }
};

// Configuration errors are input errors that point at a key path.
class ConfigError : public InputError {
 public:
  using InputError::InputError;
};

}  // namespace refinery
