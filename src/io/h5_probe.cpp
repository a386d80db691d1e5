#include "src/io/h5_probe.h"

#include <hdf5.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <algorithm>
#include <cstring>
#include <vector>

#include "src/core/error.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REFINERY_H5_PROBE_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define REFINERY_H5_PROBE_SANITIZED 1
#endif
#ifdef REFINERY_H5_PROBE_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

namespace refinery::h5 {

namespace {

// Elements of one attribute read in the walk at most (ours hold a few
// names; a larger one is skipped, not read).
constexpr hssize_t kMaxAttributeElements = 1 << 20;
constexpr int kMaxDepth = 16;
// A walk's time limit: milliseconds for refinery's own files (a 240 MB
// mc.h5's walk takes ~10 ms), so far above any honest file's.
constexpr double kDefaultSeconds = 20.0;

// Reads one attribute as its type says: variable-length strings through the
// global heap (where HDF5 1.10 crashes on damaged files), fixed strings and
// numbers as bytes. Other classes are skipped.
herr_t read_attribute(hid_t location, const char* name, const H5A_info_t*, void*) {
  const hid_t attribute = H5Aopen(location, name, H5P_DEFAULT);
  if (attribute < 0) return 0;
  const hid_t type = H5Aget_type(attribute), space = H5Aget_space(attribute);
  const hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
  if (type >= 0 && n > 0 && n <= kMaxAttributeElements) {
    const H5T_class_t c = H5Tget_class(type);
    if (c == H5T_STRING && H5Tis_variable_str(type) > 0) {
      const hid_t memory = H5Tcopy(H5T_C_S1);
      H5Tset_size(memory, H5T_VARIABLE);
      H5Tset_cset(memory, H5Tget_cset(type));  // as the readers do: another cset is not converted (nor read)
      std::vector<char*> strings(std::size_t(n), nullptr);
      if (H5Aread(attribute, memory, strings.data()) >= 0) H5Dvlen_reclaim(memory, space, H5P_DEFAULT, strings.data());
      H5Tclose(memory);
    } else if (c == H5T_STRING || c == H5T_INTEGER || c == H5T_FLOAT) {
      const std::size_t size = H5Tget_size(type);
      if (size > 0 && size <= 4096) {
        std::vector<char> bytes(std::size_t(n) * size);
        const hid_t memory = c == H5T_STRING ? H5Tcopy(type) : H5Tget_native_type(type, H5T_DIR_DEFAULT);
        if (memory >= 0 && H5Tget_size(memory) <= size) H5Aread(attribute, memory, bytes.data());
        if (memory >= 0) H5Tclose(memory);
      }
    }
  }
  if (space >= 0) H5Sclose(space);
  if (type >= 0) H5Tclose(type);
  H5Aclose(attribute);
  return 0;
}

// By index, one at a time: an iteration stops at the first damaged one,
// while a reader opens the others by name.
void walk_attributes(hid_t object) {
  H5O_info_t info;
  if (H5Oget_info(object, &info) < 0) return;
  const hsize_t n = std::min<hsize_t>(info.num_attrs, 4096);
  for (hsize_t i = 0; i < n; ++i) {
    char name[1024];
    if (H5Aget_name_by_idx(object, ".", H5_INDEX_CRT_ORDER, H5_ITER_NATIVE, i, name, sizeof name, H5P_DEFAULT) < 0 &&
        H5Aget_name_by_idx(object, ".", H5_INDEX_NAME, H5_ITER_NATIVE, i, name, sizeof name, H5P_DEFAULT) < 0)
      continue;
    read_attribute(object, name, nullptr, nullptr);
  }
}

void walk_dataset(hid_t dataset) {
  walk_attributes(dataset);
  const hid_t type = H5Dget_type(dataset), space = H5Dget_space(dataset), plist = H5Dget_create_plist(dataset);
  if (type >= 0) H5Tget_size(type);
  if (space >= 0 && plist >= 0 && H5Pget_layout(plist) == H5D_CHUNKED) {
    hsize_t chunks = 0;
    H5Dget_num_chunks(dataset, space, &chunks);  // walks the chunk index
  }
  if (plist >= 0) H5Pclose(plist);
  if (space >= 0) H5Sclose(space);
  if (type >= 0) H5Tclose(type);
}

struct Walk {
  int depth = 0;
};

herr_t visit_link(hid_t group, const char* name, const H5L_info_t*, void* data) {
  auto* walk = static_cast<Walk*>(data);
  H5O_info_t info;
  if (H5Oget_info_by_name(group, name, &info, H5P_DEFAULT) < 0) return 0;
  if (info.type == H5O_TYPE_DATASET) {
    const hid_t dataset = H5Dopen2(group, name, H5P_DEFAULT);
    if (dataset >= 0) {
      walk_dataset(dataset);
      H5Dclose(dataset);
    }
  } else if (info.type == H5O_TYPE_GROUP && walk->depth < kMaxDepth) {
    const hid_t child = H5Gopen2(group, name, H5P_DEFAULT);
    if (child >= 0) {
      walk_attributes(child);
      ++walk->depth;
      hsize_t index = 0;
      H5Literate(child, H5_INDEX_NAME, H5_ITER_NATIVE, &index, visit_link, walk);
      --walk->depth;
      H5Gclose(child);
    }
  }
  return 0;
}

[[noreturn]] void run_child(const std::string& path) {
  // A crash here is the parent's to report, not a harness's: default
  // dispositions, and no sanitizer death callback (libFuzzer's would record
  // the input as its own crash).
  for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::signal(s, SIG_DFL);
#ifdef REFINERY_H5_PROBE_SANITIZED
  __sanitizer_set_death_callback(nullptr);
#endif
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file >= 0) {
    const hid_t root = H5Gopen2(file, "/", H5P_DEFAULT);
    if (root >= 0) {
      walk_attributes(root);
      Walk walk;
      hsize_t index = 0;
      H5Literate(root, H5_INDEX_NAME, H5_ITER_NATIVE, &index, visit_link, &walk);
      H5Gclose(root);
    }
    H5Fclose(file);
  }
  ::_exit(0);  // no atexit handlers, no destructors of the parent's objects
}

double probe_seconds() {
  const char* text = std::getenv("REFINERY_HDF5_PROBE_SECONDS");
  if (text) {
    char* end = nullptr;
    const double v = std::strtod(text, &end);
    if (end != text && *end == '\0' && v > 0 && v < 1e6) return v;
  }
  return kDefaultSeconds;
}

}  // namespace

