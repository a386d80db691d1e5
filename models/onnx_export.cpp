#include "models/onnx_export.h"

#include <cmath>
#include <cstdio>

#include <torch/csrc/jit/ir/ir.h>

#include "models/dcr_network.h"
#include "src/likelihood/dcr_ansatz.h"
#include "src/calibration/staged_calibration.h"
#include "src/core/error.h"
#include "refinery/build_info.h"

namespace refinery {

namespace {

using nlohmann::json;

// Appends nodes and initializers to a graph; every value is named once.
class GraphBuilder {
 public:
  explicit GraphBuilder(onnx::Graph& g) : g_(g) {}
  const std::string& node(const std::string& op, std::vector<std::string> in, const std::string& out,
                          std::vector<onnx::Attribute> attributes = {}) {
    onnx::Node n = onnx::make_node(op, std::move(in), out);
    n.attributes = std::move(attributes);
    g_.nodes.push_back(std::move(n));
    return g_.nodes.back().outputs.front();
  }
  std::string floats(const std::string& name, const torch::Tensor& t) {
    const torch::Tensor c = t.detach().to(torch::kFloat32).contiguous();
    g_.initializers.push_back(onnx::float_tensor(name, dims(c), {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()}));
    return name;
  }
  std::string doubles(const std::string& name, const torch::Tensor& t) {
    const torch::Tensor c = t.detach().to(torch::kFloat64).contiguous();
    g_.initializers.push_back(onnx::double_tensor(name, dims(c), {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()}));
    return name;
  }
  std::string int64s(const std::string& name, std::vector<std::int64_t> dims, std::vector<std::int64_t> values) {
    g_.initializers.push_back(onnx::int64_tensor(name, std::move(dims), std::move(values)));
    return name;
  }
  std::string scalar(const std::string& name, double v) { return doubles(name, torch::tensor(v, torch::kFloat64).reshape({})); }
  std::string scalar_float(const std::string& name, float v) { return floats(name, torch::tensor(v).reshape({})); }
  // Sum over axis 1, kept (ReduceSum takes its axes as an input from opset 13).
  const std::string& row_sum(const std::string& in, const std::string& out) {
    if (!g_.initializer("axis_1")) int64s("axis_1", {1}, {1});
    return node("ReduceSum", {in, "axis_1"}, out, {onnx::int_attribute("keepdims", 1)});
  }
  // x - logsumexp(x, axis 1): log of the softmax, rows of x in double.
  std::string log_normalise(const std::string& in, const std::string& prefix) {
    node("ReduceLogSumExp", {in}, prefix + "_logsumexp", {onnx::ints_attribute("axes", {1}), onnx::int_attribute("keepdims", 1)});
    return node("Sub", {in, prefix + "_logsumexp"}, prefix + "_log");
  }

