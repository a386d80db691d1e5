#include "src/io/tensor_cache.h"

#include <algorithm>
#include <cstdio>
#include <chrono>
#include <functional>
#include <filesystem>
#include <iostream>
#include <thread>

#include "src/core/atomic_file.h"
#include "src/core/hash.h"

namespace refinery {

namespace fs = std::filesystem;

TensorCache::TensorCache(std::string directory, std::string prefix, std::string key, int keep)
    : directory_(std::move(directory)), prefix_(std::move(prefix)), key_(std::move(key)), keep_(std::max(keep, 1)) {
  path_ = directory_ + "/" + prefix_ + "_" + key_ + ".pt";
}

std::string TensorCache::key_of(const std::string& format, const std::vector<std::string>& files,
                                const std::vector<std::string>& settings) {
  std::string digest = format;
  for (const auto& f : files) digest += "\nfile " + hex64(fnv1a64_file(f));
  for (const auto& s : settings) digest += "\nsetting " + std::to_string(s.size()) + " " + s;
  return hex64(fnv1a64(digest));
}

std::optional<std::vector<torch::Tensor>> TensorCache::load() const {
  std::error_code ec;
  if (!fs::is_regular_file(path_, ec)) return std::nullopt;
  std::vector<torch::Tensor> tensors;
  try {
    torch::load(tensors, path_);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return tensors;
}

std::string TensorCache::claim_path() const { return directory_ + "/" + prefix_ + "_" + key_ + ".claim"; }

std::optional<std::vector<torch::Tensor>> TensorCache::load_or_claim(std::unique_ptr<CacheClaim>& claim,
                                                                     double poll_seconds) const {
  claim.reset();
  bool told = false;
  for (;;) {
    if (auto t = load()) return t;
    std::error_code ec;
    fs::create_directories(directory_, ec);
    auto attempt = std::make_unique<CacheClaim>(claim_path());
    if (attempt->state() != CacheClaim::State::held_elsewhere) {
      // A holder may have stored the entry between the load above and the claim.
      if (attempt->state() == CacheClaim::State::held)
        if (auto t = load()) return t;
      claim = std::move(attempt);
      return std::nullopt;
    }
    if (!told) {
      std::cerr << "refinery: waiting for " << attempt->holder() << ", which computes the cache entry " << path_
                << " (claim " << claim_path() << ")" << std::endl;
      told = true;
    }
    attempt.reset();
    std::this_thread::sleep_for(std::chrono::duration<double>(poll_seconds));
  }
}

bool TensorCache::store(const std::vector<torch::Tensor>& tensors) const {
  std::error_code ec;
  fs::create_directories(directory_, ec);
  try {
    AtomicFile out(path_);
    std::FILE* file = std::fopen(out.temp_path().c_str(), "wb");
    if (file == nullptr) return false;
    // LibTorch's archive writer finishes the file in its destructor and
    // throws there (std::terminate) if a write comes up short, e.g. on a
    // full disk: so the writer always reports success and a failed write is
    // remembered here, and the entry is then not committed.
    bool failed = false;
    const std::function<size_t(const void*, size_t)> writer = [&](const void* data, size_t n) -> size_t {
      if (!failed && n > 0 && std::fwrite(data, 1, n, file) != n) failed = true;
      return n;
    };
    try {
      torch::save(tensors, writer);
    } catch (const std::exception&) {
      failed = true;
    }
    failed = std::fclose(file) != 0 || failed;
    if (failed) return false;  // the temporary is removed with `out`
    out.commit();
  } catch (const std::exception&) {
    return false;
  }
  // Keep the newest `keep_` entries of this prefix (this one among them).
  std::vector<std::pair<fs::file_time_type, fs::path>> entries;
  for (const auto& entry : fs::directory_iterator(directory_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix_ + "_", 0) == 0 && entry.path().extension() == ".pt" && entry.path() != fs::path(path_))
      entries.emplace_back(fs::last_write_time(entry.path(), ec), entry.path());
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t i = size_t(keep_ - 1); i < entries.size(); ++i) {
    fs::remove(entries[i].second, ec);
    fs::path claim_file = entries[i].second;
    fs::remove(claim_file.replace_extension(".claim"), ec);
  }
  return true;
}

}  // namespace refinery
