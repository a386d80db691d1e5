#include "data/htautau/objects.h"

#include <torch/torch.h>

namespace refinery::htautau {

namespace {
template <class F>
ObjectSet map_fields(const std::vector<const ObjectSet*>& in, F&& f) {
  ObjectSet out;
  auto apply = [&](torch::Tensor ObjectSet::*field) {
    std::vector<torch::Tensor> ts;
    for (const ObjectSet* o : in) ts.push_back(o->*field);
    out.*field = f(ts);
  };
  for (auto field : {&ObjectSet::lep_pt, &ObjectSet::lep_eta, &ObjectSet::lep_phi,
                     &ObjectSet::had_pt, &ObjectSet::had_eta, &ObjectSet::had_phi,
                     &ObjectSet::jet_pt, &ObjectSet::jet_eta, &ObjectSet::jet_phi,
                     &ObjectSet::jet_dir_known, &ObjectSet::met_x, &ObjectSet::met_y,
                     &ObjectSet::soft_x, &ObjectSet::soft_y, &ObjectSet::weight,
                     &ObjectSet::process})
    apply(field);
  return out;
}
}  // namespace

ObjectSet ObjectSet::select(const torch::Tensor& mask) const {
  torch::Tensor idx = mask.nonzero().squeeze(1);
  return map_fields({this}, [&](const std::vector<torch::Tensor>& t) {
    return t[0].index_select(0, idx);
  });
}

ObjectSet ObjectSet::concat(const std::vector<ObjectSet>& parts) {
  std::vector<const ObjectSet*> ptrs;
  for (const auto& p : parts) ptrs.push_back(&p);
  return map_fields(ptrs, [](const std::vector<torch::Tensor>& t) { return torch::cat(t); });
}

}  // namespace refinery::htautau
