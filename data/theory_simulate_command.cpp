// `refinery simulate theory`: samples of the theory simulator
// (data/analytic/theory_toy.h) for the estimators of issue 17:
//   --sample ratio   the augmented training sample of a ratio estimator:
//                    theta from a uniform prior box, the denominator at the
//                    reference or drawn from the prior too, joint log ratio
//                    and joint score per event, and the morphing structure
//                    (basis and its cross sections) for the morphing-aware
//                    form (src/io/augmented_sample.h);
//   --sample score   events at one point with their joint scores (SALLY);
//   --sample events  an event file at (theta, nu): a simulated sample with
//                    weights L sigma / N, or with --pseudo-data one Poisson
//                    pseudo-experiment of weight-1 events (the data of a fit).
// Seeds: --seed, else the experiment's; each kind of sample and point
// draws its own stream of it (a reference sample and pseudo-data of one
// seed are independent).
#include <cmath>
#include <cstring>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>

#include <torch/torch.h>

#include "data/analytic/theory_toy.h"
#include "src/cli/options.h"
#include "src/core/eigen_tensor.h"
#include "src/core/error.h"
#include "src/core/random_seed.h"
#include "src/core/text.h"
#include "src/io/augmented_sample.h"
#include "src/io/event_writer.h"
#include "src/stats/morphing.h"

