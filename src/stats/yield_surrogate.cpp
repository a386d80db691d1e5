#include "src/stats/yield_surrogate.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "src/core/error.h"
#include "refinery/build_info.h"
#include "src/core/worker_threads.h"
#include "src/stats/surrogate_kernel.h"

namespace refinery::stats {

using nlohmann::json;

namespace {

const char* kFormat = "likelihood-surrogate-1";

std::string layer_name(int m, int l, const char* what) {
  return "m" + std::to_string(m) + ".l" + std::to_string(l) + "." + what;
}

std::string exact(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

std::vector<double> to_vector(const Eigen::VectorXd& v) { return std::vector<double>(v.data(), v.data() + v.size()); }

onnx::Tensor float_matrix(const std::string& name, const Eigen::MatrixXf& m) {
  std::vector<float> v(std::size_t(m.size()));
  for (Eigen::Index r = 0; r < m.rows(); ++r)
    for (Eigen::Index c = 0; c < m.cols(); ++c) v[std::size_t(r * m.cols() + c)] = m(r, c);
  return onnx::float_tensor(name, {m.rows(), m.cols()}, v);
}

// SiLU and its first two derivatives.
inline void silu(double z, double* a, double* da, double* dda) {
  const double s = 1.0 / (1.0 + std::exp(-z));
  *a = z * s;
  *da = s + z * s * (1.0 - s);
  *dda = s * (1.0 - s) * (2.0 + z * (1.0 - 2.0 * s));
}

}  // namespace

onnx::Model surrogate_to_onnx(const YieldSurrogateSpec& spec) {
  const int K = int(spec.bins.size()), M = int(spec.members.size());
  if (K == 0 || M == 0) throw std::invalid_argument("surrogate_to_onnx: no bins or no members");
  onnx::Model m;
  m.producer_version = REFINERY_VERSION;
  m.doc = "refinery likelihood surrogate: -log L (observed, background-only Asimov; nuisances profiled) at signal "
          "yields in the bins named by the metadata's 'inputs'";
  m.graph.name = "likelihood_surrogate";
  auto& g = m.graph;
  std::vector<float> mean(K), inverse(K);
  for (int k = 0; k < K; ++k) {
    mean[k] = float(spec.input_mean[k]);
    inverse[k] = float(1.0 / spec.input_scale[k]);
  }
  g.initializers.push_back(onnx::float_tensor("input_mean", {K}, mean));
  g.initializers.push_back(onnx::float_tensor("input_inverse_scale", {K}, inverse));
  g.initializers.push_back(onnx::float_tensor("target_scale", {2}, {float(spec.target_scale[0]), float(spec.target_scale[1])}));
  g.initializers.push_back(onnx::float_tensor("target_offset", {2},
                                  {float(spec.target_mean[0] + spec.background_observed),
                                   float(spec.target_mean[1] + spec.background_asimov)}));
  g.initializers.push_back(onnx::float_tensor("inverse_members", {1}, {float(1.0 / M)}));
  const bool origin = spec.has_origin();
  if (origin) {  // the origin terms' weight w(s) = exp(-s.A.s) [N, 1] and the yields twice [N, 2K]
    if (int(spec.origin.size()) != M) throw std::invalid_argument("surrogate_to_onnx: one origin term per member");
    g.initializers.push_back(float_matrix("origin.metric", spec.origin_metric));
    g.initializers.push_back(float_matrix("origin.ones", Eigen::MatrixXf::Ones(K, 1)));
    Eigen::MatrixXf block_sum = Eigen::MatrixXf::Zero(2 * K, 2);
    block_sum.col(0).head(K).setOnes();
    block_sum.col(1).tail(K).setOnes();
    g.initializers.push_back(float_matrix("origin.block_sum", block_sum));
    g.nodes.push_back(onnx::make_node("MatMul", {"yields", "origin.metric"}, "origin.ay"));
    g.nodes.push_back(onnx::make_node("Mul", {"origin.ay", "yields"}, "origin.ayy"));
    g.nodes.push_back(onnx::make_node("MatMul", {"origin.ayy", "origin.ones"}, "origin.exponent"));
    g.nodes.push_back(onnx::make_node("Neg", {"origin.exponent"}, "origin.negative_exponent"));
    g.nodes.push_back(onnx::make_node("Exp", {"origin.negative_exponent"}, "origin.weight"));
    onnx::Node twice = onnx::make_node("Concat", {"yields", "yields"}, "origin.yields_twice");
    twice.attributes.push_back(onnx::int_attribute("axis", 1));
    g.nodes.push_back(twice);
  }
  g.nodes.push_back(onnx::make_node("Sub", {"yields", "input_mean"}, "centred"));
  g.nodes.push_back(onnx::make_node("Mul", {"centred", "input_inverse_scale"}, "standardised"));
  std::vector<std::string> outputs;
  for (int i = 0; i < M; ++i) {
    std::string h = "standardised";
    const auto& layers = spec.members[i];
    for (int l = 0; l < int(layers.size()); ++l) {
      const auto& L = layers[l];
      std::vector<float> w(L.weight.size());
      for (int r = 0; r < L.weight.rows(); ++r)
        for (int c = 0; c < L.weight.cols(); ++c) w[std::size_t(r) * L.weight.cols() + c] = L.weight(r, c);
      g.initializers.push_back(onnx::float_tensor(layer_name(i, l, "weight"), {L.weight.rows(), L.weight.cols()}, w));
      g.initializers.push_back(
          onnx::float_tensor(layer_name(i, l, "bias"), {L.bias.size()}, std::vector<float>(L.bias.data(), L.bias.data() + L.bias.size())));
      onnx::Node gemm = onnx::make_node("Gemm", {h, layer_name(i, l, "weight"), layer_name(i, l, "bias")}, layer_name(i, l, "z"));
      gemm.attributes.push_back(onnx::int_attribute("transB", 1));
      g.nodes.push_back(gemm);
      h = layer_name(i, l, "z");
      if (l + 1 < int(layers.size())) {
        g.nodes.push_back(onnx::make_node("Sigmoid", {h}, layer_name(i, l, "sigmoid")));
        g.nodes.push_back(onnx::make_node("Mul", {h, layer_name(i, l, "sigmoid")}, layer_name(i, l, "silu")));
        h = layer_name(i, l, "silu");
      }
    }
    const std::string p = "m" + std::to_string(i) + ".";
    g.nodes.push_back(onnx::make_node("Mul", {h, "target_scale"}, p + "scaled"));
    if (!origin) {
      g.nodes.push_back(onnx::make_node("Add", {p + "scaled", "target_offset"}, p + "nll"));
      outputs.push_back(p + "nll");
      continue;
    }
    // + w(s) (a + b.s + s.C.s / 2), both outputs at once.
    const OriginTerm& o = spec.origin[i];
    Eigen::MatrixXf halves(K, 2 * K);
    halves << o.half_hessian[0], o.half_hessian[1];
    g.initializers.push_back(onnx::float_tensor(p + "origin.value", {2}, {o.value[0], o.value[1]}));
    g.initializers.push_back(float_matrix(p + "origin.gradient", o.gradient));
    g.initializers.push_back(float_matrix(p + "origin.half_hessian", halves));
    g.nodes.push_back(onnx::make_node("Add", {p + "scaled", "target_offset"}, p + "network_nll"));
    g.nodes.push_back(onnx::make_node("MatMul", {"yields", p + "origin.gradient"}, p + "origin.linear"));
    g.nodes.push_back(onnx::make_node("MatMul", {"yields", p + "origin.half_hessian"}, p + "origin.cy"));
    g.nodes.push_back(onnx::make_node("Mul", {p + "origin.cy", "origin.yields_twice"}, p + "origin.cyy"));
    g.nodes.push_back(onnx::make_node("MatMul", {p + "origin.cyy", "origin.block_sum"}, p + "origin.quadratic"));
    g.nodes.push_back(onnx::make_node("Add", {p + "origin.linear", p + "origin.quadratic"}, p + "origin.polynomial_s"));
    g.nodes.push_back(onnx::make_node("Add", {p + "origin.polynomial_s", p + "origin.value"}, p + "origin.polynomial"));
    g.nodes.push_back(onnx::make_node("Mul", {p + "origin.polynomial", "origin.weight"}, p + "origin.term"));
    g.nodes.push_back(onnx::make_node("Add", {p + "network_nll", p + "origin.term"}, p + "nll"));
    outputs.push_back(p + "nll");
  }
  g.nodes.push_back(onnx::make_node("Sum", outputs, "member_sum"));
  g.nodes.push_back(onnx::make_node("Mul", {"member_sum", "inverse_members"}, "nll"));
  onnx::Node concat = onnx::make_node("Concat", outputs, "nll_members");
  concat.attributes.push_back(onnx::int_attribute("axis", 1));
  g.nodes.push_back(concat);
  g.inputs.push_back({"yields", onnx::kFloat, {-1, K}, {"N", ""}});
  g.outputs.push_back({"nll", onnx::kFloat, {-1, 2}, {"N", ""}});
  g.outputs.push_back({"nll_members", onnx::kFloat, {-1, 2 * M}, {"N", ""}});

  auto& md = m.metadata;
  md.push_back({"refinery_format", kFormat});
  md.push_back({"description",
                "Negative log-likelihoods -log L of a published likelihood at signal strength 1 for the signal yields "
                "'yields' in the bins 'inputs', minimised over the nuisance parameters; column 0 for the observed "
                "data, column 1 for the background-only Asimov data. CLs and limits: q~_mu from f(mu s) along the "
                "ray of a signal (arXiv:1007.1727)."});
  md.push_back({"inputs", json(spec.bins).dump()});
  md.push_back({"outputs", json{{"nll", {"observed", "asimov"}},
                                {"nll_members", "observed, asimov of member 0, then of member 1, ..."}}
                               .dump()});
  md.push_back({"input_standardisation", json{{"mean", to_vector(spec.input_mean)}, {"scale", to_vector(spec.input_scale)}}.dump()});
  md.push_back({"target_standardisation",
                json{{"mean", {spec.target_mean[0], spec.target_mean[1]}}, {"scale", {spec.target_scale[0], spec.target_scale[1]}}}
                    .dump()});
  md.push_back({"nll_background_observed", exact(spec.background_observed)});
  md.push_back({"nll_background_asimov", exact(spec.background_asimov)});
  md.push_back({"poi", spec.poi});
  md.push_back({"workspace", spec.workspace});
  md.push_back({"workspace_hash", spec.workspace_hash});
  md.push_back({"range_of_validity", json{{"yields_min", to_vector(spec.yields_min)},
                                          {"yields_max", to_vector(spec.yields_max)},
                                          {"reach_twice_nll", spec.reach}}
                                         .dump()});
  if (origin) {
    json e;
    for (int c = 0; c < 2; ++c) {
      const std::string which = c == 0 ? "observed" : "asimov";
      e["gradient_" + which] = to_vector(spec.expansion_gradient[c]);
      json rows = json::array();
      for (int k = 0; k < K; ++k) rows.push_back(to_vector(spec.expansion_hessian[c].row(k).transpose()));
      e["hessian_" + which] = rows;
    }
    md.push_back({"expansion_at_zero", e.dump()});
    md.push_back({"origin_term",
                  "Each member's NLLs include w(s) (a + b.s + s.C.s/2), w(s) = exp(-s.A.s) (initializers origin.metric "
                  "= A, m<i>.origin.value = a, .gradient = b, .half_hessian = [C_obs/2, C_asimov/2]), which makes the "
                  "member equal the exact likelihood's value, gradient and Hessian in s at s = 0 "
                  "(expansion_at_zero; nuisances profiled)."});
  }
  md.push_back({"members", std::to_string(M)});
  md.push_back({"activation", "silu"});
  md.push_back({"training", spec.training.dump()});
  return m;
}

YieldSurrogateSpec surrogate_from_onnx(const onnx::Model& m, const std::string& file) {
  const std::string* format = m.property("refinery_format");
  if (!format || *format != kFormat)
    throw InputError(file, "metadata_props.refinery_format", std::string("not a refinery likelihood surrogate (expected ") + kFormat + ")");
  auto prop = [&](const char* key) -> const std::string& {
    const std::string* v = m.property(key);
    if (!v) throw InputError(file, std::string("metadata_props.") + key, "missing");
    return *v;
  };
  auto parse_json = [&](const char* key) {
    try {
      return json::parse(prop(key));
    } catch (const json::exception& e) {
      throw InputError(file, std::string("metadata_props.") + key, std::string("not JSON: ") + e.what());
    }
  };
  auto number = [&](const char* key) {
    const std::string& text = prop(key);
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(v)) throw InputError(file, std::string("metadata_props.") + key, "not a finite number");
    return v;
  };
  auto vector = [&](const json& j, const char* key, int n) {
    if (!j.is_array() || int(j.size()) != n)
      throw InputError(file, std::string("metadata_props.") + key, "expected " + std::to_string(n) + " numbers");
    Eigen::VectorXd v(n);
    for (int i = 0; i < n; ++i) {
      if (!j[i].is_number() || !std::isfinite(j[i].get<double>()))
        throw InputError(file, std::string("metadata_props.") + key, "not a finite number");
      v[i] = j[i].get<double>();
    }
    return v;
  };
  YieldSurrogateSpec s;
  try {
    const json inputs = parse_json("inputs");
    s.bins = inputs.get<std::vector<std::string>>();
    const int K = int(s.bins.size());
    if (K == 0) throw InputError(file, "metadata_props.inputs", "no bins");
    const json in = parse_json("input_standardisation");
    if (!in.is_object() || !in.contains("mean") || !in.contains("scale"))
      throw InputError(file, "metadata_props.input_standardisation", "expected {mean, scale}");
    s.input_mean = vector(in["mean"], "input_standardisation.mean", K);
    s.input_scale = vector(in["scale"], "input_standardisation.scale", K);
    if (!(s.input_scale.array() > 0).all()) throw InputError(file, "metadata_props.input_standardisation.scale", "must be > 0");
    const json out = parse_json("target_standardisation");
    if (!out.is_object() || !out.contains("mean") || !out.contains("scale"))
      throw InputError(file, "metadata_props.target_standardisation", "expected {mean, scale}");
    s.target_mean = vector(out["mean"], "target_standardisation.mean", 2);
    s.target_scale = vector(out["scale"], "target_standardisation.scale", 2);
    s.background_observed = number("nll_background_observed");
    s.background_asimov = number("nll_background_asimov");
    s.poi = prop("poi");
    s.workspace = prop("workspace");
    s.workspace_hash = prop("workspace_hash");
    const json range = parse_json("range_of_validity");
    if (!range.is_object() || !range.contains("yields_min") || !range.contains("yields_max"))
      throw InputError(file, "metadata_props.range_of_validity", "expected {yields_min, yields_max, reach_twice_nll}");
    s.yields_min = vector(range["yields_min"], "range_of_validity.yields_min", K);
    s.yields_max = vector(range["yields_max"], "range_of_validity.yields_max", K);
    s.reach = range.value("reach_twice_nll", 0.0);
    s.training = parse_json("training");
  } catch (const json::exception& e) {
    throw InputError(file, "metadata_props", std::string("malformed: ") + e.what());
  }
  const int K = int(s.bins.size());
  for (int i = 0;; ++i) {
    if (!m.graph.initializer(layer_name(i, 0, "weight"))) break;
    std::vector<DenseLayer> layers;
    int in = K;
    for (int l = 0;; ++l) {
      const onnx::Tensor* w = m.graph.initializer(layer_name(i, l, "weight"));
      const onnx::Tensor* b = m.graph.initializer(layer_name(i, l, "bias"));
      if (!w) break;
      if (!b || w->type != onnx::kFloat || b->type != onnx::kFloat || w->dims.size() != 2 || b->dims.size() != 1 ||
          w->dims[1] != in || b->dims[0] != w->dims[0] || w->dims[0] < 1)
        throw InputError(file, "graph.initializer '" + layer_name(i, l, "weight") + "'", "shape does not continue the network");
      DenseLayer L;
      L.weight.resize(w->dims[0], w->dims[1]);
      for (int r = 0; r < L.weight.rows(); ++r)
        for (int c = 0; c < L.weight.cols(); ++c) L.weight(r, c) = w->data[std::size_t(r) * L.weight.cols() + c];
      L.bias = Eigen::Map<const Eigen::VectorXf>(b->data.data(), b->data.size());
      if (!L.weight.allFinite() || !L.bias.allFinite())
        throw InputError(file, "graph.initializer '" + layer_name(i, l, "weight") + "'", "not finite");
      in = int(w->dims[0]);
      layers.push_back(std::move(L));
    }
    if (in != 2) throw InputError(file, "graph.initializer '" + layer_name(i, int(layers.size()) - 1, "weight") + "'", "the last layer must have 2 outputs");
    s.members.push_back(std::move(layers));
  }
  if (s.members.empty()) throw InputError(file, "graph.initializer", "no network (m0.l0.weight)");
  if (m.graph.initializer("origin.metric")) {
    auto matrix = [&](const std::string& name, int rows, int cols) {
      const onnx::Tensor* t = m.graph.initializer(name);
      if (!t || t->type != onnx::kFloat || t->dims.size() != 2 || t->dims[0] != rows || t->dims[1] != cols ||
          t->data.size() != std::size_t(rows) * cols)
        throw InputError(file, "graph.initializer '" + name + "'", "missing or not " + std::to_string(rows) + " x " + std::to_string(cols));
      Eigen::MatrixXf out(rows, cols);
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) out(r, c) = t->data[std::size_t(r) * cols + c];
      if (!out.allFinite()) throw InputError(file, "graph.initializer '" + name + "'", "not finite");
      return out;
    };
    s.origin_metric = matrix("origin.metric", K, K);
    for (int i = 0; i < int(s.members.size()); ++i) {
      const std::string p = "m" + std::to_string(i) + ".origin.";
      OriginTerm o;
      const onnx::Tensor* value = m.graph.initializer(p + "value");
      if (!value || value->type != onnx::kFloat || value->dims != std::vector<std::int64_t>{2} || value->data.size() != 2 ||
          !std::isfinite(value->data[0]) || !std::isfinite(value->data[1]))
        throw InputError(file, "graph.initializer '" + p + "value'", "missing or not 2 finite numbers");
      o.value = Eigen::Vector2f(value->data[0], value->data[1]);
      o.gradient = matrix(p + "gradient", K, 2);
      const Eigen::MatrixXf halves = matrix(p + "half_hessian", K, 2 * K);
      o.half_hessian[0] = halves.leftCols(K);
      o.half_hessian[1] = halves.rightCols(K);
      s.origin.push_back(std::move(o));
    }
    try {
      const json e = parse_json("expansion_at_zero");
      for (int c = 0; c < 2; ++c) {
        const std::string which = c == 0 ? "observed" : "asimov";
        const std::string key = "expansion_at_zero.hessian_" + which;
        s.expansion_gradient[c] = vector(e.at("gradient_" + which), ("expansion_at_zero.gradient_" + which).c_str(), K);
        const json& rows = e.at("hessian_" + which);
        if (!rows.is_array() || int(rows.size()) != K) throw InputError(file, "metadata_props." + key, "expected bins x bins");
        s.expansion_hessian[c].resize(K, K);
        for (int k = 0; k < K; ++k) s.expansion_hessian[c].row(k) = vector(rows[k], key.c_str(), K).transpose();
      }
    } catch (const json::exception& e) {
      throw InputError(file, "metadata_props.expansion_at_zero", std::string("malformed: ") + e.what());
    }
  }
  return s;
}

