// The processes of one data-parallel training and the collective operations
// it needs (design.md section 4): every rank runs the same program on its own
// shard of the events, and the sums that make one step (gradients, losses,
// the sample's totals) are taken over all ranks, so that N processes compute
// what one process does with the whole sample, up to the order of floating-
// point additions.
//
// One primitive, the in-place sum over ranks, carries everything: a rank's
// share of a global quantity goes into a zero tensor at its own offset, and
// the sum concatenates (adding zeros is exact). `single_process()` is the
// group of one, in which every operation is the identity, so the training
// code has one path for one process and for many. The Gloo group over TCP
// (LibTorch's c10d) is in gloo_group.h.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace refinery::distributed {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Each tensor (any dtype; bool and integers summed as int64) replaced by its sum over
  // the ranks. Every rank must call it with the same shapes, in the same
  // order. An unreachable peer throws std::runtime_error after the group's
  // timeout.
  virtual void sum(std::vector<torch::Tensor>& tensors) = 0;
  // One line for logs: "1 process" or "rank 1 of 4 (gloo, 10.0.0.1:29500)".
  virtual std::string describe() const = 0;
};

// The group of one process (one instance, lives as long as the program).
Collective& single_process();

// --- operations built on the sum
double sum(Collective& group, double value);
// Each rank's `value`, in rank order (every rank gets all).
std::vector<double> per_rank(Collective& group, double value);
// The ranks' rows (dimension 0) concatenated in rank order; the other
// dimensions and the dtype must agree.
torch::Tensor gather_rows(Collective& group, const torch::Tensor& rows);
// The gradients of `parameters` summed over the ranks (an undefined gradient
// counts as zeros), in one flat buffer per dtype.
void sum_gradients(Collective& group, const std::vector<torch::Tensor>& parameters);

// The rows [begin, end) of n that rank `rank` of `size` holds: contiguous,
// balanced to within one row, in rank order.
struct Shard {
  int64_t begin = 0, end = 0;
  int64_t rows() const { return end - begin; }
};
Shard shard_of(int64_t n, int rank, int size);

}  // namespace refinery::distributed