 private:
  static std::vector<std::int64_t> dims(const torch::Tensor& t) { return {t.sizes().begin(), t.sizes().end()}; }
  onnx::Graph& g_;
};

torch::Tensor attribute(const torch::jit::Module& m, const std::string& name, const std::string& source) {
  if (!m.hasattr(name)) throw InputError(source, name, "missing from the archive (not a network refinery exported?)");
  const c10::IValue v = m.attr(name);
  if (!v.isTensor()) throw InputError(source, name, "not a tensor");
  return v.toTensor().detach();
}

// The activation between the layers: the archive's metadata names it (from
// this version on); older archives are read from the operators of `method`.
std::string activation_of(const torch::jit::Module& m, const json& metadata, const std::string& method) {
  if (metadata.contains("activation") && metadata["activation"].is_string()) return metadata["activation"].get<std::string>();
  std::string found;
  for (const torch::jit::Node* n : m.get_method(method).graph()->nodes()) {
    const std::string kind = n->kind().toQualString();
    if (kind == "aten::sigmoid") found = "silu";
    else if (kind == "aten::relu") found = "relu";
    else if (kind == "aten::tanh") found = "tanh";
    else if (kind == "aten::exp") found = "elu";
  }
  return found.empty() ? "silu" : found;  // no operator: a single layer, no activation
}

const std::string& activate(GraphBuilder& b, const std::string& activation, const std::string& h, const std::string& out) {
  if (activation == "silu") {
    b.node("Sigmoid", {h}, out + "_sigmoid");
    return b.node("Mul", {h, out + "_sigmoid"}, out);
  }
  if (activation == "relu") return b.node("Relu", {h}, out);
  if (activation == "tanh") return b.node("Tanh", {h}, out);
  if (activation == "elu") return b.node("Elu", {h}, out, {onnx::float_attribute("alpha", 1.0f)});
  throw InputError("", "activation", "cannot export activation '" + activation + "'");
}

// The network on raw features (models/torchscript_export.cpp's
// register_network): standardisation with the sentinel and indicator
// columns, then the layers. Returns the output's name; `description`
// receives the standardisation for the metadata.
std::string network(GraphBuilder& b, const torch::jit::Module& m, const std::string& activation, const std::string& source,
                    int64_t n_features, json* standardisation) {
  const torch::Tensor mean = attribute(m, "mean", source), inv_std = attribute(m, "inv_std", source);
  const torch::Tensor indicators = attribute(m, "indicator_cols", source).to(torch::kLong).contiguous();
  const torch::Tensor sentinel = attribute(m, "sentinel", source);
  if (mean.dim() != 1 || mean.size(0) != n_features || inv_std.sizes() != mean.sizes() || sentinel.numel() != 1)
    throw InputError(source, "mean", "the standardisation does not match the " + std::to_string(n_features) + " features");
  b.floats("input_mean", mean);
  b.floats("input_inverse_scale", inv_std);
  b.scalar_float("sentinel", sentinel.to(torch::kFloat32).item<float>());
  b.scalar_float("zero", 0.0f);
  b.node("Equal", {"features", "sentinel"}, "undefined");
  b.node("Sub", {"features", "input_mean"}, "centred");
  b.node("Mul", {"centred", "input_inverse_scale"}, "scaled");
  std::string z = b.node("Where", {"undefined", "zero", "scaled"}, "standardised_features");
  std::vector<std::int64_t> cols(indicators.data_ptr<int64_t>(), indicators.data_ptr<int64_t>() + indicators.numel());
  for (auto c : cols)
    if (c < 0 || c >= n_features) throw InputError(source, "indicator_cols", "a column outside the features");
  if (!cols.empty()) {
    b.int64s("indicator_columns", {std::int64_t(cols.size())}, cols);
    b.node("Gather", {"undefined", "indicator_columns"}, "undefined_indicators", {onnx::int_attribute("axis", 1)});
    b.node("Cast", {"undefined_indicators"}, "indicators", {onnx::int_attribute("to", onnx::kFloat)});
    z = b.node("Concat", {z, "indicators"}, "standardised", {onnx::int_attribute("axis", 1)});
  }
  const torch::Tensor scale = inv_std.to(torch::kFloat64).reciprocal().contiguous();
  const torch::Tensor mean_d = mean.to(torch::kFloat64).contiguous();
  *standardisation = {{"mean", std::vector<double>(mean_d.data_ptr<double>(), mean_d.data_ptr<double>() + n_features)},
                      {"scale", std::vector<double>(scale.data_ptr<double>(), scale.data_ptr<double>() + n_features)},
                      {"sentinel", sentinel.to(torch::kFloat64).item<double>()},
                      {"indicator_features", cols},
                      {"rule", "(x - mean) / scale; a feature equal to the sentinel becomes 0 and, for the indicator "
                               "features, a further input column (1 where undefined) is appended in that order"}};

  int64_t width = z == "standardised" ? n_features + int64_t(cols.size()) : n_features;
  auto gemm = [&](const std::string& in, const std::string& w, const std::string& bias, const std::string& out) {
    std::vector<std::string> inputs{in, w};
    if (!bias.empty()) inputs.push_back(bias);
    return b.node("Gemm", inputs, out, {onnx::int_attribute("transB", 1)});
  };
  auto check = [&](const torch::Tensor& w, const std::string& name, int64_t in) {
    if (w.dim() != 2 || w.size(1) != in) throw InputError(source, name, "shape does not continue the network");
  };
  if (m.hasattr("w0")) {
    std::string h = z;
    for (int i = 0; m.hasattr("w" + std::to_string(i)); ++i) {
      const std::string s = std::to_string(i);
      const torch::Tensor w = attribute(m, "w" + s, source), bias = attribute(m, "b" + s, source);
      check(w, "w" + s, width);
      if (bias.dim() != 1 || bias.size(0) != w.size(0)) throw InputError(source, "b" + s, "shape does not match w" + s);
      width = w.size(0);
      h = gemm(h, b.floats("layer" + s + ".weight", w), b.floats("layer" + s + ".bias", bias), "layer" + s);
      if (m.hasattr("w" + std::to_string(i + 1))) h = activate(b, activation, h, "layer" + s + "_activation");
    }
    return h;
  }
  if (!m.hasattr("w0_m0")) throw InputError(source, "w0", "no network in the archive");
  // A merged ensemble held member by member (w<i>_m<g>; the output layers'
  // columns already divided by the member count), summed, then the bias.
  std::vector<std::string> outputs;
  int L = 0;
  while (m.hasattr("w" + std::to_string(L) + "_m0")) ++L;
  int64_t out_width = -1;
  for (int g = 0; m.hasattr("w0_m" + std::to_string(g)); ++g) {
    const std::string member = "m" + std::to_string(g);
    std::string h = z;
    int64_t in = width;
    for (int i = 0; i < L; ++i) {
      const std::string s = std::to_string(i), name = "w" + s + "_" + member;
      const torch::Tensor w = attribute(m, name, source);
      check(w, name, in);
      in = w.size(0);
      const std::string prefix = member + ".layer" + s;
      std::string bias;
      if (i + 1 < L) bias = b.floats(prefix + ".bias", attribute(m, "b" + s + "_" + member, source));
      h = gemm(h, b.floats(prefix + ".weight", w), bias, prefix);
      if (i + 1 < L) h = activate(b, activation, h, prefix + "_activation");
    }
    if (out_width >= 0 && in != out_width) throw InputError(source, "w" + std::to_string(L - 1) + "_" + member, "members differ");
    out_width = in;
    outputs.push_back(h);
  }
  b.floats("output.bias", attribute(m, "b" + std::to_string(L - 1), source));
  b.node("Sum", outputs, "member_sum");
  return b.node("Add", {"member_sum", "output.bias"}, "network_output");
}

// Piecewise-linear table x -> y, constant outside (src/calibration/isotonic.h;
// the archive's interpolate()): v [N,1] double -> [N,1] double.
std::string interpolate(GraphBuilder& b, const std::string& v, const torch::Tensor& x, const torch::Tensor& y,
                        const std::string& p) {
  const int64_t k = x.size(0);
  if (k == 1) {
    b.scalar(p + "_constant", y[0].item<double>());
    b.node("Mul", {v, "double_zero"}, p + "_zeros");
    return b.node("Add", {p + "_zeros", p + "_constant"}, p);
  }
  // i = clamp(#{knots < v}, 1, k - 1): the searchsorted of the archive.
  b.doubles(p + "_x", x.reshape({1, k}));
  b.doubles(p + "_x_flat", x);
  b.doubles(p + "_y", y);
  b.node("Less", {p + "_x", v}, p + "_below");
  b.node("Cast", {p + "_below"}, p + "_below_d", {onnx::int_attribute("to", onnx::kDouble)});
  b.row_sum(p + "_below_d", p + "_count");
  b.scalar(p + "_last", double(k - 1));
  b.node("Max", {p + "_count", "double_one"}, p + "_count_lo");
  b.node("Min", {p + "_count_lo", p + "_last"}, p + "_count_clamped");
  b.node("Cast", {p + "_count_clamped"}, p + "_i", {onnx::int_attribute("to", onnx::kInt64)});
  b.node("Sub", {p + "_i", "int64_one"}, p + "_i0");
  b.node("Gather", {p + "_x_flat", p + "_i0"}, p + "_x0");
  b.node("Gather", {p + "_x_flat", p + "_i"}, p + "_x1");
  b.node("Gather", {p + "_y", p + "_i0"}, p + "_y0");
  b.node("Gather", {p + "_y", p + "_i"}, p + "_y1");
  b.node("Sub", {v, p + "_x0"}, p + "_dv");
  b.node("Sub", {p + "_x1", p + "_x0"}, p + "_dx");
  b.node("Div", {p + "_dv", p + "_dx"}, p + "_t_raw");
  b.node("Clip", {p + "_t_raw", "double_zero", "double_one"}, p + "_t");
  b.node("Sub", {p + "_y1", p + "_y0"}, p + "_dy");
  b.node("Mul", {p + "_t", p + "_dy"}, p + "_step");
  return b.node("Add", {p + "_y0", p + "_step"}, p);
}

// Fractions and calibrated probabilities from the logits (the archive's
// raw_fractions, calibrate, fractions and forward); returns nothing, names
// the outputs "fractions" and "probabilities".
void classifier_head(GraphBuilder& b, const torch::jit::Module& m, const std::string& logits, int64_t C,
                     const std::string& source, json* calibration) {
  const torch::Tensor log_yields = attribute(m, "log_yields", source);
  if (log_yields.dim() != 1 || log_yields.size(0) != C)
    throw InputError(source, "log_yields", "expected one per class (" + std::to_string(C) + ")");
  b.doubles("log_yields", log_yields.reshape({1, C}));
  b.scalar("double_zero", 0.0);
  b.scalar("double_one", 1.0);
  b.int64s("int64_one", {}, {1});
  b.node("Softmax", {logits}, "raw_probabilities", {onnx::int_attribute("axis", 1)});
  b.node("Cast", {"raw_probabilities"}, "raw_probabilities_d", {onnx::int_attribute("to", onnx::kDouble)});
  b.node("Log", {"raw_probabilities_d"}, "log_raw_probabilities");
  b.node("Add", {"log_raw_probabilities", "log_yields"}, "raw_fraction_logits");
  b.log_normalise("raw_fraction_logits", "raw_fractions");
  std::string q = b.node("Exp", {"raw_fractions_log"}, "raw_fractions");

  const bool calibrated = attribute(m, "calibrated", source).to(torch::kBool).item<bool>();
  *calibration = {{"calibrated", calibrated}};
  if (calibrated) {
    const torch::Tensor kx = attribute(m, "knots_x", source).to(torch::kFloat64),
                        ky = attribute(m, "knots_y", source).to(torch::kFloat64),
                        counts = attribute(m, "counts", source).to(torch::kLong),
                        order = attribute(m, "stage_order", source).to(torch::kLong);
    if (kx.dim() != 2 || kx.size(0) != C || ky.sizes() != kx.sizes() || counts.numel() != C || order.numel() != C)
      throw InputError(source, "knots_x", "calibration tables do not match the " + std::to_string(C) + " classes");
    b.scalar("calibration_floor", kCalibrationFloor);
    b.scalar("tiny", 1e-300);
    std::vector<std::int64_t> stages;
    for (int64_t stage = 0; stage < C; ++stage) {
      const int64_t c = order[stage].item<int64_t>(), k = counts[c].item<int64_t>();
      if (c < 0 || c >= C || k < 1 || k > kx.size(1)) throw InputError(source, "stage_order", "not a calibration of these classes");
      stages.push_back(c);
      const std::string p = "stage" + std::to_string(stage);
      // col = table(q[:, c]); the other classes share 1 - col in their proportions.
      b.int64s(p + "_class", {1}, {c});
      b.node("Gather", {q, p + "_class"}, p + "_input", {onnx::int_attribute("axis", 1)});
      const std::string col = interpolate(b, p + "_input", kx[c].narrow(0, 0, k), ky[c].narrow(0, 0, k), p + "_table");
      b.row_sum(q, p + "_sum");
      b.node("Sub", {p + "_sum", p + "_input"}, p + "_others_raw");
      b.node("Max", {p + "_others_raw", "tiny"}, p + "_others");
      b.node("Sub", {"double_one", col}, p + "_rest_raw");
      b.node("Max", {p + "_rest_raw", "double_zero"}, p + "_rest");
      b.node("Div", {p + "_rest", p + "_others"}, p + "_scale");
      // Column c replaced by col, the others scaled: exact with 0/1 masks.
      torch::Tensor onehot = torch::zeros({1, C}, torch::kFloat64);
      onehot[0][c] = 1.0;
      b.doubles(p + "_is_class", onehot);
      b.doubles(p + "_not_class", 1.0 - onehot);
      b.node("Mul", {q, p + "_scale"}, p + "_scaled");
      b.node("Mul", {p + "_scaled", p + "_not_class"}, p + "_others_part");
      b.node("Mul", {col, p + "_is_class"}, p + "_class_part");
      b.node("Add", {p + "_others_part", p + "_class_part"}, p + "_replaced");
      b.node("Max", {p + "_replaced", "calibration_floor"}, p + "_floored");
      b.row_sum(p + "_floored", p + "_norm");
      q = b.node("Div", {p + "_floored", p + "_norm"}, p + "_calibrated");
    }
    (*calibration)["stage_order"] = stages;
    (*calibration)["knots"] = counts.sum().item<int64_t>();
  }
  b.node("Identity", {q}, "fractions");
  b.node("Log", {"fractions"}, "log_fractions");
  b.node("Sub", {"log_fractions", "log_yields"}, "balanced_logits");
  b.log_normalise("balanced_logits", "balanced");
  b.node("Exp", {"balanced_log"}, "probabilities_d");
  b.node("Cast", {"probabilities_d"}, "probabilities", {onnx::int_attribute("to", onnx::kFloat)});
}

// The bin of the binned analysis a SANNT network defines (its summary;
// train/sannt_training.cpp, src/autograd/histogram.cpp's bin index):
//   score: floor(p_s * B) in [0, B-1], p_s the softmax probability of class `score_class`
//   softmax: argmax of the outputs
//   class: c = argmax, c * B + floor((p_c - 1/C) * B / (1 - 1/C)) in c's block
void sannt_bins(GraphBuilder& b, const std::string& summary, int64_t bins, int64_t C, int64_t score_class,
                const std::string& source) {
  b.int64s("squeeze_axis", {1}, {1});
  b.scalar("bin_last", double(bins - 1));
  auto binned = [&](const std::string& value, double lo, double hi, const std::string& p) {
    b.node("Cast", {value}, p + "_d", {onnx::int_attribute("to", onnx::kDouble)});
    b.scalar(p + "_lo", lo);
    b.scalar(p + "_per_unit", double(bins) / (hi - lo));
    b.node("Sub", {p + "_d", p + "_lo"}, p + "_shifted");
    b.node("Mul", {p + "_shifted", p + "_per_unit"}, p + "_position");
    b.node("Floor", {p + "_position"}, p + "_floor");
    b.node("Max", {p + "_floor", "double_zero"}, p + "_floor_lo");
    b.node("Min", {p + "_floor_lo", "bin_last"}, p + "_bin_d");
    return b.node("Cast", {p + "_bin_d"}, p + "_bin", {onnx::int_attribute("to", onnx::kInt64)});
  };
  if (summary == "score") {
    if (score_class < 0 || score_class >= C) throw InputError(source, "metadata.json: score_class", "not a class of the network");
    b.int64s("score_class", {1}, {score_class});
    b.node("Gather", {"raw_probabilities", "score_class"}, "score", {onnx::int_attribute("axis", 1)});
    binned("score", 0.0, 1.0, "score");
    b.node("Squeeze", {"score_bin", "squeeze_axis"}, "bin");
  } else if (summary == "softmax") {
    if (C != bins) throw InputError(source, "metadata.json: bins", "a softmax summary has one bin per network output");
    b.node("ArgMax", {"logits"}, "bin", {onnx::int_attribute("axis", 1), onnx::int_attribute("keepdims", 0)});
  } else if (summary == "class") {
    b.node("ArgMax", {"raw_probabilities"}, "assigned", {onnx::int_attribute("axis", 1), onnx::int_attribute("keepdims", 1)});
    b.node("GatherElements", {"raw_probabilities", "assigned"}, "assigned_probability", {onnx::int_attribute("axis", 1)});
    binned("assigned_probability", 1.0 / double(C), 1.0, "within");
    b.int64s("bins_per_class", {}, {bins});
    b.node("Mul", {"assigned", "bins_per_class"}, "block_start");
    b.node("Add", {"block_start", "within_bin"}, "class_bin");
    b.node("Squeeze", {"class_bin", "squeeze_axis"}, "bin");
  } else {
    throw InputError(source, "metadata.json: summary", "score, softmax or class, got '" + summary + "'");
  }
}

std::vector<std::string> names(const json& metadata, const char* key, const std::string& source) {
  try {
    return metadata.at(key).get<std::vector<std::string>>();
  } catch (const json::exception&) {
    throw InputError(source, std::string("metadata.json: ") + key, "missing or not a list of names");
  }
}

}  // namespace

onnx::Model archive_to_onnx(const torch::jit::Module& module, const json& metadata, const std::string& source) {
  const std::string kind = metadata.value("kind", std::string());
  if (kind != "classifier" && kind != "sannt" && kind != "dcr")
    throw InputError(source, "metadata.json: kind", "cannot export a model of kind '" + kind + "' (classifier, sannt or dcr)");
  torch::NoGradGuard guard;
  onnx::Model m;
  m.producer_version = REFINERY_VERSION;
  m.graph.name = "refinery_" + kind;
  GraphBuilder b(m.graph);
  auto& md = m.metadata;
  md.push_back({"refinery_format", "refinery-" + kind + "-1"});
  md.push_back({"kind", kind});

  if (kind == "dcr") {
    const int64_t F = metadata.value("n_features", int64_t(-1));
    const std::vector<std::string> nuisances = names(metadata, "nuisances", source);
    const int order = metadata.value("order", 2);
    const int64_t K = int64_t(nuisances.size());
    if (F < 1) throw InputError(source, "metadata.json: n_features", "missing or not positive");
    if (K < 1 || (order != 1 && order != 2)) throw InputError(source, "metadata.json: order", "a linear (1) or quadratic (2) ansatz in at least one nuisance");
    const std::string activation = activation_of(module, metadata, "forward");
    json standardisation;
    const std::string out = network(b, module, activation, source, F, &standardisation);
    const std::vector<int> powers = dcr_powers_of(metadata, source);
    if (!powers.empty() && int64_t(powers.size()) != K) throw InputError(source, "metadata.json: coordinates", "one per nuisance");
    if (order == 1 && likelihood::appended_terms(powers) > 0)
      throw InputError(source, "metadata.json: coordinates", "a cubic term or a knot needs the quadratic ansatz (order 2)");
    const int64_t n_coef = likelihood::ansatz_size(K, order, powers);
    b.node("Identity", {out}, "coefficients");
    // The ansatz's coordinates u (models/dcr_network.h): u = nu + s (nu^2 - nu)
    // with s 1 for a squared nuisance, 0 otherwise.
    std::string u = "nu";
    bool any_square = false;
    for (int p : powers) any_square = any_square || p == 2;
    if (any_square) {
      std::vector<float> square;
      for (int p : powers) square.push_back(p == 2 ? 1.0f : 0.0f);
      b.floats("nu_square", torch::tensor(square, torch::kFloat32));
      b.node("Mul", {"nu", "nu"}, "nu_sq");
      b.node("Sub", {"nu_sq", "nu"}, "nu_sq_minus_nu");
      b.node("Mul", {"nu_square", "nu_sq_minus_nu"}, "nu_shift");
      u = b.node("Add", {"nu", "nu_shift"}, "u");
    }
    // phi(u): u_1..u_K, then u_i u_j for i <= j (models/dcr_network.h).
    std::string phi = u;
    if (order == 2) {
      std::vector<std::int64_t> first, second;
      for (int64_t i = 0; i < K; ++i)
        for (int64_t j = i; j < K; ++j) first.push_back(i), second.push_back(j);
      b.int64s("phi_first", {std::int64_t(first.size())}, first);
      b.int64s("phi_second", {std::int64_t(second.size())}, second);
      b.node("Gather", {u, "phi_first"}, "nu_first");
      b.node("Gather", {u, "phi_second"}, "nu_second");
      b.node("Mul", {"nu_first", "nu_second"}, "nu_products");
      std::vector<std::string> parts = {u, "nu_products"};
      // The appended terms after the products, in the nuisances' order (such a
      // nuisance is not squared): nu_k^3 for a cubic one, (nu_k - t)_+^2 for a
      // knot at t. One Gather of nu; a cube where c = 1, else Relu(nu - t)^2:
      // value = c nu^3 + (1 - c) Relu(nu - t)^2.
      std::vector<std::int64_t> appended;
      std::vector<float> is_cubic, knots;
      for (int64_t k = 0; k < int64_t(powers.size()); ++k)
        if (likelihood::has_appended_term(powers[k])) {
          appended.push_back(k);
          is_cubic.push_back(powers[k] == likelihood::kCubic ? 1.0f : 0.0f);
          knots.push_back(likelihood::is_knot(powers[k]) ? float(likelihood::knot_of(powers[k])) : 0.0f);
        }
      if (!appended.empty()) {
        const auto n = std::int64_t(appended.size());
        b.int64s("phi_appended", {n}, appended);
        b.floats("phi_cubic_mask", torch::tensor(is_cubic, torch::kFloat32));
        b.floats("phi_knots", torch::tensor(knots, torch::kFloat32));
        b.floats("phi_one", torch::ones({n}, torch::kFloat32));
        b.node("Gather", {"nu", "phi_appended"}, "nu_appended");
        b.node("Mul", {"nu_appended", "nu_appended"}, "nu_appended_sq");
        b.node("Mul", {"nu_appended_sq", "nu_appended"}, "nu_appended_cube");
        b.node("Sub", {"nu_appended", "phi_knots"}, "nu_above_knot");
        b.node("Relu", {"nu_above_knot"}, "nu_above_knot_pos");
        b.node("Mul", {"nu_above_knot_pos", "nu_above_knot_pos"}, "nu_knot_terms");
        b.node("Mul", {"phi_cubic_mask", "nu_appended_cube"}, "nu_cubic_part");
        b.node("Sub", {"phi_one", "phi_cubic_mask"}, "phi_knot_mask");
        b.node("Mul", {"phi_knot_mask", "nu_knot_terms"}, "nu_knot_part");
        parts.push_back(b.node("Add", {"nu_cubic_part", "nu_knot_part"}, "nu_appended_terms"));
      }
      phi = b.node("Concat", parts, "phi", {onnx::int_attribute("axis", 0)});
    }
    b.node("MatMul", {"coefficients", phi}, "log_r");
    m.graph.inputs.push_back({"features", onnx::kFloat, {-1, F}, {"N", ""}});
    m.graph.inputs.push_back({"nu", onnx::kFloat, {K}, {""}});
    m.graph.outputs.push_back({"coefficients", onnx::kFloat, {-1, n_coef}, {"N", ""}});
    m.graph.outputs.push_back({"log_r", onnx::kFloat, {-1}, {"N"}});
    m.doc = "refinery parametric DCR network: log r(x|nu) = log dsigma(x|nu)/dsigma(x|0) = coefficients(x) . phi(nu)";
    md.push_back({"description",
                  "Parametric differential cross-section ratio of process '" + metadata.value("process", std::string()) +
                      "': log r(x|nu) = Delta(x) . phi(nu), phi = (nu_1..nu_K" +
                      std::string(order == 2 ? ", nu_i nu_j for i <= j" : "") +
                      (likelihood::appended_terms(powers) > 0
                           ? ", then nu_k^3 for a cubic nuisance or (nu_k - t)_+^2 for one with a knot at t, in the "
                             "nuisances' order"
                           : "") +
                      "); log r(x|0) = 0."});
    md.push_back({"inputs", json{{"features", metadata.value("feature_names", json::array())}, {"nu", nuisances}}.dump()});
    md.push_back({"outputs", json{{"coefficients", "Delta(x) [N, " + std::to_string(n_coef) + "]"},
                                  {"log_r", "log r(x|nu) [N]"}}.dump()});
    md.push_back({"input_standardisation", standardisation.dump()});
    md.push_back({"nuisances", json(nuisances).dump()});
    md.push_back({"order", std::to_string(order)});
    if (!powers.empty()) md.push_back({"coordinates", dcr_coordinates_json(powers, K).dump()});
    if (metadata.contains("nu_range")) md.push_back({"range_of_validity", json{{"nu", metadata["nu_range"]}}.dump()});
    md.push_back({"activation", activation});
  } else {
    const std::vector<std::string> features = names(metadata, "feature_names", source);
    const std::vector<std::string> processes = names(metadata, "process_names", source);
    const int64_t F = int64_t(features.size());
    const std::string activation = activation_of(module, metadata, "logits");
    json standardisation, calibration;
    const std::string out = network(b, module, activation, source, F, &standardisation);
    b.node("Identity", {out}, "logits");
    const torch::Tensor log_yields = attribute(module, "log_yields", source);
    const int64_t C = log_yields.numel();
    if (kind == "classifier" && C != int64_t(processes.size()))
      throw InputError(source, "metadata.json: process_names", "the network has " + std::to_string(C) + " classes");
    classifier_head(b, module, "logits", C, source, &calibration);
    m.graph.inputs.push_back({"features", onnx::kFloat, {-1, F}, {"N", ""}});
    m.graph.outputs.push_back({"probabilities", onnx::kFloat, {-1, C}, {"N", ""}});
    m.graph.outputs.push_back({"fractions", onnx::kDouble, {-1, C}, {"N", ""}});
    m.graph.outputs.push_back({"logits", onnx::kFloat, {-1, C}, {"N", ""}});
    json outputs = {{"probabilities", "calibrated class-balanced probabilities g [N,C] (refinery eval's probabilities)"},
                    {"fractions", "calibrated process fractions f_p = sigma_p g_p / sum_q sigma_q g_q [N,C], double "
                                  "(refinery eval's fractions)"},
                    {"logits", "the network's outputs before the softmax [N,C]"}};
    std::string description = "refinery multiclassifier with staged isotonic calibration: per-event process fractions";
    if (kind == "sannt") {
      const std::string summary = metadata.value("summary", std::string("score"));
      const int64_t bins = metadata.value("bins", int64_t(0));
      if (bins < 2) throw InputError(source, "metadata.json: bins", "missing or fewer than 2");
      sannt_bins(b, summary, bins, C, metadata.value("score_class", int64_t(0)), source);
      m.graph.outputs.push_back({"bin", onnx::kInt64, {-1}, {"N"}});
      const int64_t total = summary == "class" ? C * bins : bins;
      outputs["bin"] = "the bin of the binned analysis, 0.." + std::to_string(total - 1) + " (summary '" + summary + "')";
      description = "refinery SANNT network: the bin of its binned analysis (summary '" + summary + "', " +
                    std::to_string(bins) + " bins) and its class probabilities";
      md.push_back({"summary", summary});
      md.push_back({"bins", std::to_string(total)});
    }
    m.doc = description;
    md.push_back({"description", description});
    md.push_back({"inputs", json{{"features", features}}.dump()});
    md.push_back({"outputs", outputs.dump()});
    md.push_back({"input_standardisation", standardisation.dump()});
    md.push_back({"process_names", json(processes).dump()});
    std::vector<double> yields(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) yields[size_t(c)] = std::exp(log_yields[c].item<double>());
    md.push_back({"class_priors", json{{"yields", yields},
                                       {"rule", "fractions f_p proportional to yields_p g_p"}}.dump()});
    md.push_back({"calibration", calibration.dump()});
    md.push_back({"activation", activation});
  }
  md.push_back({"refinery_metadata", metadata.dump()});
  return m;
}

}  // namespace refinery