void set_origin_terms(YieldSurrogateSpec* spec, const Eigen::VectorXd gradient[2], const Eigen::MatrixXd hessian[2],
                      double rise, double range_fraction) {
  if (!(rise > 0) || !(range_fraction > 0)) throw std::invalid_argument("set_origin_terms: reach must be > 0");
  const int K = int(spec->bins.size()), M = int(spec->members.size());
  for (int c = 0; c < 2; ++c)
    if (gradient[c].size() != K || hessian[c].rows() != K || hessian[c].cols() != K)
      throw std::invalid_argument("set_origin_terms: expansion of the wrong size");
  YieldSurrogateSpec plain = *spec;  // the members without origin terms
  plain.origin.clear();
  const YieldSurrogate networks(plain);
  // A: the Asimov Hessian's non-negative part / rise (s.H.s is twice the
  // Asimov NLL's rise), plus a fraction of each bin's training range as the
  // reach in directions the data do not see.
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(0.5 * (hessian[1] + hessian[1].transpose()));
  Eigen::MatrixXd A =
      eigen.eigenvectors() * eigen.eigenvalues().cwiseMax(0.0).asDiagonal() * eigen.eigenvectors().transpose() / rise;
  for (int k = 0; k < K; ++k) {
    const double reach =
        range_fraction * (spec->yields_max.size() == K && spec->yields_max[k] > 0 ? spec->yields_max[k] : 1.0);
    A(k, k) += 1.0 / (reach * reach);
  }
  spec->origin_metric = A.cast<float>();
  const Eigen::MatrixXd metric = spec->origin_metric.cast<double>();  // as the evaluation will hold it
  spec->origin.assign(M, OriginTerm{});
  for (int c = 0; c < 2; ++c) {
    spec->expansion_gradient[c] = gradient[c];
    spec->expansion_hessian[c] = 0.5 * (hessian[c] + hessian[c].transpose());
  }
  for (int m = 0; m < M; ++m) {
    OriginTerm& o = spec->origin[m];
    o.gradient.resize(K, 2);
    for (int c = 0; c < 2; ++c) {
      const bool asimov = c == 1;
      // The member's value, gradient and Hessian at 0 from directional derivatives.
      double value, df, d2f;
      Eigen::VectorXd g(K);
      Eigen::MatrixXd H(K, K);
      networks.along(Eigen::VectorXd::Zero(K), 0.0, asimov, m, &value, &df, &d2f);
      for (int k = 0; k < K; ++k) {
        double at_zero;
        networks.along(Eigen::VectorXd::Unit(K, k), 0.0, asimov, m, &at_zero, &g[k], &H(k, k));
      }
      for (int k = 0; k < K; ++k)
        for (int l = k + 1; l < K; ++l) {
          double f2, d1, d2;
          networks.along(Eigen::VectorXd::Unit(K, k) + Eigen::VectorXd::Unit(K, l), 0.0, asimov, m, &f2, &d1, &d2);
          H(k, l) = H(l, k) = 0.5 * (d2 - H(k, k) - H(l, l));
        }
      const double exact = asimov ? spec->background_asimov : spec->background_observed;
      const float a = float(exact - value);
      o.value[c] = a;
      o.gradient.col(c) = (spec->expansion_gradient[c] - g).cast<float>();
      // w's own curvature at 0 (-2 A) times a is compensated, so that the
      // Hessian of w p at 0 is H - H_member exactly.
      o.half_hessian[c] = (0.5 * (spec->expansion_hessian[c] - H) + metric * double(a)).cast<float>();
    }
  }
}

