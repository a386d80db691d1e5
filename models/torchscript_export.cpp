#include "models/torchscript_export.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/core/model_archive.h"
#include "src/likelihood/dcr_ansatz.h"

namespace refinery {

namespace {

std::string activation_source(const std::string& name, const std::string& v) {
  if (name == "silu") return v + " * torch.sigmoid(" + v + ")";
  if (name == "relu") return "torch.relu(" + v + ")";
  if (name == "tanh") return "torch.tanh(" + v + ")";
  if (name == "elu") return "torch.where(" + v + " > 0, " + v + ", torch.exp(" + v + ") - 1.0)";
  throw InputError("", "activation", "cannot export activation '" + name + "'");
}

// The source of one stack of layers: h = layer_i(h) for the parameters
// named w<i><suffix>, b<i><suffix> (no bias on the last when last_bias is
// false), the activation between them.
std::string layers_source(size_t L, const std::string& activation, const std::string& suffix, bool last_bias) {
  std::ostringstream src;
  for (size_t i = 0; i < L; ++i) {
    const std::string w = "self.w" + std::to_string(i) + suffix, b = "self.b" + std::to_string(i) + suffix;
    if (i + 1 < L || last_bias)
      src << "    h = torch.addmm(" << b << ", h, " << w << ".t())\n";
    else
      src << "    h = torch.mm(h, " << w << ".t())\n";
    if (i + 1 < L) src << "    h = " << activation_source(activation, "h") << "\n";
  }
  return src.str();
}

// Registers the preprocessor's buffers and the layers' weights on m and
// returns the source of `def <method>(self, x) -> Tensor` computing the
// network's output on raw features (standardisation and indicators included).
// With members > 1 and hidden-to-hidden layers (a merged ensemble,
// models/dcr_ensemble.h), the archive holds each member's layers apart
// (w<i>_m<g>, b<i>_m<g>; the output layer's columns already divided by M)
// and evaluates them one after another, summing their outputs: M times a
// member's cost, where the dense block-diagonal layers cost M^2 times (their
// off-diagonal zeros). The output is the same to float rounding.
std::string register_network(torch::jit::Module& m, FeaturePreprocessor& pre, MLP& net, const std::string& method,
                             int64_t members = 1) {
  m.register_buffer("mean", pre->mean.detach().clone());
  m.register_buffer("inv_std", pre->inv_std.detach().clone());
  m.register_buffer("indicator_cols", pre->indicator_cols.detach().clone());
  m.register_buffer("sentinel", pre->sentinel.detach().clone());
  const auto& layers = net->layers;
  const size_t L = layers.size();
  const bool apart = members > 1 && L > 2;
  std::ostringstream src;
  src << "def " << method << "(self, x: Tensor) -> Tensor:\n"
      << "    undefined = x == self.sentinel\n"
      << "    z = (x - self.mean) * self.inv_std\n"
      << "    z = torch.where(undefined, torch.zeros_like(z), z)\n"
      << "    if self.indicator_cols.size(0) > 0:\n"
      << "        z = torch.cat([z, torch.index_select(undefined, 1, self.indicator_cols).to(z.dtype)], 1)\n";
  if (!apart) {
    for (size_t i = 0; i < L; ++i) {
      m.register_parameter("w" + std::to_string(i), layers[i]->weight.detach().clone(), false);
      m.register_parameter("b" + std::to_string(i), layers[i]->bias.detach().clone(), false);
    }
    src << "    h = z\n" << layers_source(L, net->options.activation(), "", true) << "    return h\n\n";
    return src.str();
  }
  m.register_parameter("b" + std::to_string(L - 1), layers[L - 1]->bias.detach().clone(), false);
  for (int64_t g = 0; g < members; ++g) {
    const std::string suffix = "_m" + std::to_string(g);
    for (size_t i = 0; i < L; ++i) {
      const torch::Tensor w = layers[i]->weight.detach(), b = layers[i]->bias.detach();
      const int64_t out = i + 1 < L ? w.size(0) / members : w.size(0), in = i > 0 ? w.size(1) / members : w.size(1);
      const int64_t row = i + 1 < L ? g * out : 0, col = i > 0 ? g * in : 0;
      m.register_parameter("w" + std::to_string(i) + suffix, w.narrow(0, row, out).narrow(1, col, in).contiguous().clone(),
                           false);
      if (i + 1 < L) m.register_parameter("b" + std::to_string(i) + suffix, b.narrow(0, row, out).contiguous().clone(), false);
    }
    src << "    h = z\n"
        << layers_source(L, net->options.activation(), suffix, false)
        << (g == 0 ? "    out = h\n" : "    out = out + h\n");
  }
  src << "    return out + self.b" << L - 1 << "\n\n";
  return src.str();
}

}  // namespace

std::string torchscript_layers_source(size_t layers, const std::string& activation, const std::string& suffix, bool last_bias) {
  return layers_source(layers, activation, suffix, last_bias);
}

torch::jit::Module dcr_to_torchscript(DCRNetwork& net) {
  torch::jit::Module m("RefineryDCR");
  torch::NoGradGuard guard;
  std::ostringstream src;
  src << register_network(m, net->preprocess, net->net, "forward", net->options.members())
      << "def phi(self, nu: Tensor) -> Tensor:\n";
  // The ansatz's coordinates (models/dcr_network.h): squared nuisances first.
  const auto& powers = net->options.powers();
  if (!likelihood::all_linear(powers)) {
    std::vector<int64_t> square;
    for (size_t k = 0; k < powers.size(); ++k) square.push_back(powers[k] == 2 ? 1 : 0);
    m.register_buffer("square", torch::tensor(square, torch::kBool));
    src << "    nu = torch.where(self.square, nu * nu, nu)\n";
  }
  src << "    cols = [nu[i] for i in range(nu.size(0))]\n";
  if (net->options.order() == 2) {
    src << "    for i in range(nu.size(0)):\n"
        << "        for j in range(i, nu.size(0)):\n"
        << "            cols.append(nu[i] * nu[j])\n";
    // The appended terms after the products, in the nuisances' order (such a
    // nuisance is not squared): nu^3, or (nu - t)_+^2 for a knot at t.
    for (size_t k = 0; k < powers.size(); ++k) {
      if (powers[k] == likelihood::kCubic) src << "    cols.append(nu[" << k << "] * nu[" << k << "] * nu[" << k << "])\n";
      if (likelihood::is_knot(powers[k]))
        src << "    cols.append(torch.square(torch.relu(nu[" << k << "] - " << std::showpoint << likelihood::knot_of(powers[k])
            << std::noshowpoint << ")))\n";
    }
  }
  src << "    return torch.stack(cols)\n\n"
      << "def log_r(self, x: Tensor, nu: Tensor) -> Tensor:\n"
      << "    return torch.mv(self.forward(x), self.phi(nu.float()))\n";
  m.define(src.str());
  return m;
}

torch::jit::Module classifier_to_torchscript(MultiClassifier& clf) {
  torch::jit::Module m("RefineryClassifier");
  torch::NoGradGuard guard;
  auto& cal = clf->calibration;
  m.register_buffer("knots_x", cal->knots_x.clone());
  m.register_buffer("knots_y", cal->knots_y.clone());
  m.register_buffer("counts", cal->counts.clone());
  m.register_buffer("stage_order", cal->stage_order.clone());
  m.register_buffer("calibrated", cal->fitted_flag.clone());
  m.register_buffer("log_yields", clf->process_fractions->log_yields.clone());
  std::ostringstream src;
  src << register_network(m, clf->preprocess, clf->net, "logits")
      << "def raw_probabilities(self, x: Tensor) -> Tensor:\n"
      << "    return torch.softmax(self.logits(x), 1)\n\n"
      // Piecewise-linear table, constant outside (src/calibration/isotonic.h).
      << "def interpolate(self, v: Tensor, x: Tensor, y: Tensor) -> Tensor:\n"
      << "    k = x.size(0)\n"
      << "    if k == 1:\n"
      << "        return torch.zeros_like(v) + y[0]\n"
      << "    i = torch.clamp(torch.searchsorted(x, v.contiguous()), 1, k - 1)\n"
      << "    x0 = x[i - 1]\n"
      << "    y0 = y[i - 1]\n"
      << "    t = torch.clamp((v - x0) / (x[i] - x0), 0.0, 1.0)\n"
      << "    return y0 + t * (y[i] - y0)\n\n"
      // Staged isotonic calibration (src/calibration/staged_calibration.h).
      << "def calibrate(self, p: Tensor) -> Tensor:\n"
      << "    if not bool(self.calibrated):\n"
      << "        return p\n"
      << "    q = p.double()\n"
      << "    n = q.size(1)\n"
      << "    for stage in range(n):\n"
      << "        c = int(self.stage_order[stage])\n"
      << "        k = int(self.counts[c])\n"
      << "        col = self.interpolate(q[:, c], self.knots_x[c, :k], self.knots_y[c, :k])\n"
      << "        others = torch.clamp(q.sum(1) - q[:, c], min=1e-300)\n"
      << "        scale = (torch.clamp(1.0 - col, min=0.0) / others).unsqueeze(1)\n"
      << "        q = torch.cat([q[:, :c] * scale, col.unsqueeze(1), q[:, c + 1:] * scale], 1)\n"
      << "        q = torch.clamp(q, min=" << kCalibrationFloor << ")\n"
      << "        q = q / q.sum(1, keepdim=True)\n"
      << "    return q.to(p.dtype)\n\n"
      // Process fractions (models/process_fractions.h), then calibration.
      << "def raw_fractions(self, x: Tensor) -> Tensor:\n"
      << "    a = torch.log(self.raw_probabilities(x).double()) + self.log_yields\n"
      << "    return torch.exp(a - torch.logsumexp(a, 1, keepdim=True))\n\n"
      << "def fractions(self, x: Tensor) -> Tensor:\n"
      << "    return self.calibrate(self.raw_fractions(x))\n\n"
      << "def forward(self, x: Tensor) -> Tensor:\n"
      << "    a = torch.log(self.fractions(x)) - self.log_yields\n"
      << "    return torch.exp(a - torch.logsumexp(a, 1, keepdim=True)).float()\n";
  m.define(src.str());
  return m;
}

void save_torchscript(torch::jit::Module& module, const nlohmann::json& metadata, const std::string& path) {
  AtomicFile file(path);
  torch::jit::ExtraFilesMap extra{{"metadata.json", metadata.dump(2)}};
  {
    // Through a stream: the archive's inner folder is then always "archive"
    // (saved to a path it is named after the temporary file, so identical
    // models gave different bytes), and a failed write (a full disk) is a
    // stream state to report, not an exception from LibTorch's writer.
    std::ofstream out(file.temp_path(), std::ios::binary);
    if (!out) throw InputError(path, "", "cannot open for writing");
    module.save(out, extra);
    out.flush();
    if (!out) throw std::runtime_error(path + ": writing the model failed (disk full?)");
  }
  file.commit();
}

torch::jit::Module load_torchscript(const std::string& path, nlohmann::json* metadata) {
  torch::jit::ExtraFilesMap extra{{"metadata.json", ""}};
  torch::jit::Module m;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw InputError(path, "", "no such file");
  if (std::filesystem::is_directory(path, ec)) throw InputError(path, "", "is a directory, not a model file");
  // Our own checks first (src/core/model_archive.h): LibTorch's loader sees
  // only a well-formed zip whose metadata parses.
  const nlohmann::json meta = read_model_archive_metadata_file(path);
  try {
    m = torch::jit::load(path, c10::nullopt, extra);
  } catch (const c10::Error&) {
    throw InputError(path, "", "not a TorchScript archive");
  }
  if (metadata) *metadata = meta;
  return m;
}

}  // namespace refinery
