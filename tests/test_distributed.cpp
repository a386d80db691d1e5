// Data-parallel training (src/distributed/, train/trainer.h): the collective
// operations of a Gloo group on the loopback address against their exact
// results, two-process training against one process with the same global
// batch, and the flags' bad input.
#include "testing.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <torch/script.h>

#include "src/core/error.h"
#include "src/distributed/collective.h"
#include "src/distributed/gloo_group.h"
#include "src/distributed/local_launcher.h"
#include "models/multiclassifier.h"
#include "train/classifier_training.h"

using namespace refinery;
using refinery::testing::run_refinery;
using refinery::testing::TempDir;

namespace {

// Runs body(group) on `n` ranks, each in its own thread, joined in a Gloo
// group on 127.0.0.1 (the same code as separate processes, in one).
void on_ranks(int n, const std::function<void(distributed::Collective&)>& body) {
  const int port = distributed::free_local_port();
  std::vector<std::thread> threads;
  std::vector<std::string> errors(n);
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      try {
        auto group = distributed::join_gloo_group({"127.0.0.1", port, r, n}, std::chrono::seconds(60));
        body(*group);
      } catch (const std::exception& e) {
        errors[r] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (int r = 0; r < n; ++r) {
    INFO("rank " << r << ": " << errors[r]);
    REQUIRE(errors[r].empty());
  }
}

// Runs `command` once in one process (OUT one.pt) and once with
// --world-size 2 (two.pt), both expected to succeed.
void train_one_and_two(const TempDir& tmp, const std::string& command) {
  for (const std::string& variant : {std::string(" --out ") + tmp.path("one.pt"),
                                     std::string(" --world-size 2 --out ") + tmp.path("two.pt")}) {
    auto r = run_refinery(command + variant);
    INFO(command + variant << "\n" << r.output);
    REQUIRE(r.exit_code == 0);
  }
}

// The largest difference between the two archives' parameters (the same
// names in both, at least `at_least` of them).
double parameter_difference(const std::string& a, const std::string& b, size_t at_least) {
  std::map<std::string, torch::Tensor> pa;
  for (const auto& p : torch::jit::load(a).named_parameters()) pa[p.name] = p.value;
  REQUIRE(pa.size() >= at_least);
  double largest = 0.0;
  size_t compared = 0;
  for (const auto& p : torch::jit::load(b).named_parameters()) {
    REQUIRE(pa.count(p.name));
    largest = std::max(largest, (p.value - pa.at(p.name)).abs().max().item<double>());
    ++compared;
  }
  REQUIRE(compared == pa.size());
  return largest;
}

}  // namespace

TEST_CASE("A Gloo group of three ranks sums, gathers and reports per rank exactly", "[distributed]") {
  // What each rank saw (Catch2's assertions run on the main thread).
  struct Seen {
    int size = 0;
    std::vector<torch::Tensor> sums;
    std::vector<double> per_rank;
    torch::Tensor gathered, grad_a, grad_b;
    double total = 0;
  };
  std::vector<Seen> seen(3);
  on_ranks(3, [&](distributed::Collective& g) {
    const int r = g.rank();
    Seen& s = seen[r];
    s.size = g.size();
    // Sums of each dtype the training sends (bool as a count).
    s.sums = {torch::full({4}, double(r + 1), torch::kFloat64), torch::full({2, 3}, float(10 * r), torch::kFloat32),
              torch::tensor({int64_t(r), int64_t(1)}), torch::tensor({r == 1, false})};
    g.sum(s.sums);
    s.per_rank = distributed::per_rank(g, 0.5 * r);
    // Rank r holds r + 1 rows of value r: gathered in rank order.
    s.gathered = distributed::gather_rows(g, torch::full({r + 1, 2}, double(r), torch::kFloat64));
    // Gradients: a parameter whose gradient only rank 2 has.
    torch::Tensor a = torch::zeros({2}, torch::requires_grad()), b = torch::zeros({1}, torch::requires_grad());
    (a * float(r + 1)).sum().backward();
    if (r == 2) (b * 5.0f).sum().backward();
    distributed::sum_gradients(g, {a, b});
    s.grad_a = a.grad();
    s.grad_b = b.grad();
    s.total = distributed::sum(g, 1.0);
  });
  for (int r = 0; r < 3; ++r) {
    INFO("rank " << r);
    const Seen& s = seen[r];
    REQUIRE(s.size == 3);
    REQUIRE(torch::equal(s.sums[0], torch::full({4}, 6.0, torch::kFloat64)));
    REQUIRE(torch::equal(s.sums[1], torch::full({2, 3}, 30.0f)));
    REQUIRE(torch::equal(s.sums[2], torch::tensor({int64_t(3), int64_t(3)})));
    REQUIRE(s.sums[3].scalar_type() == torch::kBool);
    REQUIRE(torch::equal(s.sums[3], torch::tensor({true, false})));
    REQUIRE(s.per_rank == std::vector<double>{0.0, 0.5, 1.0});
    REQUIRE(s.gathered.size(0) == 6);
    REQUIRE(torch::equal(s.gathered.select(1, 0), torch::tensor({0.0, 1.0, 1.0, 2.0, 2.0, 2.0}, torch::kFloat64)));
    REQUIRE(torch::equal(s.grad_a, torch::full({2}, 6.0f)));
    REQUIRE(torch::equal(s.grad_b, torch::full({1}, 5.0f)));
    REQUIRE(s.total == 3.0);
  }
  // Shards cover the rows once, in order, balanced to one row.
  int64_t next = 0;
  for (int r = 0; r < 3; ++r) {
    const auto s = distributed::shard_of(10, r, 3);
    REQUIRE(s.begin == next);
    REQUIRE((s.rows() == 3 || s.rows() == 4));
    next = s.end;
  }
  REQUIRE(next == 10);
}

TEST_CASE("Two-process classifier training equals one process with the same global batch", "[distributed][classifier]") {
  TempDir tmp("distributed_classifier");
  REQUIRE(run_refinery("simulate htautau --quiet --events 60000 --seed 3 --out " + tmp.path("ev.h5")).exit_code == 0);
  train_one_and_two(tmp, "train classifier --quiet --events " + tmp.path("ev.h5") + " --epochs 4 --steps 25");
  REQUIRE_FALSE(refinery::testing::file_exists(tmp.path("two.pt.ckpt")));

  // 100 steps: the loss curves and the weights agree to 1e-5 (the ranks
  // add partial sums in another order than one process: float rounding).
  const auto a = nlohmann::json::parse(refinery::testing::read_file(tmp.path("one.pt.json")));
  const auto b = nlohmann::json::parse(refinery::testing::read_file(tmp.path("two.pt.json")));
  REQUIRE(a["training"]["ranks"] == 1);
  REQUIRE(b["training"]["ranks"] == 2);
  REQUIRE(a["training"]["samples"] == b["training"]["samples"]);
  const auto& ea = a["training"]["epochs"];
  const auto& eb = b["training"]["epochs"];
  REQUIRE(ea.size() == 4);
  REQUIRE(eb.size() == 4);
  for (size_t e = 0; e < ea.size(); ++e) {
    CHECK(eb[e]["train_loss"].get<double>() == Approx(ea[e]["train_loss"].get<double>()).epsilon(1e-5));
    CHECK(eb[e]["val_loss"].get<double>() == Approx(ea[e]["val_loss"].get<double>()).epsilon(1e-5));
    REQUIRE(eb[e]["rank_seconds"].size() == 2);
    REQUIRE_FALSE(ea[e].contains("rank_seconds"));
  }
  // The calibration, fitted on all ranks' held-out events, is the same.
  CHECK(b["calibration"]["test_after"]["ece"].get<double>() ==
        Approx(a["calibration"]["test_after"]["ece"].get<double>()).epsilon(1e-4));
  for (size_t p = 0; p < a["yields"].size(); ++p)
    CHECK(b["yields"][p].get<double>() == Approx(a["yields"][p].get<double>()).epsilon(1e-12));
  // Adam divides by the gradient's running RMS, so a parameter whose gradient
  // is near zero takes steps of O(learning rate) whatever the rounding of its
  // gradient: the weights differ more than the losses. Measured: below 1e-5
  // until 2026-12-02, 6.5e-5 on a Xeon with AVX-512 (2026-12-04); a wrong
  // batch or shard gives differences of order 1e-2.
  CHECK(parameter_difference(tmp.path("one.pt"), tmp.path("two.pt"), 6) < 2e-4);
}

TEST_CASE("Two-process DCR training equals one process (paired toy samples)", "[distributed][dcr]") {
  TempDir tmp("distributed_dcr");
  train_one_and_two(tmp, "train dcr --quiet --toy dcr_toy_3d --events 20000 --epochs 4 --steps 25 --batch 1024");
  const auto a = nlohmann::json::parse(refinery::testing::read_file(tmp.path("one.pt.json")));
  const auto b = nlohmann::json::parse(refinery::testing::read_file(tmp.path("two.pt.json")));
  REQUIRE(b["training"]["ranks"] == 2);
  REQUIRE(b["training"]["paired"] == true);
  for (size_t e = 0; e < 4; ++e) {
    CHECK(b["training"]["epochs"][e]["train_loss"].get<double>() ==
          Approx(a["training"]["epochs"][e]["train_loss"].get<double>()).epsilon(1e-5));
    CHECK(b["training"]["epochs"][e]["val_loss"].get<double>() ==
          Approx(a["training"]["epochs"][e]["val_loss"].get<double>()).epsilon(1e-5));
  }
  CHECK(b["closure"]["rms_log_r_error"].get<double>() == Approx(a["closure"]["rms_log_r_error"].get<double>()).epsilon(1e-4));
  CHECK(parameter_difference(tmp.path("one.pt"), tmp.path("two.pt"), 4) < 1e-5);
}

TEST_CASE("A two-rank training resumed from its checkpoint ends with the uninterrupted run's weights", "[distributed][resume]") {
  TempDir tmp("distributed_resume");
  // Two Gaussian classes in 3-D, 6000 events; rank r trains on its half.
  torch::manual_seed(5);
  const int64_t n = 6000;
  torch::Tensor y = torch::randint(0, 2, {n}, torch::kLong);
  torch::Tensor x = torch::randn({n, 3}) + y.unsqueeze(1).to(torch::kFloat32) * 0.8f;
  torch::Tensor w = torch::ones({n}, torch::kFloat64);
  auto run = [&](const std::string& checkpoint, int interrupt, bool resume, int ranks = 2) {
    std::vector<std::vector<torch::Tensor>> weights(ranks);
    std::vector<bool> interrupted(ranks);
    on_ranks(ranks, [&](distributed::Collective& g) {
      const auto shard = distributed::shard_of(n, g.rank(), g.size());
      ClassifierData d{x.narrow(0, shard.begin, shard.rows()), y.narrow(0, shard.begin, shard.rows()),
                       w.narrow(0, shard.begin, shard.rows()), {"a", "b"}, shard.begin};
      // LibTorch's default generator is one per process: seeding and drawing
      // the initial weights under a lock keeps rank 0's draw its own (its
      // weights are broadcast to the other rank).
      static std::mutex generator;
      std::unique_lock<std::mutex> hold(generator);
      torch::manual_seed(7 + g.rank());
      MultiClassifier clf(MultiClassifierOptions(3, 2).hidden({16}));
      hold.unlock();
      ClassifierTrainOptions o;
      o.batch_size = 256;
      o.train.epochs = 4;
      o.train.steps_per_epoch = 15;
      o.train.quiet = true;
      o.train.seed = 11;
      o.train.checkpoint = checkpoint;
      o.train.interrupt_after = interrupt;
      o.train.resume = resume;
      o.train.group = std::shared_ptr<distributed::Collective>(&g, [](auto*) {});
      interrupted[g.rank()] = train_classifier(clf, d, o).report.interrupted;
      for (const auto& p : clf->parameters()) weights[g.rank()].push_back(p.detach().clone());
    });
    return std::make_pair(weights, interrupted);
  };
  auto [full, full_interrupted] = run(tmp.path("a.ckpt"), 0, false);
  auto [part, part_interrupted] = run(tmp.path("b.ckpt"), 2, false);
  REQUIRE(part_interrupted[0]);
  REQUIRE(part_interrupted[1]);
  auto [resumed, resumed_interrupted] = run(tmp.path("b.ckpt"), 0, true);
  REQUIRE_FALSE(resumed_interrupted[0]);
  REQUIRE(full[0].size() >= 4);
  for (int r = 0; r < 2; ++r)
    for (size_t i = 0; i < full[0].size(); ++i) {
      REQUIRE(torch::equal(full[r][i], full[0][i]));  // the ranks hold one network
      REQUIRE(torch::equal(resumed[r][i], full[0][i]));  // bit for bit
    }
  // Resumed in one process instead: it continues from the same weights and
  // optimiser state, and ends where the two ranks did up to rounding.
  run(tmp.path("c.ckpt"), 2, false);
  auto [alone, alone_interrupted] = run(tmp.path("c.ckpt"), 0, true, 1);
  REQUIRE_FALSE(alone_interrupted[0]);
  for (size_t i = 0; i < full[0].size(); ++i) CHECK((alone[0][i] - full[0][i]).abs().max().item<double>() < 1e-5);
}

TEST_CASE("Data-parallel flags: bad input is one line and exit 2", "[distributed][bad-input]") {
  TempDir tmp("distributed_flags");
  const std::string base = "train classifier --quiet --events " + tmp.path("ev.h5") + " --out " + tmp.path("x.pt");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {" --world-size 2", "refinery train: error: " + tmp.path("ev.h5") + ": no such file\n"},
      {" --rank 1", "refinery train: error: --world-size: needed with --rank and --master\n"},
      {" --world-size 0", "refinery train: error: --world-size: must be >= 1, got 0\n"},
      {" --world-size 2 --rank 0 --master localhost", "refinery train: error: --master: expected HOST:PORT, got 'localhost'\n"},
      {" --world-size 2 --rank 0 --master 127.0.0.1:70000", "refinery train: error: --master: port outside 1..65535 in '127.0.0.1:70000'\n"},
      {" --world-size 2 --rank 2 --master 127.0.0.1:2999", "refinery train: error: --rank: rank 2 outside a world of size 2\n"},
      {" --world-size 2 --master 127.0.0.1:2999", "refinery train: error: --master: needs --rank (without --rank the ranks are started here)\n"},
  };
  for (const auto& [flags, message] : cases) {
    auto r = run_refinery(base + flags);
    INFO(flags);
    CHECK(r.exit_code == 2);
    CHECK(r.output == message);
  }
  REQUIRE_FALSE(refinery::testing::file_exists(tmp.path("x.pt")));

