#include "train/dcr_validation.h"

#include <cmath>
#include <cstdio>

#include "train/dcr_training.h"

namespace refinery {

nlohmann::json dcr_validation_report(DCRNetwork& net, const torch::Tensor& x0, const torch::Tensor& w0,
                                     const std::vector<DCRValidationPoint>& points,
                                     const std::vector<int64_t>& features,
                                     const std::vector<std::string>& feature_names) {
  torch::Tensor coef = dcr_coefficients_cache(net, x0);
  torch::Tensor w064 = w0.to(torch::kFloat64);
  const double sum_w0 = w064.sum().item<double>();
  const int order = net->options.order();
  // Quantile bin edges of each feature on the nominal sample (defined values).
  std::vector<torch::Tensor> edges;
  for (int64_t f : features) {
    torch::Tensor col = x0.select(1, f).to(torch::kFloat64);
    col = col.index({col != -25.0});
    edges.push_back(torch::quantile(col, torch::linspace(0.0, 1.0, 11, torch::kFloat64).narrow(0, 1, 9)));
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : points) {
    torch::Tensor r = torch::exp(torch::mv(coef, dcr_phi(p.nu.to(torch::kFloat64), order, net->options.powers())));
    torch::Tensor pred = w064 * r;
    const double learned = pred.sum().item<double>() / sum_w0;
    const double sample = p.w.to(torch::kFloat64).sum().item<double>() / sum_w0;
    nlohmann::json j;
    const torch::Tensor nu32 = p.nu.to(torch::kFloat32).contiguous();
    j["nu"] = std::vector<float>(nu32.data_ptr<float>(), nu32.data_ptr<float>() + nu32.numel());
    j["held_out"] = p.held_out;
    j["learned_ratio"] = learned;
    j["sample_ratio"] = sample;
    double sw = 0, s1 = 0, s2 = 0;
    for (size_t i = 0; i < features.size(); ++i) {
      torch::Tensor b0 = torch::bucketize(x0.select(1, features[i]).to(torch::kFloat64).contiguous(), edges[i]);
      torch::Tensor bv = torch::bucketize(p.x.select(1, features[i]).to(torch::kFloat64).contiguous(), edges[i]);
      torch::Tensor hp = torch::zeros({10}, torch::kFloat64).index_add_(0, b0, pred);
      torch::Tensor hv = torch::zeros({10}, torch::kFloat64).index_add_(0, bv, p.w.to(torch::kFloat64));
      nlohmann::json bins = nlohmann::json::array();
      for (int b = 0; b < 10; ++b) {
        const double a = hp[b].item<double>(), t = hv[b].item<double>();
        if (a > 0 && t > 0) {
          const double e = std::log(a / t);
          sw += t, s1 += t * e, s2 += t * e * e;
        }
        bins.push_back({{"learned", a}, {"sample", t}});
      }
      j["bins"][feature_names[features[i]]] = bins;
    }
    j["mean_log_error"] = sw > 0 ? s1 / sw : 0.0;
    j["rms_log_error"] = sw > 0 ? std::sqrt(s2 / sw) : 0.0;
    out.push_back(j);
  }
  return out;
}

std::string dcr_validation_table(const nlohmann::json& report) {
  std::string s = "nu                          held  learned R   sample R   mean log err  RMS log err\n";
  char line[256];
  for (const auto& p : report) {
    std::string nu;
    for (const auto& v : p["nu"]) {
      char b[32];
      std::snprintf(b, sizeof b, "%s%.2g", nu.empty() ? "" : ",", v.get<double>());
      nu += b;
    }
    std::snprintf(line, sizeof line, "%-27s %-5s %10.5f %10.5f %13.5f %12.5f\n", nu.c_str(),
                  p["held_out"].get<bool>() ? "yes" : "no", p["learned_ratio"].get<double>(),
                  p["sample_ratio"].get<double>(), p["mean_log_error"].get<double>(), p["rms_log_error"].get<double>());
    s += line;
  }
  return s;
}

}  // namespace refinery
