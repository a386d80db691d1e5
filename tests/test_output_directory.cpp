// OutputDirectory (src/core/output_directory.h): a failed command leaves no
// empty directory it created; a directory that existed, or one with files in
// it, is never removed.
#include "testing.hpp"

#include <filesystem>
#include <fstream>

#include "src/core/error.h"
#include "src/core/output_directory.h"

using refinery::OutputDirectory;
namespace fs = std::filesystem;

TEST_CASE("OutputDirectory removes the empty directories it created unless committed", "[output-directory]") {
  refinery::testing::TempDir tmp("output_directory");
  {
    OutputDirectory d(tmp.path("a/b/c/"), "--out");  // trailing slash: the same directory
    REQUIRE(fs::is_directory(tmp.path("a/b/c")));
  }
  CHECK(!fs::exists(tmp.path("a")));  // all three created levels removed
  CHECK(fs::is_directory(tmp.dir()));  // what existed before stays
  {
    OutputDirectory d(tmp.path("kept/x"), "--out");
    d.commit();
  }
  CHECK(fs::is_directory(tmp.path("kept/x")));
  {
    OutputDirectory d(tmp.path("partial/y"), "--out");
    std::ofstream(tmp.path("partial/y/file.txt")) << "output";
  }
  CHECK(fs::exists(tmp.path("partial/y/file.txt")));  // not empty: kept, with its parent
  {
    std::ofstream(tmp.path("plain")) << "a file";
  }
  try {
    OutputDirectory d(tmp.path("plain"), "--out");
    FAIL("a file accepted as the output directory");
  } catch (const refinery::InputError& e) {
    CHECK(std::string(e.what()) == tmp.path("plain") + ": --out: exists and is not a directory");
  }
  try {
    OutputDirectory d(tmp.path("plain/sub/dir"), "--out");
    FAIL("a directory below a file accepted");
  } catch (const refinery::InputError& e) {
    CHECK(std::string(e.what()) == tmp.path("plain/sub/dir") + ": --out: cannot create this directory");
  }
  CHECK(fs::is_regular_file(tmp.path("plain")));
}