  // A rank whose peers never come gives up after --join-timeout (not
  // Gloo's 300 s), one line naming the group, exit 2, no output file.
  REQUIRE(run_refinery("simulate htautau --quiet --events 20000 --seed 3 --out " + tmp.path("ev.h5")).exit_code == 0);
  const std::string alone = base + " --world-size 2 --rank 0 --master 127.0.0.1:" +
                            std::to_string(refinery::distributed::free_local_port());
  const auto start = std::chrono::steady_clock::now();
  auto lonely = run_refinery(alone + " --join-timeout 2");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(lonely.exit_code == 2);
  CHECK(lonely.output.rfind("refinery train: error: --master: rank 0 could not join the group at 127.0.0.1:", 0) == 0);
  CHECK(lonely.output.find(" within 2 s (--join-timeout): ") != std::string::npos);
  CHECK(std::count(lonely.output.begin(), lonely.output.end(), '\n') == 1);
  CHECK(seconds < 60.0);
  CHECK_FALSE(refinery::testing::file_exists(tmp.path("x.pt")));
  auto zero = run_refinery(alone + " --join-timeout 0");
  CHECK(zero.exit_code == 2);
  CHECK(zero.output == "refinery train: error: --join-timeout: must be >= 1 (seconds), got 0\n");
  auto sannt = run_refinery("train sannt --quiet --world-size 2");
  CHECK(sannt.exit_code == 2);
  CHECK(sannt.output ==
        "refinery train: error: --world-size: SANNT trains in one process (its loss depends on histograms of the whole "
        "sample); drop the flag\n");
}