void probe_file(const std::string& path) {
  const double limit = probe_seconds();
  const pid_t pid = ::fork();
  if (pid < 0) return;
  if (pid == 0) run_child(path);
  // Polled, so that a walk libhdf5 never finishes (a damaged global heap
  // makes it loop) is stopped: the in-process read would hang the same way.
  int status = 0;
  const auto start = std::chrono::steady_clock::now();
  auto pause = std::chrono::microseconds(100);
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) return;  // not ours to judge
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > limit) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      char text[64];
      std::snprintf(text, sizeof text, "%g", limit);
      throw InputError(path, "", std::string("damaged HDF5 file: the HDF5 library did not finish reading its metadata in ") +
                                     text + " s (REFINERY_HDF5_PROBE_SECONDS); nothing was read");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(2 * pause, std::chrono::microseconds(20000));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  if (WIFEXITED(status))
    throw InputError(path, "", "damaged HDF5 file: the HDF5 library failed reading its metadata (exit code " +
                                   std::to_string(WEXITSTATUS(status)) + "); nothing was read");
  const int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  throw InputError(path, "", std::string("damaged HDF5 file: the HDF5 library crashed reading its metadata (") +
                                 (sig ? ::strsignal(sig) : "stopped") + "); nothing was read");
}

}  // namespace refinery::h5
