// Common header of the test suite. LibTorch pulls in glog, whose CHECK macro
// would replace Catch2's (and abort on failure): include torch first, drop
// glog's CHECK, then Catch2.
#pragma once
#include <torch/torch.h>
#undef CHECK
#include <catch2/catch.hpp>

#include <string>
#include <utility>

namespace refinery::testing {

// A fresh directory under the build tree, removed when the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& name);
  ~TempDir();
  std::string path(const std::string& file) const { return dir_ + "/" + file; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

struct CommandResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};
// Runs a shell command line and captures its output.
CommandResult run_command(const std::string& command_line);
// Runs the refinery executable with the given arguments.
CommandResult run_refinery(const std::string& arguments);
// The Debian python with numpy/h5py/torch (the python3 first on PATH may not see them).
const char* debian_python();
std::string source_path(const std::string& relative);
std::string read_file(const std::string& path);
bool file_exists(const std::string& path);
// Width and height from a PNG's signature and IHDR chunk; {0, 0} if the file
// is not a PNG.
std::pair<int, int> png_size(const std::string& path);

}  // namespace refinery::testing
