// libFuzzer entry point of the fuzz target "model_archive" (fuzz/fuzz_targets.h).
#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  refinery::fuzz::model_archive(data, size);
  return 0;
}
