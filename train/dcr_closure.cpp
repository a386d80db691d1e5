#include "train/dcr_closure.h"

#include <torch/torch.h>

#include <cstdio>
#include <sstream>

#include "src/likelihood/mc_statistics.h"

namespace refinery {

namespace {

struct BinSums {
  torch::Tensor simulated, learned, variance;  // float64 [B]
};

// Sums per bin and the variance of the paired difference, from one list of
// signed per-event entries keyed by (event number, bin).
BinSums bin_sums(const torch::Tensor& bin_l, const ClosureSide& l, const torch::Tensor& bin_s, const ClosureSide& s,
                 int64_t B) {
  BinSums out;
  out.learned = torch::zeros({B}, torch::kFloat64).index_add_(0, bin_l, l.weight);
  out.simulated = torch::zeros({B}, torch::kFloat64).index_add_(0, bin_s, s.weight);
  torch::Tensor key = torch::cat({l.event * B + bin_l, s.event * B + bin_s});
  torch::Tensor signed_w = torch::cat({-l.weight, s.weight});
  auto [unique_keys, inverse] = torch::_unique(key, false, true);
  torch::Tensor d = torch::zeros({unique_keys.size(0)}, torch::kFloat64).index_add_(0, inverse, signed_w);
  out.variance = torch::zeros({B}, torch::kFloat64).index_add_(0, torch::remainder(unique_keys, B), d.pow(2));
  return out;
}

}  // namespace

nlohmann::json dcr_shape_closure(const ClosureSide& learned, const ClosureSide& simulated,
                                 const std::vector<std::string>& feature_names, int bins) {
  nlohmann::json out;
  const torch::Tensor zero_l = torch::zeros({learned.weight.size(0)}, torch::kLong);
  const torch::Tensor zero_s = torch::zeros({simulated.weight.size(0)}, torch::kLong);
  BinSums all = bin_sums(zero_l, learned, zero_s, simulated, 1);
  out["inclusive"] = {{"simulated", all.simulated[0].item<double>()},
                      {"learned", all.learned[0].item<double>()},
                      {"error", std::sqrt(all.variance[0].item<double>())}};
  out["features"] = nlohmann::json::array();
  for (size_t f = 0; f < feature_names.size(); ++f) {
    torch::Tensor vl = learned.values.select(1, f).to(torch::kFloat64).contiguous();
    torch::Tensor vs = simulated.values.select(1, f).to(torch::kFloat64).contiguous();
    // Bins with equal shares of the nominal weight (the learned side's weight
    // at nu = 0 is not at hand; its weight at nu differs by a few percent).
    std::vector<double> edges = likelihood::equal_share_edges(vl, learned.weight.clamp_min(0.0), bins);
    const int64_t B = static_cast<int64_t>(edges.size()) + 1;
    BinSums b = bin_sums(likelihood::cell_index(vl, edges), learned, likelihood::cell_index(vs, edges), simulated, B);
    double chi2 = 0.0;
    int ndf = 0;
    nlohmann::json rows = nlohmann::json::array();
    for (int64_t k = 0; k < B; ++k) {
      const double S = b.simulated[k].item<double>(), L = b.learned[k].item<double>(), V = b.variance[k].item<double>();
      if (V > 0) chi2 += (S - L) * (S - L) / V, ++ndf;
      // Open ends (JSON has no infinities) as null.
      rows.push_back({{"low", k == 0 ? nlohmann::json(nullptr) : nlohmann::json(edges[k - 1])},
                      {"high", k + 1 == B ? nlohmann::json(nullptr) : nlohmann::json(edges[k])},
                      {"simulated", S},
                      {"learned", L},
                      {"error", std::sqrt(V)}});
    }
    out["features"].push_back({{"name", feature_names[f]},
                               {"chi2", chi2},
                               {"ndf", ndf},
                               {"chi2_ndf", ndf > 0 ? chi2 / ndf : 0.0},
                               {"bins", rows}});
  }
  return out;
}

std::string dcr_closure_table(const nlohmann::json& report, double limit) {
  std::ostringstream os;
  char line[256];
  std::snprintf(line, sizeof line, "%-28s %-26s %9s %4s %9s  %s\n", "nu", "feature", "chi2", "ndf", "chi2/ndf", "verdict");
  os << line;
  for (const auto& p : report.at("points")) {
    for (const auto& f : p.at("features")) {
      const double c = f.at("chi2_ndf").get<double>();
      std::snprintf(line, sizeof line, "%-28s %-26s %9.2f %4d %9.2f  %s\n", p.at("label").get<std::string>().c_str(),
                    f.at("name").get<std::string>().c_str(), f.at("chi2").get<double>(), f.at("ndf").get<int>(), c,
                    c < limit ? "pass" : "FAIL");
      os << line;
    }
  }
  return os.str();
}

}  // namespace refinery
