#include "src/calibration/reliability.h"

#include <cmath>
#include <cstdio>

namespace refinery {

namespace {

torch::Tensor bin_of(const torch::Tensor& pc, int nbins) {
  return (pc * nbins).floor().clamp(0, nbins - 1).to(torch::kLong);
}

}  // namespace

double ece_statistical_floor(const torch::Tensor& p, const torch::Tensor& w_in, int nbins) {
  torch::Tensor w = w_in.to(torch::kFloat64), q = p.to(torch::kFloat64);
  const double total = w.sum().item<double>();
  double floor = 0;
  for (int64_t c = 0; c < q.size(1); ++c) {
    torch::Tensor pc = q.select(1, c);
    torch::Tensor var = torch::zeros({nbins}, torch::kFloat64).index_add_(0, bin_of(pc, nbins), w * w * pc * (1 - pc));
    floor += std::sqrt(2.0 / M_PI) * var.sqrt().sum().item<double>() / total / q.size(1);
  }
  return floor;
}

Reliability reliability(const torch::Tensor& p_in, const torch::Tensor& y, const torch::Tensor& w_in, int nbins) {
  torch::Tensor p = p_in.to(torch::kFloat64), w = w_in.to(torch::kFloat64);
  const int64_t C = p.size(1);
  const double total = w.sum().item<double>();
  Reliability r;
  for (int64_t c = 0; c < C; ++c) {
    torch::Tensor pc = p.select(1, c);
    torch::Tensor bin = bin_of(pc, nbins);
    torch::Tensor wb = torch::zeros({nbins}, torch::kFloat64).index_add_(0, bin, w);
    torch::Tensor wp = torch::zeros({nbins}, torch::kFloat64).index_add_(0, bin, w * pc);
    torch::Tensor wy = torch::zeros({nbins}, torch::kFloat64).index_add_(0, bin, w * (y == c).to(torch::kFloat64));
    auto a = wb.accessor<double, 1>();
    auto bp = wp.accessor<double, 1>();
    auto by = wy.accessor<double, 1>();
    double ece = 0;
    std::vector<ReliabilityBin> row(nbins);
    for (int b = 0; b < nbins; ++b) {
      if (a[b] <= 0) continue;
      row[b] = {a[b] / total, bp[b] / a[b], by[b] / a[b]};
      ece += a[b] / total * std::abs(bp[b] / a[b] - by[b] / a[b]);
    }
    r.ece_per_class.push_back(ece);
    r.bins.push_back(row);
    r.ece += ece / C;
  }
  return r;
}

nlohmann::json Reliability::to_json(const std::vector<std::string>& names) const {
  nlohmann::json j;
  j["ece"] = ece;
  for (size_t c = 0; c < ece_per_class.size(); ++c) {
    nlohmann::json cls;
    cls["ece"] = ece_per_class[c];
    for (const auto& b : bins[c])
      cls["bins"].push_back({{"weight_fraction", b.weight_fraction}, {"mean_predicted", b.mean_predicted},
                             {"observed", b.observed}});
    j["classes"][c < names.size() ? names[c] : std::to_string(c)] = cls;
  }
  return j;
}

std::string reliability_table(const Reliability& before, const Reliability& after,
                              const std::vector<std::string>& names) {
  std::string out;
  char line[200];
  std::snprintf(line, sizeof line, "%-12s %12s %12s\n", "class", "ECE before", "ECE after");
  out += line;
  for (size_t c = 0; c < before.ece_per_class.size(); ++c) {
    std::snprintf(line, sizeof line, "%-12s %12.5f %12.5f\n", c < names.size() ? names[c].c_str() : "?",
                  before.ece_per_class[c], after.ece_per_class[c]);
    out += line;
  }
  std::snprintf(line, sizeof line, "%-12s %12.5f %12.5f\n", "mean", before.ece, after.ece);
  out += line;
  for (size_t c = 0; c < before.bins.size(); ++c) {
    std::snprintf(line, sizeof line, "reliability of %s: bin  weight  predicted  observed (before | after)\n",
                  c < names.size() ? names[c].c_str() : "?");
    out += line;
    for (size_t b = 0; b < before.bins[c].size(); ++b) {
      const auto& x = before.bins[c][b];
      const auto& z = after.bins[c][b];
      if (x.weight_fraction == 0 && z.weight_fraction == 0) continue;
      std::snprintf(line, sizeof line, "  %5.2f-%4.2f  %7.4f %8.4f %8.4f | %7.4f %8.4f %8.4f\n",
                    b / double(before.bins[c].size()), (b + 1) / double(before.bins[c].size()), x.weight_fraction,
                    x.mean_predicted, x.observed, z.weight_fraction, z.mean_predicted, z.observed);
      out += line;
    }
  }
  return out;
}

}  // namespace refinery
