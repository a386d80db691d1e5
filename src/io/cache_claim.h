// A claim on the work behind one cache entry, so that processes started
// together on a cold cache (the shards of a job array, each of which would
// otherwise evaluate the networks on the whole simulated sample) do that work
// once: the first takes the claim and computes, the others wait for its
// entry (TensorCache::load_or_claim).
//
// The claim is an open-file-description record lock (fcntl F_OFD_SETLK) on
// the file `<entry>.claim`. The kernel releases it when its holder ends,
// however it ends (SIGKILL and power cuts of a client of a network file
// system included, by that system's lock recovery), so a dead holder never
// leaves the others waiting. The holder removes the file when it is done (a
// killed one leaves it, without a lock: harmless, and pruned with the
// cache's old entries). A
// claim this process already holds is not taken twice (it would wait on
// itself). Where no lock can be taken (a directory that cannot be written, a
// file system without locks) the claim is "unavailable" and every process
// computes, as without claims.
#pragma once
#include <string>

namespace refinery {

class CacheClaim {
 public:
  enum class State { held, held_elsewhere, unavailable };

  // Tries once, without waiting, to take the claim at `path`.
  explicit CacheClaim(std::string path);
  ~CacheClaim();  // releases a held claim
  CacheClaim(const CacheClaim&) = delete;
  CacheClaim& operator=(const CacheClaim&) = delete;

  State state() const { return state_; }
  // Held elsewhere: the holder as it described itself ("process P on host
  // H"), or "another process" before it has.
  const std::string& holder() const { return holder_; }

 private:
  std::string path_;
  int fd_ = -1;
  State state_ = State::unavailable;
  std::string holder_;
};

}  // namespace refinery
