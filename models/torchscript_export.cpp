#include "models/torchscript_export.h"

#include <sstream>

#include "src/core/atomic_file.h"
#include "src/core/error.h"

namespace refinery {

namespace {

std::string activation_source(const std::string& name, const std::string& v) {
  if (name == "silu") return v + " * torch.sigmoid(" + v + ")";
  if (name == "relu") return "torch.relu(" + v + ")";
  if (name == "tanh") return "torch.tanh(" + v + ")";
  if (name == "elu") return "torch.where(" + v + " > 0, " + v + ", torch.exp(" + v + ") - 1.0)";
  throw InputError("", "activation", "cannot export activation '" + name + "'");
}

}  // namespace

torch::jit::Module dcr_to_torchscript(DCRNetwork& net) {
  torch::jit::Module m("RefineryDCR");
  torch::NoGradGuard guard;
  auto& pre = net->preprocess;
  m.register_buffer("mean", pre->mean.clone());
  m.register_buffer("inv_std", pre->inv_std.clone());
  m.register_buffer("indicator_cols", pre->indicator_cols.clone());
  m.register_buffer("sentinel", pre->sentinel.clone());
  const auto& layers = net->net->layers;
  for (size_t i = 0; i < layers.size(); ++i) {
    m.register_parameter("w" + std::to_string(i), layers[i]->weight.detach().clone(), false);
    m.register_parameter("b" + std::to_string(i), layers[i]->bias.detach().clone(), false);
  }
  std::ostringstream src;
  src << "def forward(self, x: Tensor) -> Tensor:\n"
      << "    undefined = x == self.sentinel\n"
      << "    z = (x - self.mean) * self.inv_std\n"
      << "    z = torch.where(undefined, torch.zeros_like(z), z)\n"
      << "    if self.indicator_cols.size(0) > 0:\n"
      << "        z = torch.cat([z, torch.index_select(undefined, 1, self.indicator_cols).to(z.dtype)], 1)\n"
      << "    h = z\n";
  for (size_t i = 0; i < layers.size(); ++i) {
    src << "    h = torch.addmm(self.b" << i << ", h, self.w" << i << ".t())\n";
    if (i + 1 < layers.size()) src << "    h = " << activation_source(net->options.activation(), "h") << "\n";
  }
  src << "    return h\n\n"
      << "def phi(self, nu: Tensor) -> Tensor:\n"
      << "    cols = [nu[i] for i in range(nu.size(0))]\n";
  if (net->options.order() == 2)
    src << "    for i in range(nu.size(0)):\n"
        << "        for j in range(i, nu.size(0)):\n"
        << "            cols.append(nu[i] * nu[j])\n";
  src << "    return torch.stack(cols)\n\n"
      << "def log_r(self, x: Tensor, nu: Tensor) -> Tensor:\n"
      << "    return torch.mv(self.forward(x), self.phi(nu.float()))\n";
  m.define(src.str());
  return m;
}

void save_torchscript(torch::jit::Module& module, const nlohmann::json& metadata, const std::string& path) {
  AtomicFile file(path);
  torch::jit::ExtraFilesMap extra{{"metadata.json", metadata.dump(2)}};
  module.save(file.temp_path(), extra);
  file.commit();
}

torch::jit::Module load_torchscript(const std::string& path, nlohmann::json* metadata) {
  torch::jit::ExtraFilesMap extra{{"metadata.json", ""}};
  torch::jit::Module m;
  try {
    m = torch::jit::load(path, c10::nullopt, extra);
  } catch (const c10::Error&) {
    throw InputError(path, "", "not a TorchScript archive");
  }
  if (extra["metadata.json"].empty()) throw InputError(path, "metadata.json", "not a refinery model (no metadata)");
  if (metadata) {
    try {
      *metadata = nlohmann::json::parse(extra["metadata.json"]);
    } catch (const nlohmann::json::exception&) {
      throw InputError(path, "metadata.json", "malformed JSON");
    }
  }
  return m;
}

}  // namespace refinery
