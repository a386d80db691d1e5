#include "train/dcr_closure.h"

#include <torch/torch.h>

#include <cmath>
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

namespace {

double weighted_mean(const torch::Tensor& x, const torch::Tensor& w) {
  return (x * w).sum().item<double>() / w.sum().item<double>();
}

// One response from the three samples' values (already centred per cell or
// not). Its error by the delta method: each event's influence on the
// derivative (plus and minus sides) and on Var_0 (nominal side), summed by
// event number, since the three samples share their events.
nlohmann::json response_of(const torch::Tensor& x0, const ScoreSample& n, const torch::Tensor& xp, const ScoreSample& p,
                           const torch::Tensor& xm, const ScoreSample& m, double delta) {
  const double W0 = n.weight.sum().item<double>(), Wp = p.weight.sum().item<double>(), Wm = m.weight.sum().item<double>();
  const double mean0 = weighted_mean(x0, n.weight);
  const double var0 = ((x0 - mean0).pow(2) * n.weight).sum().item<double>() / W0;
  const double mp = weighted_mean(xp, p.weight), mm = weighted_mean(xm, m.weight);
  const double derivative = (mp - mm) / (2 * delta);
  if (!(var0 > 0)) return {{"response", 0.0}, {"error", 0.0}, {"derivative", derivative}, {"variance", var0}};
  const double response = derivative / var0;
  torch::Tensor infl = torch::cat({p.weight * (xp - mp) / (Wp * 2 * delta * var0),
                                   -m.weight * (xm - mm) / (Wm * 2 * delta * var0),
                                   -response * n.weight * ((x0 - mean0).pow(2) - var0) / (W0 * var0)});
  auto [keys, inverse] = torch::_unique(torch::cat({p.event, m.event, n.event}), false, true);
  torch::Tensor per_event = torch::zeros({keys.size(0)}, torch::kFloat64).index_add_(0, inverse, infl);
  return {{"response", response},
          {"error", std::sqrt(per_event.pow(2).sum().item<double>())},
          {"derivative", derivative},
          {"variance", var0}};
}

}  // namespace

nlohmann::json dcr_score_response(const ScoreSample& nominal, const ScoreSample& plus, const ScoreSample& minus,
                                  double delta, int64_t cells) {
  nlohmann::json out = response_of(nominal.score, nominal, plus.score, plus, minus.score, minus, delta);
  if (cells > 1) {
    // Each cell's nominal mean, subtracted on every side.
    torch::Tensor sw = torch::zeros({cells}, torch::kFloat64).index_add_(0, nominal.cell, nominal.weight * nominal.score);
    torch::Tensor w = torch::zeros({cells}, torch::kFloat64).index_add_(0, nominal.cell, nominal.weight);
    torch::Tensor mean = torch::where(w > 0, sw / w.clamp_min(1e-300), torch::zeros_like(w));
    auto centred = [&](const ScoreSample& s) { return s.score - mean.index({s.cell}); };
    out["within_cells"] = response_of(centred(nominal), nominal, centred(plus), plus, centred(minus), minus, delta);
    out["within_cells"]["cells"] = cells;
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
