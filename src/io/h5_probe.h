// A damaged HDF5 file can crash libhdf5 itself, before any check of ours
// sees a value: HDF5 1.10's global-heap reader copies a length taken from
// the file without checking it, which a variable-length string attribute
// reaches (found by fuzzing the event-file readers; fuzz/seeds/event_file).
// The readers of outside HDF5 files therefore walk a file's metadata first in
// a forked child process (every attribute read as its type says, every
// dataset's header, layout and chunk index, groups down to a depth of 16):
// if libhdf5 dies there, the command says so in one line (exit 2) instead
// of crashing; only a file whose metadata the child read is opened
// in-process. The child does no tensor work (OpenMP does not survive fork).
#pragma once
#include <string>

namespace refinery::h5 {

// Walks the metadata of the HDF5 file `path` in a child process. Returns
// when the child finished (whatever libhdf5 reported as an error there: the
// reader meets it again in-process, as an exception it handles), throws
// InputError(path, "", "damaged HDF5 file: ...") when the child died or did
// not finish within 20 s (REFINERY_HDF5_PROBE_SECONDS; a damaged global
// heap makes libhdf5 loop forever, found by fuzzing), killing it. When fork
// fails it does nothing.
void probe_file(const std::string& path);

}  // namespace refinery::h5