YieldSurrogate::YieldSurrogate(YieldSurrogateSpec spec, std::string file) : spec_(std::move(spec)), file_(std::move(file)) {
  for (const auto& layers : spec_.members) {
    std::vector<std::pair<Eigen::MatrixXd, Eigen::VectorXd>> d;
    for (const auto& L : layers) d.push_back({L.weight.cast<double>(), L.bias.cast<double>()});
    double_.push_back(std::move(d));
  }
  if (spec_.has_origin()) {
    origin_metric_ = spec_.origin_metric.cast<double>();
    for (const auto& o : spec_.origin)
      origin_.push_back({o.value.cast<double>(), o.gradient.cast<double>(), {o.half_hessian[0].cast<double>(), o.half_hessian[1].cast<double>()}});
  }
}

std::shared_ptr<const YieldSurrogate> YieldSurrogate::load(const std::string& path) {
  return std::make_shared<const YieldSurrogate>(surrogate_from_onnx(onnx::read_file(path), path), path);
}

void YieldSurrogate::evaluate(const Eigen::MatrixXd& yields, Eigen::MatrixXd* nll, Eigen::MatrixXd* spread) const {
  const int K = dimension(), M = members();
  if (yields.cols() != K) throw std::invalid_argument("YieldSurrogate::evaluate: wrong number of bins");
  const Eigen::Index N = yields.rows();
  nll->setZero(N, 2);
  Eigen::MatrixXd sq = Eigen::MatrixXd::Zero(N, 2);
  const Eigen::VectorXf mean = spec_.input_mean.cast<float>();
  const Eigen::VectorXf inverse = spec_.input_scale.cwiseInverse().cast<float>();
  // Each member's layers as the kernel takes them (built once, shared by the blocks).
  std::vector<std::vector<surrogate_kernel::Layer>> views(M);
  for (int m = 0; m < M; ++m)
    for (const auto& L : spec_.members[m])
      views[m].push_back({L.weight.data(), L.bias.data(), int(L.weight.rows()), int(L.weight.cols())});
  const Eigen::Index block = 1024;
  const std::int64_t blocks = (N + block - 1) / block;
  parallel_for(blocks, [&](std::int64_t b) {
    const Eigen::Index start = b * block, n = std::min(block, N - start);
    Eigen::MatrixXf x0(K, n);
    for (Eigen::Index i = 0; i < n; ++i)
      x0.col(i) = (yields.row(start + i).transpose().cast<float>() - mean).cwiseProduct(inverse);
    Eigen::MatrixXf h(2, n);
    Eigen::MatrixXd Y, term;  // the block's yields [K, n]; an origin term [2, n]
    Eigen::ArrayXd weight;     // w(s) of the origin terms [n]
    if (!origin_.empty()) {
      Y = yields.middleRows(start, n).transpose();
      weight = (-(Y.array() * (origin_metric_ * Y).array()).colwise().sum()).exp().transpose();
      term.resize(2, n);
    }
    for (int m = 0; m < M; ++m) {
      // The layers through the kernel built for this CPU's vector instructions.
      surrogate_kernel::forward(views[m].data(), int(views[m].size()), x0.data(), int(n), h.data());
      if (!origin_.empty()) {  // w(s) (a + b.s + s.C.s / 2) for both outputs
        const auto& o = origin_[m];
        for (int c = 0; c < 2; ++c)
          term.row(c) = (weight * (o.value[c] + (o.gradient.col(c).transpose() * Y).array().transpose() +
                                   (Y.array() * (o.half_hessian[c] * Y).array()).colwise().sum().transpose()))
                            .transpose();
      }
      for (Eigen::Index i = 0; i < n; ++i)
        for (int c = 0; c < 2; ++c) {
          double v = double(h(c, i)) * spec_.target_scale[c] + spec_.target_mean[c] +
                     (c == 0 ? spec_.background_observed : spec_.background_asimov);
          if (!origin_.empty()) v += term(c, i);
          (*nll)(start + i, c) += v / M;
          sq(start + i, c) += v * v / M;
        }
    }
  });
  if (spread) *spread = (sq.array() - nll->array().square()).max(0.0).sqrt().matrix();
}

