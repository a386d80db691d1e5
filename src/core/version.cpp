#include "src/core/version.h"

#include <H5public.h>
#include <torch/version.h>

#include "refinery/build_info.h"

namespace refinery {

std::string version() { return REFINERY_VERSION; }
std::string git_commit() { return REFINERY_GIT_COMMIT; }
std::string torch_version() { return TORCH_VERSION; }

std::string hdf5_version() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
}

std::string version_banner() {
  return "refinery " + version() + " (commit " + git_commit() + "), LibTorch " + torch_version() +
         ", HDF5 " + hdf5_version();
}

}  // namespace refinery
