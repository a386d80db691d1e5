// A content-addressed cache of tensors on disk: work that a command would
// repeat on unchanged inputs (the networks' outputs on a simulated sample,
// the recalibrations fitted on it) is stored under a key that hashes the
// bytes of every input file and the settings the work depends on, so that a
// stale entry is never read: any change gives another key.
//
// Entries are written atomically (a run stopped while writing leaves none);
// after a write only the `keep` newest entries with the same prefix stay. An
// entry that cannot be read (truncated, another LibTorch) reads as absent;
// callers check the shapes of what they load before they trust it.
//
// Processes that start together on a cold cache compute an entry once:
// load_or_claim lets the first claim the work (src/io/cache_claim.h) and the
// others wait for its entry.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/io/cache_claim.h"

namespace refinery {

class TensorCache {
 public:
  // Entry `<directory>/<prefix>_<key>.pt`.
  TensorCache(std::string directory, std::string prefix, std::string key, int keep = 1);

  // FNV-1a (src/core/hash.h) over a format tag, the bytes of each file
  // (InputError naming a file that cannot be read) and each setting's text.
  static std::string key_of(const std::string& format, const std::vector<std::string>& files,
                            const std::vector<std::string>& settings);

  const std::string& key() const { return key_; }
  const std::string& path() const { return path_; }
  std::optional<std::vector<torch::Tensor>> load() const;
  // The entry, after waiting (one line on stderr, then a look every
  // `poll_seconds`) while another process holds the claim on its work;
  // nullopt when it is absent and this process is to compute it: `claim`
  // then holds the claim (or an unavailable one, src/io/cache_claim.h) until
  // the caller has stored the entry and resets it. An entry that does not
  // read (damaged) counts as absent.
  std::optional<std::vector<torch::Tensor>> load_or_claim(std::unique_ptr<CacheClaim>& claim,
                                                          double poll_seconds = 1.0) const;
  // `<directory>/<prefix>_<key>.claim`.
  std::string claim_path() const;
  // False, writing nothing, if the directory cannot be created or written.
  bool store(const std::vector<torch::Tensor>& tensors) const;

 private:
  std::string directory_, prefix_, key_, path_;
  int keep_;
};

}  // namespace refinery