void YieldSurrogate::along(const Eigen::VectorXd& s, double t, bool asimov, int member, double* f, double* df,
                           double* d2f) const {
  const int K = dimension(), M = members();
  if (s.size() != K) throw std::invalid_argument("YieldSurrogate::along: wrong number of bins");
  const Eigen::VectorXd inverse = spec_.input_scale.cwiseInverse();
  const Eigen::VectorXd x0 = (t * s - spec_.input_mean).cwiseProduct(inverse);
  const Eigen::VectorXd dx0 = s.cwiseProduct(inverse);
  const int c = asimov ? 1 : 0;
  double F = 0, DF = 0, D2F = 0, FO = 0, DFO = 0, D2FO = 0;
  const int first = member < 0 ? 0 : member, last = member < 0 ? M : member + 1;
  // The origin terms along the ray: w(t) = exp(-t^2 a), p(t) = value + t b + t^2 c.
  double w = 1, dw = 0, d2w = 0;
  if (!origin_.empty()) {
    const double a = s.dot(origin_metric_ * s);
    w = std::exp(-t * t * a);
    dw = -2.0 * a * t * w;
    d2w = (4.0 * a * a * t * t - 2.0 * a) * w;
  }
  for (int m = first; m < last; ++m) {
    Eigen::VectorXd x = x0, dx = dx0, ddx = Eigen::VectorXd::Zero(K);
    const auto& layers = double_[m];
    for (std::size_t l = 0; l < layers.size(); ++l) {
      Eigen::VectorXd z = layers[l].first * x + layers[l].second;
      Eigen::VectorXd dz = layers[l].first * dx, ddz = layers[l].first * ddx;
      if (l + 1 == layers.size()) {
        x = std::move(z);
        dx = std::move(dz);
        ddx = std::move(ddz);
        break;
      }
      for (Eigen::Index j = 0; j < z.size(); ++j) {
        double a, da, dda;
        silu(z[j], &a, &da, &dda);
        z[j] = a;
        const double d1 = da * dz[j];
        ddz[j] = dda * dz[j] * dz[j] + da * ddz[j];
        dz[j] = d1;
      }
      x = std::move(z);
      dx = std::move(dz);
      ddx = std::move(ddz);
    }
    F += x[c];
    DF += dx[c];
    D2F += ddx[c];
    if (!origin_.empty()) {
      const auto& o = origin_[m];
      const double b = o.gradient.col(c).dot(s), q = s.dot(o.half_hessian[c] * s);
      const double p = o.value[c] + t * b + t * t * q, dp = b + 2.0 * t * q, d2p = 2.0 * q;
      FO += w * p;
      DFO += dw * p + w * dp;
      D2FO += d2w * p + 2.0 * dw * dp + w * d2p;
    }
  }
  const double n = last - first;
  *f = F / n * spec_.target_scale[c] + spec_.target_mean[c] + (asimov ? spec_.background_asimov : spec_.background_observed) + FO / n;
  *df = DF / n * spec_.target_scale[c] + DFO / n;
  *d2f = D2F / n * spec_.target_scale[c] + D2FO / n;
}

