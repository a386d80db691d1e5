// The C library's allocator, tuned for refinery's allocation pattern: the
// same large tensors (events x features, events x processes) allocated and
// freed again for every pseudo-experiment, fit step or batch.
//
// glibc serves a block above its mmap threshold (128 KiB at first, raised
// dynamically up to 32 MiB) with its own mapping and unmaps it when freed,
// and returns the top of the heap to the system once more than the trim
// threshold is free; either way the next allocation of that size faults
// its pages in again (zero-filled by the kernel). Keeping blocks up to the
// largest threshold glibc allows (32 MiB) in the heap, and the freed heap
// mapped, made a H->tautau pseudo-experiment 1.5x faster
// (docs/performance.md). The resident size after a peak then stays near
// the peak instead of falling back; the peak itself does not change.
#pragma once

namespace refinery {

// Sets the thresholds (glibc only; elsewhere nothing). Call once, first
// thing in main.
void keep_freed_memory_for_reuse();

}  // namespace refinery
