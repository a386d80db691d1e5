// A damaged HDF5 file can crash or hang libhdf5 itself, before any check
// of ours sees a value: HDF5 1.10's global-heap reader copies a length taken
// from the file without checking it, or loops forever, when a
// variable-length string attribute is read (found by fuzzing the HDF5
// readers: fuzz/fuzz_event_file_target.cpp). The readers of outside HDF5
// files therefore do their reading of a file's metadata first in a forked
// child process, from the very same state (fork copies it): what happens
// there is what would happen in-process. If the child dies or does not
// finish, the command says so in one line (exit 2) instead of crashing or
// hanging; only then does the reader do the same reading in-process.
#pragma once
#include <functional>
#include <string>
#include <utility>

namespace refinery::h5 {

// Runs `read` (a reader's own reading of `path`, whatever it throws) in a
// forked child first. Returns when the child finished it; throws
// InputError(path, "", "damaged HDF5 file: ...") when the child died or did
// not finish within 20 s (REFINERY_HDF5_PROBE_SECONDS), killing it. Inside
// such a child (nested readers), or when fork fails, it does nothing. The
// child runs LibTorch's kernels on one thread (OpenMP's pool does not
// survive fork).
void probe(const std::string& path, const std::function<void()>& read);

// Children probe has forked in this process so far (diagnostics, tests).
long forks();

// While one exists (on this thread), probe(path, ...) does nothing for its
// path: the caller's child has already done a reading that contains the
// nested readers' own (read_probed).
class ProbedScope {
 public:
  explicit ProbedScope(std::string path);
  ~ProbedScope();
  ProbedScope(const ProbedScope&) = delete;
  ProbedScope& operator=(const ProbedScope&) = delete;

 private:
  std::string path_;
};

// probe(path, read), then read() here with the nested probes of `path`
// skipped: one fork for the whole reading instead of one more per dataset
// and open inside it. Returns what read() returns.
template <class Read>
auto read_probed(const std::string& path, Read&& read) -> decltype(read()) {
  probe(path, [&] { read(); });
  ProbedScope scope(path);
  return read();
}

}  // namespace refinery::h5