namespace refinery::cli {

namespace {

using analytic::TheoryToy;

std::uint64_t bits(double v) {
  std::uint64_t b = 0;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// Each kind of sample and point its own stream of the seed: a reference
// sample and pseudo-data drawn with one --seed are independent.
std::uint64_t sample_seed(std::uint64_t seed, std::uint64_t kind, const Eigen::Vector2d& theta, double nu = 0.0,
                          double luminosity = 0.0) {
  return stream_seed(seed, {0x7e0c, kind, bits(theta[0]), bits(theta[1]), bits(nu), bits(luminosity)});
}

std::string number_text(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

Eigen::Vector2d parse_point(const std::string& text, const std::string& option) {
  const std::vector<double> v = parse_numbers(text, option);
  if (v.size() != 2) throw InputError("", option, "expected two values theta_1,theta_2, got '" + text + "'");
  return {v[0], v[1]};
}

// "LO:HI,LO:HI": the prior box of (theta_1, theta_2).
void parse_prior(const std::string& text, Eigen::VectorXd* lower, Eigen::VectorXd* upper) {
  const std::vector<std::string> parts = split(text, ',');
  if (parts.size() != 2) throw InputError("", "--prior", "expected LO:HI,LO:HI (one range per theory parameter), got '" + text + "'");
  lower->resize(2);
  upper->resize(2);
  for (int p = 0; p < 2; ++p) {
    const std::vector<std::string> r = split(parts[size_t(p)], ':');
    if (r.size() != 2) throw InputError("", "--prior", "expected LO:HI for theta_" + std::to_string(p + 1) + ", got '" + parts[size_t(p)] + "'");
    const std::vector<double> lo = parse_numbers(r[0], "--prior"), hi = parse_numbers(r[1], "--prior");
    if (lo.size() != 1 || hi.size() != 1 || !(lo[0] < hi[0]))
      throw InputError("", "--prior", "theta_" + std::to_string(p + 1) + "'s range '" + parts[size_t(p)] + "' must have LO < HI");
    (*lower)[p] = lo[0];
    (*upper)[p] = hi[0];
  }
}

// "T1,T2;T1,T2;...": the morphing basis, one point per component.
Eigen::MatrixXd parse_basis(const std::string& text, int components) {
  const std::vector<std::string> rows = split(text, ';');
  if (int(rows.size()) != components)
    throw InputError("", "--basis", "the structure (quadratic in theta_1 and theta_2) has " + std::to_string(components) +
                                        " components: give that many points T1,T2;T1,T2;..., got " + std::to_string(rows.size()));
  Eigen::MatrixXd basis(components, 2);
  for (int j = 0; j < components; ++j) basis.row(j) = parse_point(rows[size_t(j)], "--basis").transpose();
  return basis;
}

void write_event_sample(const cxxopts::ParseResult& r, const CommonOptions& common, std::uint64_t seed) {
  const Eigen::Vector2d theta = parse_point(r["theta"].as<std::string>(), "--theta");
  const double nu = r["nu"].as<double>(), luminosity = r["luminosity"].as<double>();
  if (!(luminosity > 0) || !std::isfinite(luminosity)) throw InputError("", "--luminosity", "must be positive");
  if (!std::isfinite(nu)) throw InputError("", "--nu", "must be finite");
  const double expected = luminosity * TheoryToy::cross_section(theta);
  if (!(expected > 0) || !std::isfinite(expected)) throw InputError("", "--theta", "the cross section is not positive there");
  const bool pseudo = r.count("pseudo-data") > 0;
  std::mt19937_64 rng(sample_seed(seed, pseudo ? 3 : 2, theta, nu, pseudo ? luminosity : 0.0));
  int64_t n = 0;
  if (pseudo) {
    if (expected > 1e8) throw InputError("", "--luminosity", "more than 1e8 expected events in one pseudo-experiment");
    n = std::poisson_distribution<int64_t>(expected)(rng);
  } else {
    if (!r.count("events")) throw InputError("", "--events", "how many simulated events? (or --pseudo-data for one Poisson pseudo-experiment)");
    n = r["events"].as<int64_t>();
  }
  const auto events = TheoryToy::sample(theta, nu, n, rng);
  EventSet set;
  set.features = torch::empty({n, 2}, torch::kFloat32);
  for (int64_t i = 0; i < n; ++i)
    for (int p = 0; p < 2; ++p) set.features[i][p] = float(events[size_t(i)].x[p]);
  set.weights = torch::full({n}, pseudo ? 1.0 : expected / double(std::max<int64_t>(n, 1)), torch::kFloat64);
  set.process = torch::zeros({n}, torch::kInt32);
  EventMeta meta;
  meta.feature_names = {"x_1", "x_2"};
  meta.process_names = {pseudo ? "data" : "theory"};
  meta.luminosity = luminosity;
  meta.generator = "theory";
  meta.seed = seed;
  write_events(common.out, set, meta);
  if (!common.quiet)
    std::cout << "wrote " << n << (pseudo ? " pseudo-data events" : " simulated events") << " at theta = (" << theta[0] << ", "
              << theta[1] << "), nu = " << nu << " (" << expected << " expected at " << luminosity << " fb^-1) to " << common.out
              << "\n";
}

}  // namespace

int run_simulate_theory(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Samples of the two-parameter theory simulator (docs/madminer.md): augmented training samples for "
                           "`refinery train ratio|sally`, simulated samples and pseudo-data");
  options.add_options()("what", "theory", cxxopts::value<std::string>())(
      "sample", "ratio (a ratio estimator's training sample), score (SALLY's) or events (an event file)",
      cxxopts::value<std::string>()->default_value("ratio"))(
      "events", "ratio: pairs of events (one at theta, one at the denominator); score, events: events", cxxopts::value<int64_t>())(
      "reference", "ratio: the reference point theta_ref", cxxopts::value<std::string>()->default_value("0,0"))(
      "prior", "ratio: the uniform prior box of theta, LO:HI,LO:HI (default: the reference +- 1)", cxxopts::value<std::string>())(
      "denominator", "ratio: the denominator theta_1: reference, or prior (drawn like theta)",
      cxxopts::value<std::string>()->default_value("reference"))(
      "nuisance", "ratio: include the energy-scale nuisance (nu ~ N(0, 1) clipped at 3)")(
      "basis", "ratio: the morphing basis T1,T2;T1,T2;... (6 points; default: chosen over the prior box)",
      cxxopts::value<std::string>())("theta", "score, events: the point", cxxopts::value<std::string>()->default_value("0,0"))(
      "nu", "events: the energy-scale nuisance", cxxopts::value<double>()->default_value("0"))(
      "luminosity", "events: fb^-1", cxxopts::value<double>()->default_value("1"))(
      "pseudo-data", "events: one Poisson pseudo-experiment (weights 1) instead of --events simulated events");
  add_common_options(options);
  options.parse_positional({"what"});
  options.positional_help("theory");
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  const ExperimentConfig config = setup_experiment(common);
  const std::uint64_t seed = config.document.at("seed").get<std::uint64_t>();
  if (common.out.empty()) throw InputError("", "--out", "no output file given");
  const std::string kind = (*r)["sample"].as<std::string>();
  if (kind != "ratio" && kind != "score" && kind != "events")
    throw InputError("", "--sample", "ratio, score or events, got '" + kind + "'");
  if (r->count("events") && (*r)["events"].as<int64_t>() < (kind == "events" ? 0 : 10))
    throw InputError("", "--events", "must be at least " + std::string(kind == "events" ? "0" : "10"));
  if (kind == "events") {
    write_event_sample(*r, common, seed);
    return 0;
  }
  const int64_t n = r->count("events") ? (*r)["events"].as<int64_t>() : 100000;
  std::mt19937_64 rng;
  AugmentedSample s;
  s.kind = kind;
  s.feature_names = {"x_1", "x_2"};
  s.parameter_names = {"theta_1", "theta_2"};
  s.theory_parameters = 2;
  s.generator = "theory";
  s.seed = seed;
  if (kind == "score") {
    const Eigen::Vector2d theta = parse_point((*r)["theta"].as<std::string>(), "--theta");
    rng.seed(sample_seed(seed, 1, theta));
    const auto t = TheoryToy::score_sample(theta, n, rng);
    s.x = to_tensor(t.x).to(torch::kFloat32);
    s.joint_score = to_tensor(t.score);
    s.reference = theta;
    Eigen::Vector2d gradient;
    s.cross_section = TheoryToy::cross_section(theta, &gradient);
    s.cross_section_gradient = gradient;
    write_augmented_sample(common.out, s);
    if (!common.quiet) std::cout << "wrote " << n << " events with their joint scores at theta = (" << theta[0] << ", " << theta[1] << ") to " << common.out << "\n";
    return 0;
  }
  TheoryToy::RatioSampling sampling;
  sampling.reference = parse_point((*r)["reference"].as<std::string>(), "--reference");
  Eigen::VectorXd lower = sampling.reference.array() - 1.0, upper = sampling.reference.array() + 1.0;
  if (r->count("prior")) parse_prior((*r)["prior"].as<std::string>(), &lower, &upper);
  for (int p = 0; p < 2; ++p)
    if (!(sampling.reference[p] >= lower[p] && sampling.reference[p] <= upper[p]))
      throw InputError("", "--prior", "theta_" + std::to_string(p + 1) + "'s range [" + number_text(lower[p]) + ", " +
                                          number_text(upper[p]) + "] excludes the reference point's " +
                                          number_text(sampling.reference[p]) + " (--reference)");
  sampling.prior_lower = lower;
  sampling.prior_upper = upper;
  const std::string denominator = (*r)["denominator"].as<std::string>();
  if (denominator != "reference" && denominator != "prior")
    throw InputError("", "--denominator", "reference or prior, got '" + denominator + "'");
  sampling.denominator_from_prior = denominator == "prior";
  sampling.with_nuisance = r->count("nuisance") > 0;
  // The morphing structure: sigma(theta) and every dsigma are quadratic
  // forms in (1, theta_1, theta_2).
  const auto components = stats::morphing_components({2, 2}, 2);
  std::optional<stats::Morphing> morphing;
  {
    // Where the weights are judged: a 21 x 21 grid over the prior box.
    Eigen::MatrixXd thetas(441, 2);
    for (int i = 0; i < 21; ++i)
      for (int j = 0; j < 21; ++j)
        thetas.row(21 * i + j) << lower[0] + (upper[0] - lower[0]) * i / 20.0, lower[1] + (upper[1] - lower[1]) * j / 20.0;
    if (r->count("basis")) {
      try {
        morphing.emplace(components, parse_basis((*r)["basis"].as<std::string>(), int(components.size())));
      } catch (const std::invalid_argument&) {
        throw InputError("", "--basis", "degenerate: the points do not determine a quadratic form in theta (its component matrix is singular)");
      }
      if (!(morphing->condition() < 1e12))
        throw InputError("", "--basis", "degenerate: the component matrix's condition number is " + number_text(morphing->condition()));
    } else {
      // Candidates: the reference and a 5 x 5 grid over the prior box.
      Eigen::MatrixXd candidates(26, 2);
      candidates.row(0) = sampling.reference.transpose();
      for (int i = 0; i < 5; ++i)
        for (int j = 0; j < 5; ++j)
          candidates.row(1 + 5 * i + j) << lower[0] + (upper[0] - lower[0]) * i / 4.0, lower[1] + (upper[1] - lower[1]) * j / 4.0;
      morphing.emplace(stats::optimise_morphing_basis(components, candidates, thetas));
    }
    if (!common.quiet)
      std::cout << "morphing basis of " << morphing->size() << " points: condition number " << number_text(morphing->condition())
                << ", mean sum of squared weights over the prior box " << number_text(morphing->mean_squared_weights(thetas)) << "\n";
  }
  rng.seed(sample_seed(seed, 0, sampling.reference));
  const auto t = TheoryToy::ratio_sample(sampling, n, rng);
  s.x = to_tensor(t.x).to(torch::kFloat32);
  s.theta = to_tensor(t.parameters);
  if (sampling.denominator_from_prior) s.theta_denominator = to_tensor(t.denominators);
  s.joint_log_ratio = to_tensor(t.joint_log_ratio).view({-1});
  s.joint_score = to_tensor(t.joint_score);
  s.label = to_tensor(t.label).view({-1});
  if (sampling.with_nuisance) s.parameter_names.push_back("energy_scale");
  s.reference = Eigen::VectorXd::Zero(s.parameter_names.size());
  s.reference.head<2>() = sampling.reference;
  s.prior_lower = lower;
  s.prior_upper = upper;
  s.morphing_components = morphing->exponents();
  s.morphing_basis = morphing->basis();
  s.basis_cross_sections.resize(morphing->size());
  for (int j = 0; j < morphing->size(); ++j)
    s.basis_cross_sections[j] = TheoryToy::cross_section(morphing->basis().row(j).transpose());
  write_augmented_sample(common.out, s);
  if (!common.quiet)
    std::cout << "wrote " << 2 * n << " events (" << n << " at theta from the prior, " << n << " at the "
              << (sampling.denominator_from_prior ? "denominator drawn from the prior" : "reference") << ") to " << common.out << "\n";
  return 0;
}

}  // namespace refinery::cli
