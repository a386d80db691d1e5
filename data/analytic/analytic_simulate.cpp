#include "data/analytic/analytic_simulate.h"

#include <torch/torch.h>

#include <map>
#include <sstream>

#include "data/analytic/dcr_toy.h"
#include "data/analytic/gaussian_latent.h"
#include "data/analytic/inferno.h"
#include "data/random.h"
#include "src/core/error.h"
#include "src/io/event_writer.h"
#include "src/core/text.h"

namespace refinery::analytic {

namespace {

std::map<std::string, double> parse_values(const std::string& text,
                                           const std::vector<std::string>& allowed) {
  std::map<std::string, double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    std::string name = item.substr(0, eq);
    bool ok = false;
    for (const auto& a : allowed) ok = ok || a == name;
    if (!ok) throw InputError("", "--nu", "unknown parameter '" + name + "' (known: " + join(allowed) + ")");
    if (eq == std::string::npos) throw InputError("", "--nu", "expected name=value, got '" + item + "'");
    try {
      out[name] = std::stod(item.substr(eq + 1));
    } catch (const std::exception&) {
      throw InputError("", "--nu", "value of " + name + " is not a number");
    }
  }
  return out;
}

}  // namespace

void simulate_to_file(const std::string& generator, int64_t events, uint64_t seed, int benchmark,
                      const std::string& nu_text, const std::string& config_hash,
                      const std::string& out) {
  if (events <= 0) throw InputError("", "--events", "must be positive");
  torch::Generator gen = make_generator(stream_seed(seed, {0xa11}));
  EventSet e;
  EventMeta meta;
  if (generator == "inferno") {
    inferno_benchmark(benchmark);  // validates the index
    auto v = parse_values(nu_text, {"r", "lambda", "s", "b"});
    InfernoParameters p;
    if (v.count("r")) p.r = v["r"];
    if (v.count("lambda")) p.lambda = v["lambda"];
    if (v.count("s")) p.s = v["s"];
    if (v.count("b")) p.b = v["b"];
    if (!(p.lambda > 0) || !(p.s >= 0) || !(p.b >= 0))
      throw InputError("", "--nu", "INFERNO needs lambda > 0, s >= 0, b >= 0");
    int64_t ns = events / 2;
    e = inferno_sample(ns, events - ns, p, gen);
    meta = inferno_meta();
  } else if (generator == "dcr_toy_1d" || generator == "dcr_toy_3d") {
    DcrToy toy = generator == "dcr_toy_1d" ? DcrToy::one_nuisance() : DcrToy::three_nuisances();
    std::vector<std::string> names;
    for (int64_t k = 0; k < toy.dim(); ++k) names.push_back("nu" + std::to_string(k));
    auto v = parse_values(nu_text, names);
    torch::Tensor nu = torch::zeros({toy.dim()}, torch::kFloat64);
    for (int64_t k = 0; k < toy.dim(); ++k)
      if (v.count(names[k])) nu[k] = v[names[k]];
    e = toy.sample_at(toy.base(events, gen), nu);
    meta = toy.meta();
  } else if (generator == "gaussian_latent") {
    auto v = parse_values(nu_text, {"theta"});
    double theta = v.count("theta") ? v["theta"] : 0.0;
    e = GaussianLatent::events(GaussianLatent::sample(theta, events, gen), theta);
    meta = GaussianLatent::meta();
  } else {
    throw InputError("", "GENERATOR",
                     "unknown generator '" + generator +
                         "' (known: htautau, inferno, dcr_toy_1d, dcr_toy_3d, gaussian_latent)");
  }
  meta.seed = seed;
  meta.config_hash = config_hash;
  meta.luminosity = 1.0;
  write_events(out, e, meta);
}

}  // namespace refinery::analytic
