#include "train/trainer.h"

#include <fstream>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/core/progress.h"
#include "src/core/threads.h"

namespace refinery {

namespace {

void copy_parameters(torch::nn::Module& from, std::vector<torch::Tensor>& to) {
  torch::NoGradGuard g;
  to.clear();
  for (const auto& p : from.parameters()) to.push_back(p.detach().clone());
  for (const auto& b : from.buffers()) to.push_back(b.detach().clone());
}

void restore_parameters(torch::nn::Module& module, const std::vector<torch::Tensor>& from) {
  torch::NoGradGuard g;
  size_t i = 0;
  for (auto& p : module.parameters()) p.copy_(from[i++]);
  for (auto& b : module.buffers()) b.copy_(from[i++]);
}

// The running average of the parameters (TrainOptions::average_steps) moved
// by one step: a += (p - a) * max(1/t, 1/tau), t the step's number from 1.
void update_average(torch::nn::Module& module, std::vector<torch::Tensor>& average, int64_t t, int64_t tau) {
  torch::NoGradGuard g;
  const double rate = std::max(1.0 / double(t), 1.0 / double(tau));
  size_t i = 0;
  for (const auto& p : module.parameters()) {
    average[i].add_(p.detach() - average[i], rate);
    ++i;
  }
}

// Swaps the module's parameters with `average` (twice: back again).
void swap_parameters(torch::nn::Module& module, std::vector<torch::Tensor>& average) {
  torch::NoGradGuard g;
  size_t i = 0;
  for (auto& p : module.parameters()) {
    torch::Tensor keep = p.detach().clone();
    p.copy_(average[i]);
    average[i++] = keep;
  }
}

void save_checkpoint(const std::string& path, torch::nn::Module& module, torch::optim::Adam& opt,
                     int next_epoch, const std::vector<torch::Tensor>& best,
                     const std::vector<torch::Tensor>& average, const TrainReport& report) {
  AtomicFile file(path);
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive m, o, b, a;
  module.save(m);
  opt.save(o);
  for (size_t i = 0; i < best.size(); ++i) b.write("t" + std::to_string(i), best[i]);
  for (size_t i = 0; i < average.size(); ++i) a.write("t" + std::to_string(i), average[i]);
  archive.write("module", m);
  archive.write("optimizer", o);
  archive.write("best", b);
  if (!average.empty()) archive.write("average", a);
  archive.write("next_epoch", torch::tensor(static_cast<int64_t>(next_epoch)));
  archive.write("report", torch::tensor(std::vector<uint8_t>(
                              [&] { auto s = report.to_json().dump(); return std::vector<uint8_t>(s.begin(), s.end()); }())));
  {
    std::ofstream out(file.temp_path(), std::ios::binary);
    if (!out) throw InputError(path, "", "cannot open the checkpoint for writing");
    archive.save_to(out);
    out.flush();
    if (!out) throw std::runtime_error(path + ": writing the checkpoint failed (disk full?)");
  }
  file.commit();
}

}  // namespace

bool TrainOptions::IsValid(std::string* error) const {
  if (epochs < 1) return *error = "epochs must be >= 1", false;
  if (steps_per_epoch < 1) return *error = "steps_per_epoch must be >= 1", false;
  if (!(learning_rate > 0)) return *error = "learning_rate must be positive", false;
  if (!(lr_decay > 0 && lr_decay <= 1)) return *error = "lr_decay must be in (0, 1]", false;
  if (average_steps < 0) return *error = "average_steps must be >= 0", false;
  if (resume && checkpoint.empty()) return *error = "--resume needs a checkpoint path", false;
  return true;
}

nlohmann::json TrainReport::to_json() const {
  nlohmann::json j;
  j["epochs"] = nlohmann::json::array();
  for (const auto& e : epochs) {
    j["epochs"].push_back({{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"val_loss", e.val_loss},
                           {"learning_rate", e.learning_rate}, {"seconds", e.seconds}});
    if (!e.rank_seconds.empty()) j["epochs"].back()["rank_seconds"] = e.rank_seconds;
  }
  j["ranks"] = ranks;
  if (average_steps > 0) j["average_steps"] = average_steps;
  j["best_epoch"] = best_epoch;
  j["best_val_loss"] = best_val_loss;
  j["stop_reason"] = stop_reason;
  j["seconds"] = seconds;
  j["samples"] = samples;
  j["paired"] = paired_fraction >= 0;
  if (paired_fraction >= 0) j["paired_fraction"] = paired_fraction;
  if (normalisation_rms_before >= 0)
    j["normalisation"] = {{"rms_log_inclusive_error_before", normalisation_rms_before},
                          {"rms_log_inclusive_error_after", normalisation_rms_after}};
  return j;
}

TrainReport TrainReport::from_json(const nlohmann::json& j) {
  TrainReport r;
  for (const auto& e : j.at("epochs")) {
    r.epochs.push_back({e.at("epoch").get<int>(), e.at("train_loss").get<double>(), e.at("val_loss").get<double>(),
                        e.at("learning_rate").get<double>(), e.at("seconds").get<double>(),
                        e.value("rank_seconds", std::vector<double>{})});
  }
  r.ranks = j.at("ranks").get<int>();
  r.average_steps = j.value("average_steps", int64_t{0});
  r.best_epoch = j.at("best_epoch").get<int>();
  r.best_val_loss = j.at("best_val_loss").get<double>();
  r.stop_reason = j.at("stop_reason").get<std::string>();
  r.seconds = j.at("seconds").get<double>();
  r.samples = j.at("samples").get<int64_t>();
  r.paired_fraction = j.value("paired_fraction", -1.0);
  if (j.contains("normalisation")) {
    r.normalisation_rms_before = j["normalisation"].at("rms_log_inclusive_error_before").get<double>();
    r.normalisation_rms_after = j["normalisation"].at("rms_log_inclusive_error_after").get<double>();
  }
  return r;
}

std::string member_checkpoint(const std::string& checkpoint, int m) {
  return m == 0 ? checkpoint : checkpoint + "." + std::to_string(m);
}

TrainOptions ensemble_member_options(const TrainOptions& o, int m, int M, std::uint64_t seed_tag, bool checkpoint_required) {
  TrainOptions mo = o;
  if (m > 0) {
    mo.seed = stream_seed(o.seed, {seed_tag, static_cast<uint64_t>(m)});
    if (!o.checkpoint.empty()) mo.checkpoint = member_checkpoint(o.checkpoint, m);
    mo.resume = o.resume && (checkpoint_required || std::filesystem::exists(mo.checkpoint));
  }
  if (M > 1) mo.label += " (member " + std::to_string(m + 1) + "/" + std::to_string(M) + ")";
  return mo;
}

TrainReport train(torch::nn::Module& module, const TrainingProblem& problem, const TrainOptions& opt) {
  std::string error;
  if (!opt.IsValid(&error)) throw InputError("", "training", error);
  auto t_start = std::chrono::steady_clock::now();
  distributed::Collective& group = opt.group ? *opt.group : distributed::single_process();
  const bool lead = group.rank() == 0;  // writes checkpoints, shows progress
  torch::optim::Adam adam(module.parameters(), torch::optim::AdamOptions(opt.learning_rate));
  TrainReport report;
  report.ranks = group.size();
  report.average_steps = opt.average_steps;
  if (group.size() > 1) {
    // Every rank starts from rank 0's weights (and buffers).
    torch::NoGradGuard g;
    std::vector<torch::Tensor> state;
    for (const auto& p : module.parameters()) state.push_back(lead ? p.detach().clone() : torch::zeros_like(p));
    for (const auto& b : module.buffers()) state.push_back(lead ? b.detach().clone() : torch::zeros_like(b));
    group.sum(state);
    restore_parameters(module, state);
  }
  std::vector<torch::Tensor> best;
  copy_parameters(module, best);
  // The running average of the parameters (empty: none).
  std::vector<torch::Tensor> average;
  if (opt.average_steps > 0) {
    torch::NoGradGuard g;
    for (const auto& p : module.parameters()) average.push_back(p.detach().clone());
  }
  int first_epoch = 0;
  double seconds_before = 0.0;  // of the interrupted run, when resuming
  report.best_val_loss = std::numeric_limits<double>::infinity();
  if (opt.resume) {
    if (!std::filesystem::exists(opt.checkpoint)) throw InputError(opt.checkpoint, "--resume", "no checkpoint to resume from");
    torch::serialize::InputArchive archive, m, o, b;
    torch::Tensor next, rep;
    try {
      // Everything read from the checkpoint inside: a checkpoint of another
      // network (architecture or kind) fails here, as bad input.
      archive.load_from(opt.checkpoint);
      archive.read("module", m);
      archive.read("optimizer", o);
      archive.read("best", b);
      // Module::load replaces each tensor with the archive's, whatever its
      // shape: a checkpoint of another architecture would load silently.
      std::vector<std::vector<int64_t>> shapes;
      for (const auto& t : module.parameters()) shapes.push_back(t.sizes().vec());
      module.load(m);
      std::size_t k = 0;
      for (const auto& t : module.parameters())
        if (k >= shapes.size() || t.sizes().vec() != shapes[k++])
          throw InputError(opt.checkpoint, "--resume", "the checkpoint was written for a network of another architecture");
      if (k != shapes.size())
        throw InputError(opt.checkpoint, "--resume", "the checkpoint was written for a network of another architecture");
      adam.load(o);
      for (size_t i = 0; i < best.size(); ++i) b.read("t" + std::to_string(i), best[i]);
      if (!average.empty()) {
        torch::serialize::InputArchive a;
        if (!archive.try_read("average", a))
          throw InputError(opt.checkpoint, "--resume", "the checkpoint was written without a running average of the weights");
        for (size_t i = 0; i < average.size(); ++i) a.read("t" + std::to_string(i), average[i]);
      } else {
        torch::serialize::InputArchive a;
        if (archive.try_read("average", a))
          throw InputError(opt.checkpoint, "--resume", "the checkpoint was written with a running average of the weights");
      }
      archive.read("next_epoch", next);
      archive.read("report", rep);
    } catch (const c10::Error&) {
      throw InputError(opt.checkpoint, "--resume", "not a refinery training checkpoint (or written for another network)");
    }
    first_epoch = static_cast<int>(next.item<int64_t>());
    auto bytes = rep.contiguous();
    std::string text(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), bytes.numel());
    auto j = nlohmann::json::parse(text);
    for (const auto& e : j["epochs"])
      report.epochs.push_back({e["epoch"], e["train_loss"], e["val_loss"], e["learning_rate"], e["seconds"],
                               e.value("rank_seconds", std::vector<double>{})});
    report.best_epoch = j["best_epoch"];
    // The report covers the whole training, the interrupted part included.
    report.samples = j.value("samples", int64_t{0});
    seconds_before = j.value("seconds", 0.0);
    report.best_val_loss = j["best_val_loss"].is_number() ? j["best_val_loss"].get<double>() : std::numeric_limits<double>::infinity();
  }
  if (opt.validate_initial && !opt.resume) {
    torch::NoGradGuard guard;
    module.eval();
    report.best_val_loss = problem.validation_loss();
    report.best_epoch = -1;  // the starting point
  }
  Progress progress(opt.label, opt.epochs, opt.quiet || !lead, 0.0);
  // Mini-batch steps are dominated by matrix products (threads.h).
  GemmBoundScope gemm_bound;
  int epoch = first_epoch;
  report.stop_reason = "completed all epochs";
  // A checkpoint of a training that had stopped early (an ensemble's
  // finished member, resumed with the rest): nothing left to train.
  const bool stopped_early = opt.resume && opt.patience > 0 && first_epoch > 0 && first_epoch - 1 - report.best_epoch >= opt.patience;
  if (stopped_early) {
    report.stop_reason = "early stopping: no better validation loss in " + std::to_string(opt.patience) + " epochs";
    epoch = opt.epochs;
  }
  for (; epoch < opt.epochs; ++epoch) {
    auto t0 = std::chrono::steady_clock::now();
    const double lr = opt.learning_rate * std::pow(opt.lr_decay, epoch);
    for (auto& group : adam.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
    if (problem.begin_epoch) problem.begin_epoch(epoch);
    module.train();
    double sum = 0.0;
    for (int64_t step = 0; step < opt.steps_per_epoch; ++step) {
      RandomStream rng(stream_seed(opt.seed, {0x7a11, static_cast<uint64_t>(epoch), static_cast<uint64_t>(step)}));
      adam.zero_grad();
      torch::Tensor loss = problem.batch_loss(rng);
      // The step's loss over all ranks: every rank sees the same value, so a
      // non-finite one stops them all.
      const double step_loss = distributed::sum(group, loss.item<double>());
      if (!std::isfinite(step_loss))
        throw InputError(opt.checkpoint, opt.label,
                         "non-finite loss at epoch " + std::to_string(epoch + 1) + ", step " + std::to_string(step + 1) +
                             (opt.checkpoint.empty() ? std::string(" (no checkpoint)")
                                                     : std::string("; the last good checkpoint is kept")));
      loss.backward();
      distributed::sum_gradients(group, module.parameters());
      adam.step();
      if (!average.empty()) update_average(module, average, int64_t(epoch) * opt.steps_per_epoch + step + 1, opt.average_steps);
      sum += step_loss;
      report.samples += problem.samples_per_step;
    }
    module.eval();
    double val;
    // With a running average, the average is what is validated (and kept).
    if (!average.empty()) swap_parameters(module, average);
    {
      torch::NoGradGuard guard;
      val = problem.validation_loss();
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<double> rank_seconds;
    if (group.size() > 1) rank_seconds = distributed::per_rank(group, secs);
    report.epochs.push_back({epoch, sum / opt.steps_per_epoch, val, lr, secs, rank_seconds});
    if (val < report.best_val_loss) {
      report.best_val_loss = val;
      report.best_epoch = epoch;
      copy_parameters(module, best);
    }
    if (!average.empty()) swap_parameters(module, average);
    char detail[160];
    std::snprintf(detail, sizeof detail, "epoch %d loss %.6g val %.6g (best %.6g @%d) %.1f s", epoch + 1,
                  sum / opt.steps_per_epoch, val, report.best_val_loss, report.best_epoch + 1, secs);
    std::string line = detail;
    if (!rank_seconds.empty()) {
      // Per-rank throughput: the slowest rank sets the pace of all.
      const auto slowest = std::max_element(rank_seconds.begin(), rank_seconds.end()) - rank_seconds.begin();
      const auto fastest = std::min_element(rank_seconds.begin(), rank_seconds.end()) - rank_seconds.begin();
      char ranks[160];
      std::snprintf(ranks, sizeof ranks, "; %d ranks, slowest rank %d (%.1f s), fastest %d (%.1f s)",
                    group.size(), int(slowest), rank_seconds[slowest], int(fastest), rank_seconds[fastest]);
      line += ranks;
    }
    progress.update(epoch + 1, line);
    const bool stop_early = opt.patience > 0 && epoch - report.best_epoch >= opt.patience;
    report.seconds = seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    if (!opt.checkpoint.empty() && lead) save_checkpoint(opt.checkpoint, module, adam, epoch + 1, best, average, report);
    if (stop_early) {
      report.stop_reason = "early stopping: no better validation loss in " + std::to_string(opt.patience) + " epochs";
      ++epoch;
      break;
    }
    if (opt.interrupt_after > 0 && epoch + 1 - first_epoch >= opt.interrupt_after && epoch + 1 < opt.epochs) {
      report.interrupted = true;
      report.stop_reason = "interrupted";
      report.seconds = seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
      return report;
    }
  }
  restore_parameters(module, best);
  progress.finish("best epoch " + std::to_string(report.best_epoch + 1) + ", val " + std::to_string(report.best_val_loss));
  report.seconds = seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return report;
}

}  // namespace refinery
