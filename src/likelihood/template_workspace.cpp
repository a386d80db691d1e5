#include "src/likelihood/template_workspace.h"

#include "src/core/error.h"

namespace refinery {

namespace {

std::vector<double> to_vector(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

}  // namespace

nlohmann::json template_workspace(const BinnedTemplateModel& model, const torch::Tensor& nominal,
                                  const torch::Tensor& up, const torch::Tensor& down, const std::string& channel) {
  const auto& o = model.options();
  for (const auto& s : o.shapes)
    if (s.constraint != 1.0)
      throw InputError("", "nuisance " + s.name,
                       "HistFactory constrains every histosys by N(0, 1); this one is " +
                           (s.constraint == 0 ? std::string("free") : "N(0, " + std::to_string(s.constraint) + ")"));
  for (const auto& n : o.norms)
    if (n.constraint != 1.0) throw InputError("", "nuisance " + n.name, "HistFactory constrains normsys by N(0, 1)");
  const int64_t P = static_cast<int64_t>(o.processes.size()), B = nominal.size(1);
  nlohmann::json samples = nlohmann::json::array();
  for (int64_t p = 0; p < P; ++p) {
    nlohmann::json mods = nlohmann::json::array();
    for (const auto& poi : o.pois)
      if (std::find(poi.processes.begin(), poi.processes.end(), p) != poi.processes.end())
        mods.push_back({{"name", poi.name}, {"type", "normfactor"}, {"data", nullptr}});
    for (size_t k = 0; k < o.shapes.size(); ++k) {
      if (torch::equal(up[k][p], nominal[p]) && torch::equal(down[k][p], nominal[p])) continue;  // does not act on p
      mods.push_back({{"name", o.shapes[k].name},
                      {"type", "histosys"},
                      {"data", {{"hi_data", to_vector(up[k][p])}, {"lo_data", to_vector(down[k][p])}}}});
    }
    for (const auto& n : o.norms) {
      if (std::find(n.processes.begin(), n.processes.end(), p) == n.processes.end()) continue;
      if (n.linear) {
        // 1 + a theta: a histosys with symmetric variations, linear under
        // code0 and code4p alike.
        mods.push_back({{"name", n.name},
                        {"type", "histosys"},
                        {"data", {{"hi_data", to_vector(nominal[p] * (1.0 + n.size))},
                                  {"lo_data", to_vector(nominal[p] * (1.0 - n.size))}}}});
      } else {
        mods.push_back({{"name", n.name}, {"type", "normsys"}, {"data", {{"hi", 1.0 + n.size}, {"lo", 1.0 / (1.0 + n.size)}}}});
      }
    }
    samples.push_back({{"name", o.processes[p]}, {"data", to_vector(nominal[p])}, {"modifiers", mods}});
  }
  if (o.empty_bin_floor > 0)
    samples.push_back({{"name", "empty_bin_floor"},
                       {"data", std::vector<double>(B, o.empty_bin_floor)},
                       {"modifiers", nlohmann::json::array()}});
  torch::Tensor asimov = model.expected(nominal.detach(), up.detach(), down.detach(), model.nominal_parameters());
  nlohmann::json parameters = nlohmann::json::array();
  for (const auto& poi : o.pois) parameters.push_back({{"name", poi.name}, {"bounds", {{0.0, 10.0}}}, {"inits", {1.0}}});
  return {{"version", "1.0.0"},
          {"channels", {{{"name", channel}, {"samples", samples}}}},
          {"observations", {{{"name", channel}, {"data", to_vector(asimov)}}}},
          {"measurements",
           {{{"name", "sannt"}, {"config", {{"poi", o.pois.front().name}, {"parameters", parameters}}}}}}};
}

}  // namespace refinery
