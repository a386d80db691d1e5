// libFuzzer entry point of the fuzz target "event_file" (fuzz/fuzz_targets.h).
#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  refinery::fuzz::event_file(data, size);
  return 0;
}
