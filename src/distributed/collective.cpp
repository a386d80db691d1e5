#include "src/distributed/collective.h"

#include <stdexcept>

namespace refinery::distributed {

namespace {

class SingleProcess final : public Collective {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void sum(std::vector<torch::Tensor>&) override {}
  std::string describe() const override { return "1 process"; }
};

}  // namespace

Collective& single_process() {
  static SingleProcess group;
  return group;
}

double sum(Collective& group, double value) {
  std::vector<torch::Tensor> t{torch::tensor({value}, torch::kFloat64)};
  group.sum(t);
  return t[0].item<double>();
}

std::vector<double> per_rank(Collective& group, double value) {
  std::vector<torch::Tensor> t{torch::zeros({group.size()}, torch::kFloat64)};
  t[0][group.rank()] = value;
  group.sum(t);
  return std::vector<double>(t[0].data_ptr<double>(), t[0].data_ptr<double>() + group.size());
}

torch::Tensor gather_rows(Collective& group, const torch::Tensor& rows) {
  if (group.size() == 1) return rows;
  const std::vector<double> counts = per_rank(group, static_cast<double>(rows.size(0)));
  int64_t offset = 0, total = 0;
  for (int r = 0; r < group.size(); ++r) {
    if (r < group.rank()) offset += static_cast<int64_t>(counts[r]);
    total += static_cast<int64_t>(counts[r]);
  }
  std::vector<int64_t> shape = rows.sizes().vec();
  shape[0] = total;
  std::vector<torch::Tensor> t{torch::zeros(shape, rows.options())};
  if (rows.size(0) > 0) t[0].narrow(0, offset, rows.size(0)).copy_(rows);
  group.sum(t);
  return t[0];
}

void sum_gradients(Collective& group, const std::vector<torch::Tensor>& parameters) {
  if (group.size() == 1) return;
  torch::NoGradGuard guard;
  for (const auto dtype : {torch::kFloat32, torch::kFloat64}) {
    std::vector<torch::Tensor> flat;
    for (const auto& p : parameters)
      if (p.scalar_type() == dtype)
        flat.push_back(p.grad().defined() ? p.grad().reshape(-1) : torch::zeros({p.numel()}, p.options()));
    if (flat.empty()) continue;
    std::vector<torch::Tensor> buffer{torch::cat(flat)};
    group.sum(buffer);
    int64_t at = 0;
    for (const auto& p : parameters) {
      if (p.scalar_type() != dtype) continue;
      torch::Tensor g = buffer[0].narrow(0, at, p.numel()).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(g);
      else
        p.mutable_grad() = g.clone();
      at += p.numel();
    }
  }
}

Shard shard_of(int64_t n, int rank, int size) {
  if (size < 1 || rank < 0 || rank >= size) throw std::logic_error("shard_of: rank outside the group");
  return {n * rank / size, n * (rank + 1) / size};
}

}  // namespace refinery::distributed
