// The directory of the running executable (from /proc/self/exe), where the
// front end finds refinery-full and the benchmarks find the executables they
// time. Empty where it cannot be read.
#pragma once
#include <string>

namespace refinery {

std::string executable_directory();

}  // namespace refinery
