// The content-addressed tensor cache behind the measurement's cached set-up
// (src/io/tensor_cache.h): keys follow the bytes of the inputs and the
// settings, entries round-trip exactly, damaged entries read as absent, old
// entries are pruned, an unwritable place stores nothing.
#include "tests/testing.hpp"

#include <filesystem>
#include <fstream>

#include "src/io/tensor_cache.h"

using namespace refinery;
using refinery::testing::TempDir;

TEST_CASE("Tensor cache: keys follow the inputs' bytes, entries round-trip, damage reads as absent", "[cache]") {
  TempDir tmp("tensor_cache");
  const std::string a = tmp.path("a.bin"), b = tmp.path("b.bin");
  std::ofstream(a) << "simulated events";
  std::ofstream(b) << "network";
  const std::string key = TensorCache::key_of("v1", {a, b}, {"setting"});
  REQUIRE(key.size() == 16);
  REQUIRE(TensorCache::key_of("v1", {a, b}, {"setting"}) == key);
  REQUIRE(TensorCache::key_of("v2", {a, b}, {"setting"}) != key);
  REQUIRE(TensorCache::key_of("v1", {a, b}, {"settinG"}) != key);
  REQUIRE(TensorCache::key_of("v1", {b, a}, {"setting"}) != key);
  // Settings are length-prefixed: moving text between two settings changes the key.
  REQUIRE(TensorCache::key_of("v1", {a}, {"ab", "c"}) != TensorCache::key_of("v1", {a}, {"a", "bc"}));
  std::ofstream(a) << "simulated eventS";  // same size, one byte differs
  const std::string changed = TensorCache::key_of("v1", {a, b}, {"setting"});
  REQUIRE(changed != key);
  REQUIRE_THROWS_WITH(TensorCache::key_of("v1", {tmp.path("missing.h5")}, {}),
                      Catch::Contains("missing.h5") && Catch::Contains("cannot be read"));

  const std::string dir = tmp.path("cache");
  TensorCache cache(dir, "evaluated", changed);
  REQUIRE(!cache.load());
  torch::manual_seed(3);
  const std::vector<torch::Tensor> stored = {torch::randn({1000, 3}, torch::kFloat64), torch::randint(0, 4, {1000}),
                                             torch::randn({1000, 4, 9}), torch::zeros({0}, torch::kFloat64)};
  REQUIRE(cache.store(stored));
  auto loaded = cache.load();
  REQUIRE(loaded);
  REQUIRE(loaded->size() == stored.size());
  for (size_t i = 0; i < stored.size(); ++i) {
    REQUIRE(loaded->at(i).scalar_type() == stored[i].scalar_type());
    REQUIRE(torch::equal(loaded->at(i), stored[i]));
  }
  // A truncated entry reads as absent.
  std::filesystem::resize_file(cache.path(), std::filesystem::file_size(cache.path()) / 3);
  REQUIRE(!cache.load());
  // Pruning: keep = 2 leaves the two newest entries of the prefix, and
  // entries of another prefix alone.
  REQUIRE(TensorCache(dir, "other", "0", 1).store({torch::ones({1})}));
  for (int k = 0; k < 4; ++k) REQUIRE(TensorCache(dir, "regions", std::to_string(k), 2).store({torch::full({1}, k)}));
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  REQUIRE(names == std::vector<std::string>{"evaluated_" + changed + ".pt", "other_0.pt", "regions_2.pt", "regions_3.pt"});
  // Nowhere to write (the directory's place is a file): nothing stored.
  std::ofstream(tmp.path("plain")) << "x";
  REQUIRE(!TensorCache(tmp.path("plain") + "/cache", "evaluated", "0").store(stored));
}
