#include "src/core/block_eval.h"

#include <ATen/Parallel.h>

#include <exception>
#include <mutex>

namespace refinery {

torch::Tensor evaluate_in_blocks(const torch::Tensor& x, int64_t block,
                                 const std::function<torch::Tensor(const torch::Tensor&)>& f) {
  const int64_t n = x.size(0);
  if (block < 1) block = 1;
  const int64_t blocks = (n + block - 1) / block;
  if (blocks == 0) {
    torch::NoGradGuard guard;
    return f(x);
  }
  std::vector<torch::Tensor> parts(blocks);
  std::exception_ptr failure;
  std::mutex mutex;
  ScopedBlasThreads one_blas_thread(1);
  at::parallel_for(0, blocks, 1, [&](int64_t begin, int64_t end) {
    torch::NoGradGuard guard;  // thread-local: set in every worker
    for (int64_t b = begin; b < end; ++b) {
      try {
        parts[b] = f(x.narrow(0, b * block, std::min(block, n - b * block)));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!failure) failure = std::current_exception();
        return;
      }
    }
  });
  if (failure) std::rethrow_exception(failure);
  return torch::cat(parts);
}

}  // namespace refinery
