// libFuzzer entry point of the fuzz target "workspace" (fuzz/fuzz_targets.h).
#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  refinery::fuzz::workspace(data, size);
  return 0;
}
