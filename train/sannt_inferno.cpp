#include "train/sannt_inferno.h"

#include "data/analytic/inferno.h"
#include "data/random.h"

namespace refinery {

SanntProblem inferno_sannt_problem(int benchmark, int64_t ns, int64_t nb, uint64_t seed) {
  const analytic::InfernoBenchmark& bm = analytic::inferno_benchmark(benchmark);
  const analytic::InfernoParameters nominal;
  torch::Generator gen = make_generator(seed);
  EventSet e = analytic::inferno_sample(ns, nb, nominal, gen);
  torch::Tensor sig = e.process == 0, bkg = e.process == 1;
  torch::Tensor xs = e.features.index({sig}), ws = e.weights.index({sig});
  torch::Tensor xb = e.features.index({bkg}), wb = e.weights.index({bkg});
  SanntProblem p;
  p.model.processes = {"signal", "background"};
  p.model.pois = {{"mu", {0}}};
  p.data.signal_process = 0;
  p.data.samples.push_back({xs, ws, 0, -1});
  p.data.samples.push_back({xb, wb, 1, -1});
  auto shifted = [&](double dr, double lambda) {
    torch::Tensor x = xb.clone();
    x.select(1, 0).add_(dr);
    x.select(1, 2).mul_(nominal.lambda / lambda);
    return x;
  };
  int64_t k = 0;
  if (bm.r_free) {
    p.model.shapes.push_back({"r", bm.r_sigma > 0 ? 1.0 : 0.0});
    p.data.samples.push_back({shifted(+0.4, nominal.lambda), wb, 1, 2 * k});
    p.data.samples.push_back({shifted(-0.4, nominal.lambda), wb, 1, 2 * k + 1});
    ++k;
  }
  if (bm.lambda_free) {
    p.model.shapes.push_back({"lambda", bm.lambda_sigma > 0 ? 1.0 : 0.0});
    p.data.samples.push_back({shifted(0.0, nominal.lambda + 1.0), wb, 1, 2 * k});
    p.data.samples.push_back({shifted(0.0, nominal.lambda - 1.0), wb, 1, 2 * k + 1});
    ++k;
  }
  if (bm.b_free) p.model.norms.push_back({"b", {1}, bm.b_sigma / nominal.b, true, 1.0});
  return p;
}

}  // namespace refinery
