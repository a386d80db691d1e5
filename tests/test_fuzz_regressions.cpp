// The fuzz targets (fuzz/fuzz_targets.h) on the inputs kept in the
// repository: the seeds the fuzzers start from, which the readers must
// accept (so that a target that refused everything, and fuzzed nothing,
// fails here), and the regression inputs of tests/data/fuzz/<target>/ (what
// the fuzzers found: each must now be accepted or refused with an
// InputError, never crash or throw anything else).
#include "tests/testing.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz/fuzz_targets.h"

using namespace refinery;
using refinery::testing::read_file;
using refinery::testing::source_path;

namespace {

std::vector<std::string> files_in(const std::string& dir, const std::string& extension = "") {
  std::vector<std::string> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file() && (extension.empty() || e.path().extension() == extension)) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The LibTorch-free targets and event_file, which this binary links.
const std::vector<fuzz::Target>& all_targets() {
  static const std::vector<fuzz::Target> list = [] {
    std::vector<fuzz::Target> l = fuzz::targets();
    l.push_back({"event_file", fuzz::event_file});
    return l;
  }();
  return list;
}

const fuzz::Target& target(const std::string& name) {
  for (const auto& t : all_targets())
    if (t.name == name) return t;
  throw std::logic_error("no fuzz target " + name);
}

bool run(const std::string& name, const std::string& file) {
  const std::string bytes = read_file(file);
  return target(name).run(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

TEST_CASE("fuzz targets accept their valid seeds", "[fuzz]") {
  struct Seeds {
    const char* target;
    std::string dir, extension;
  };
  for (const Seeds& s : {Seeds{"workspace", source_path("tests/data/pyhf/workspaces"), ".json"},
                         Seeds{"experiment_config", source_path("experiments"), ".json"},
                         Seeds{"selection", source_path("fuzz/seeds/selection"), ""},
                         Seeds{"patch", source_path("fuzz/seeds/patch"), ".json"},
                         Seeds{"model_archive", source_path("fuzz/seeds/model_archive"), ".pt"},
                         Seeds{"event_file", source_path("fuzz/seeds/event_file"), ".h5"}}) {
    const auto files = files_in(s.dir, s.extension);
    INFO(s.target << " seeds in " << s.dir);
    REQUIRE(files.size() >= 3);
    for (const auto& f : files) {
      INFO(f);
      CHECK(run(s.target, f));
    }
  }
}

TEST_CASE("fuzz targets refuse bad input with an input error", "[fuzz]") {
  auto bytes = [](const std::string& text) { return reinterpret_cast<const std::uint8_t*>(text.data()); };
  const std::vector<std::pair<const char*, std::string>> bad = {
      {"workspace", "{\"channels\": 3}"},
      {"workspace", "[1e400]"},
      {"workspace", std::string(3000, '[')},
      {"patch", "[{\"op\": \"remove\", \"path\": \"/nothing/here\"}]"},
      {"patch", "{\"patches\": 7}"},
      {"experiment_config", "{\"seed\": \"x\"}"},
      {"selection", "pt >"},
      {"selection", "unknown_feature < 3"},
      {"selection", std::string(500, '(') + "pt > 1" + std::string(500, ')')},
      {"model_archive", std::string("PK\x05\x06", 4) + std::string(18, '\0')},
      {"model_archive", std::string(100, 'P')},
      {"event_file", ""},
      {"event_file", std::string("\x89HDF\r\n\x1a\n", 8) + std::string(200, '\0')},
      {"event_file", read_file(source_path("fuzz/seeds/event_file/event_file.h5")).substr(0, 4000)}};
  for (const auto& [name, text] : bad) {
    INFO(name << ": " << text.substr(0, 60));
    CHECK_FALSE(target(name).run(bytes(text), text.size()));
  }
}

TEST_CASE("fuzz findings kept as regression inputs", "[fuzz]") {
  // Each input found by a fuzzer is kept in tests/data/fuzz/<target>/ and
  // named, with what it found, in tests/data/fuzz/README.md.
  const std::string root = source_path("tests/data/fuzz");
  const std::string readme = read_file(root + "/README.md");
  // event_file/global_heap_loop.h5 makes libhdf5 loop: stopped after 1 s
  // rather than the default 20 (src/io/h5_probe.h).
  ::setenv("REFINERY_HDF5_PROBE_SECONDS", "1", 1);
  REQUIRE(readme.find("| input | what it found | fixed in |") != std::string::npos);
  for (const auto& t : all_targets()) {
    for (const auto& f : files_in(root + "/" + t.name)) {
      INFO(f);
      CHECK(readme.find(std::string(t.name) + "/" + std::filesystem::path(f).filename().string()) != std::string::npos);
      CHECK_NOTHROW(run(t.name, f));
    }
  }
  // And every input the README lists is there (a file git ignored was
  // missing from clones, and nothing noticed).
  std::istringstream lines(readme);
  int listed = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| ", 0) != 0) continue;
    const std::string cell = line.substr(2, line.find(" |", 2) - 2);
    if (cell.find('/') == std::string::npos) continue;
    ++listed;
    INFO(cell);
    CHECK(std::filesystem::is_regular_file(root + "/" + cell));
  }
  CHECK(listed >= 5);
}

TEST_CASE("A damaged HDF5 file that crashes libhdf5 itself gets one line and exit 2", "[fuzz][cli]") {
  // libhdf5 1.10 copies a wild length from these files' global heaps when a
  // string attribute is read (a segmentation fault in every command that
  // read them before); the readers now read first in a child process
  // (src/io/h5_probe.h). The event file's feature names, the augmented
  // sample's names.
  const std::string events = source_path("tests/data/fuzz/event_file/global_heap_memcpy.h5");
  const std::string sample = source_path("tests/data/fuzz/event_file/augmented_sample_memcpy.h5");
  for (const auto& [command, file] : std::vector<std::pair<std::string, std::string>>{
           {"inspect " + events, events}, {"train ratio " + sample + " --out never.pt", sample}}) {
    const auto r = refinery::testing::run_refinery(command);
    INFO(command << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(file + ": damaged HDF5 file: the HDF5 library crashed reading it") != std::string::npos);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
  }
  // In a workspace's place it is not a learned-ratio likelihood (its kind is
  // read without harm): one line, exit 2 too.
  const auto r = refinery::testing::run_refinery("fit " + events);
  CHECK(r.exit_code == 2);
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
}
