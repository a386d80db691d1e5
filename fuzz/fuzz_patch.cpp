// libFuzzer entry point of the fuzz target "patch" (fuzz/fuzz_targets.h).
#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  refinery::fuzz::patch(data, size);
  return 0;
}