double YieldSurrogate::validity(const Eigen::VectorXd& s) const {
  double t = std::numeric_limits<double>::infinity();
  for (int k = 0; k < dimension(); ++k)
    if (s[k] > 0) t = std::min(t, spec_.yields_max[k] / s[k]);
  return t;
}

SurrogateModel::SurrogateModel(std::shared_ptr<const YieldSurrogate> surrogate, Eigen::VectorXd signal, int member,
                               bool asimov)
    : surrogate_(std::move(surrogate)), signal_(std::move(signal)), member_(member), asimov_(asimov) {
  if (signal_.size() != surrogate_->dimension())
    throw InputError(surrogate_->file(), "inputs",
                     "the surrogate has " + std::to_string(surrogate_->dimension()) + " bins, the signal " + std::to_string(signal_.size()));
  if (!(signal_.array() >= 0).all() || !signal_.allFinite())
    throw InputError(surrogate_->file(), "yields", "signal yields must be finite and >= 0");
  if (!(signal_.array() > 0).any()) throw InputError(surrogate_->file(), "yields", "the signal has no yield in the surrogate's bins");
  Parameter mu;
  mu.name = surrogate_->spec().poi.empty() ? "mu" : surrogate_->spec().poi;
  mu.init = 1.0;
  mu.lower = 0.0;
  mu.upper = std::max(surrogate_->validity(signal_), 1e-6);
  mu.init = std::min(1.0, mu.upper);
  mu.poi = true;
  parameters_.push_back(mu);
}

