// Inference over many events in blocks. A network's forward pass on a block
// of a few thousand events keeps its activations in cache; the blocks are
// independent, so they run in parallel (one block per LibTorch thread) with
// the BLAS library held at one thread meanwhile: OpenBLAS's own threads and
// LibTorch's OpenMP threads would otherwise compete for the same cores.
// Measured on 2 cores: 2-3x faster than one large block with both libraries
// threading (docs/performance.md).
#pragma once
#include <torch/torch.h>

#include <functional>

#include "src/core/threads.h"

namespace refinery {

// f applied to consecutive row blocks of x, results concatenated along dim 0.
// f runs without gradients, possibly on several threads at once: it must
// not modify shared state.
torch::Tensor evaluate_in_blocks(const torch::Tensor& x, int64_t block,
                                 const std::function<torch::Tensor(const torch::Tensor&)>& f);

}  // namespace refinery
