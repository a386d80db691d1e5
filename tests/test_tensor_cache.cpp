// The content-addressed tensor cache behind the measurement's cached set-up
// (src/io/tensor_cache.h): keys follow the bytes of the inputs and the
// settings, entries round-trip exactly, damaged entries read as absent, old
// entries are pruned, an unwritable place stores nothing; processes on one
// cold cache compute an entry once (load_or_claim).
#include "tests/testing.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

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

namespace {

// A child process that takes the claim at `claim_path`, tells the parent
// through `ready` (one byte: '1' held), then sleeps `seconds` and renames
// `from` to `to` (an entry stored, when `from` is not empty) and releases
// the claim. Only calls that are safe after fork() in a threaded process.
pid_t claiming_child(const std::string& claim_path, double seconds, const std::string& from, const std::string& to,
                     int& ready) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    {
      CacheClaim claim(claim_path);
      const char held = claim.state() == CacheClaim::State::held ? '1' : '0';
      if (write(fds[1], &held, 1) != 1) _exit(3);
      usleep(useconds_t(seconds * 1e6));
      if (!from.empty() && std::rename(from.c_str(), to.c_str()) != 0) _exit(4);
    }  // released as a finished holder releases it
    _exit(0);
  }
  close(fds[1]);
  ready = fds[0];
  return pid;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("Tensor cache: processes started together on a cold cache compute an entry once", "[cache]") {
  TempDir tmp("tensor_cache_claim");
  const std::string dir = tmp.path("cache");
  const TensorCache cache(dir, "evaluated", "0123456789abcdef");
  const std::vector<torch::Tensor> entry = {torch::arange(10, torch::kFloat64), torch::ones({2, 3})};
  // What the other process will have computed, stored under another name.
  const TensorCache prepared(dir, "prepared", "0");
  REQUIRE(prepared.store(entry));

  // Another process holds the claim and stores the entry after a second:
  // this one waits for it and reads it, holding no claim.
  int ready = -1;
  pid_t child = claiming_child(cache.claim_path(), 1.0, prepared.path(), cache.path(), ready);
  char held = 0;
  REQUIRE(read(ready, &held, 1) == 1);
  close(ready);
  REQUIRE(held == '1');
  std::unique_ptr<CacheClaim> claim;
  auto start = std::chrono::steady_clock::now();
  auto loaded = cache.load_or_claim(claim, 0.05);
  const double waited = seconds_since(start);
  int status = -1;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  REQUIRE(loaded);
  REQUIRE(!claim);
  REQUIRE(waited > 0.5);
  REQUIRE(torch::equal(loaded->at(0), entry[0]));
  REQUIRE(torch::equal(loaded->at(1), entry[1]));

  // A holder killed before it stores (SIGKILL: no handler runs) releases
  // the claim with its death: the waiter then claims the work itself.
  const TensorCache cold(dir, "regions", "fedcba9876543210");
  child = claiming_child(cold.claim_path(), 60.0, "", "", ready);
  REQUIRE(read(ready, &held, 1) == 1);
  close(ready);
  REQUIRE(held == '1');
  std::thread killer([child] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    kill(child, SIGKILL);
  });
  start = std::chrono::steady_clock::now();
  REQUIRE(!cold.load_or_claim(claim, 0.05));
  const double until_dead = seconds_since(start);
  killer.join();
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(until_dead > 0.3);
  REQUIRE(until_dead < 30.0);
  REQUIRE(claim);
  REQUIRE(claim->state() == CacheClaim::State::held);
  // While this process holds it, another process finds it held ...
  child = claiming_child(cold.claim_path(), 0.0, "", "", ready);
  REQUIRE(read(ready, &held, 1) == 1);
  close(ready);
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(held == '0');
  // ... and this process, asking again, does not wait on itself.
  std::unique_ptr<CacheClaim> again;
  REQUIRE(!cold.load_or_claim(again, 0.05));
  REQUIRE(again);
  REQUIRE(again->state() == CacheClaim::State::unavailable);
  // Released, it can be taken again.
  claim.reset();
  again.reset();
  REQUIRE(CacheClaim(cold.claim_path()).state() == CacheClaim::State::held);
  // A released claim leaves no file (the killed holder's was taken over).
  REQUIRE(!std::filesystem::exists(cold.claim_path()));
  REQUIRE(!std::filesystem::exists(cache.claim_path()));

  // Nowhere to write a claim: no claim, no wait, this process computes.
  std::ofstream(tmp.path("plain")) << "x";
  const TensorCache nowhere(tmp.path("plain") + "/cache", "evaluated", "0");
  REQUIRE(!nowhere.load_or_claim(claim, 0.05));
  REQUIRE(claim);
  REQUIRE(claim->state() == CacheClaim::State::unavailable);
}