double SurrogateModel::data_nll(const Eigen::VectorXd& x, Eigen::VectorXd* grad, Eigen::MatrixXd* hess) const {
  double f, df, d2f;
  surrogate_->along(signal_, x[0], asimov_, member_, &f, &df, &d2f);
  if (grad) {
    grad->setZero(1);
    (*grad)[0] = df;
  }
  if (hess) {
    hess->setZero(1, 1);
    (*hess)(0, 0) = d2f;
  }
  return f;
}

std::vector<ProcessYields> SurrogateModel::expected_yields(const Eigen::VectorXd& x) const {
  ProcessYields p{"template", "signal", std::vector<double>(signal_.size())};
  for (int k = 0; k < signal_.size(); ++k) p.bins[k] = x[0] * signal_[k];
  return {p};
}

std::unique_ptr<Model> SurrogateModel::with_asimov_data(const Eigen::VectorXd& x) const {
  if (x[0] != 0.0)
    throw InputError(surrogate_->file(), "asimov",
                     "a surrogate knows the background-only Asimov data alone (" + parameters_[0].name + " = 0), not " +
                         parameters_[0].name + " = " + std::to_string(x[0]));
  auto m = std::make_unique<SurrogateModel>(*this);
  m->asimov_ = true;
  return m;
}

std::unique_ptr<Model> SurrogateModel::with_toy_data(const Eigen::VectorXd&, std::mt19937_64&) const {
  throw InputError(surrogate_->file(), "toys", "a likelihood surrogate has no toys: they need the full likelihood");
}

std::string SurrogateModel::describe() const {
  return "likelihood surrogate " + surrogate_->file() + (asimov_ ? " (background-only Asimov data)" : "");
}

}  // namespace refinery::stats
