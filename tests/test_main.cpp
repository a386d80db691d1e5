// Catch2's main, plus the shared test helpers of testing.hpp. Every run
// fails when its test spec matches no test case or a test case makes no
// assertion (ctest runs one case per entry: an entry that tests nothing
// must not pass).
#define CATCH_CONFIG_RUNNER
#include "testing.hpp"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace refinery::testing {

TempDir::TempDir(const std::string& name) {
  dir_ = std::string(REFINERY_TEST_TMP) + "/" + name + "." + std::to_string(::getpid());
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

CommandResult run_command(const std::string& command_line) {
  std::string full = command_line + " 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string output;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) output.append(buf.data(), n);
  int status = pclose(pipe);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return {code, output};
}

CommandResult run_refinery(const std::string& arguments) {
  return run_command(std::string(REFINERY_BINARY) + " " + arguments);
}

const char* debian_python() { return "/usr/bin/python3"; }

std::string source_path(const std::string& relative) {
  return std::string(REFINERY_SOURCE_DIR) + "/" + relative;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool file_exists(const std::string& path) { return std::filesystem::exists(path); }

std::pair<int, int> png_size(const std::string& path) {
  const std::string bytes = read_file(path);
  const std::string signature = "\x89PNG\r\n\x1a\n";
  if (bytes.size() < 24 || bytes.compare(0, 8, signature) != 0 || bytes.compare(12, 4, "IHDR") != 0) return {0, 0};
  auto be32 = [&](std::size_t at) {
    int v = 0;
    for (int k = 0; k < 4; ++k) v = (v << 8) | static_cast<unsigned char>(bytes[at + k]);
    return v;
  };
  return {be32(16), be32(20)};
}

}  // namespace refinery::testing

int main(int argc, char* argv[]) {
  Catch::Session session;
  const int parsed = session.applyCommandLine(argc, argv);
  if (parsed != 0) return parsed;
  auto& data = session.configData();
  data.warnings = static_cast<Catch::WarnAbout::What>(data.warnings | Catch::WarnAbout::NoAssertions |
                                                      Catch::WarnAbout::NoTests);
  return session.run();
}
