// Version and provenance strings: refinery's version, the git commit it was
// built from, and the LibTorch and HDF5 versions it links.
#pragma once
#include <string>

namespace refinery {

std::string version();
std::string git_commit();
std::string torch_version();
std::string hdf5_version();
// "refinery 0.1.0 (commit abc), LibTorch 1.13.0, HDF5 1.10.8"
std::string version_banner();

}  // namespace refinery
