// `refinery train ratio SAMPLE.h5 --out RATIO.pt` and `refinery train sally
// SAMPLE.h5 --out SALLY.pt` (issue 17 item 3): the likelihood-ratio and
// score estimators (train/ratio_estimator.h, train/sally.h) trained on an
// augmented sample (src/io/augmented_sample.h; `refinery simulate theory`
// writes one), as ensembles of --members networks from different seeds,
// exported as TorchScript (train/estimator_export.h) with their metadata
// and a JSON report beside the archive: each member's validation loss and
// the ensemble's spread on the validation events.
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "models/torchscript_export.h"
#include "src/cli/options.h"
#include "src/core/atomic_file.h"
#include "src/core/eigen_tensor.h"
#include "src/core/error.h"
#include "src/core/text.h"
#include "src/core/threads.h"
#include "src/io/augmented_sample.h"
#include "train/estimator_export.h"
#include "train/ratio_estimator.h"
#include "train/sally.h"
#include "train/training_flags.h"

namespace refinery::cli {

namespace {

void add_estimator_options(cxxopts::Options& options, const std::string& epochs, const std::string& steps) {
  options.add_options()("what", "ratio or sally", cxxopts::value<std::string>())(
      "sample", "Augmented training sample (refinery simulate theory)", cxxopts::value<std::string>())(
      "hidden", "Hidden layer sizes", cxxopts::value<std::string>()->default_value("64,64"))(
      "members", "Networks in the ensemble (different seeds)", cxxopts::value<int>()->default_value("1"))(
      "epochs", "Maximum epochs per member", cxxopts::value<int>()->default_value(epochs))(
      "steps", "Mini-batches per epoch", cxxopts::value<int64_t>()->default_value(steps))(
      "batch", "Events per mini-batch", cxxopts::value<int64_t>()->default_value("512"))(
      "lr", "Initial learning rate", cxxopts::value<double>()->default_value("0.002"))(
      "lr-decay", "Learning-rate factor per epoch", cxxopts::value<double>()->default_value("0.95"))(
      "patience", "Early stopping patience in epochs (0: never)", cxxopts::value<int>()->default_value("0"))(
      "checkpoint", "Checkpoint file prefix (default: OUT.ckpt; one file per member)", cxxopts::value<std::string>())(
      "resume", "Continue from the checkpoints");
  add_common_options(options, false, true);
  options.parse_positional({"what", "sample"});
  options.positional_help("SAMPLE.h5");
}

struct Common {
  CommonOptions common;
  AugmentedSample sample;
  std::string sample_path;
  int members = 1;
  std::vector<int64_t> hidden;
  int64_t batch = 512;
  TrainOptions train;
};

Common read_common(const cxxopts::ParseResult& r, const std::string& kind, const std::string& command) {
  Common c;
  c.common = common_options(r);
  if (!r.count("sample")) throw InputError("", "SAMPLE.h5", "the augmented training sample (refinery simulate theory --sample " + kind + ")");
  if (c.common.out.empty()) throw InputError("", "--out", "where to write the trained estimator (TorchScript .pt)");
  c.hidden = parse_layer_sizes(r["hidden"].as<std::string>(), "--hidden");
  if (c.hidden.empty()) throw InputError("", "--hidden", "at least one hidden layer");
  c.members = r["members"].as<int>();
  if (c.members < 1 || c.members > 64) throw InputError("", "--members", "must lie in [1, 64]");
  c.batch = r["batch"].as<int64_t>();
  if (c.batch < 1 || c.batch > 10000000) throw InputError("", "--batch", "must lie in [1, 1e7]");
  c.train.epochs = r["epochs"].as<int>();
  c.train.steps_per_epoch = r["steps"].as<int64_t>();
  c.train.learning_rate = r["lr"].as<double>();
  c.train.lr_decay = r["lr-decay"].as<double>();
  c.train.patience = r["patience"].as<int>();
  c.train.seed = c.common.seed.value_or(1);
  c.train.quiet = c.common.quiet;
  c.train.checkpoint = r.count("checkpoint") ? r["checkpoint"].as<std::string>() : c.common.out + ".ckpt";
  c.train.resume = r.count("resume") > 0;
  check_training_flags(c.train, r, "", "");
  set_threads(c.common.threads);
  AtomicFile probe(c.common.out);  // the destination is checked before the training
  c.sample_path = r["sample"].as<std::string>();
  c.sample = read_augmented_sample(c.sample_path);
  if (c.sample.kind != kind)
    throw InputError(c.sample_path, "attribute kind", "a '" + c.sample.kind + "' sample; train " + command + " needs a '" + kind +
                                                          "' sample (refinery simulate theory --sample " + kind + ")");
  return c;
}

// Member k's options: its own seed, checkpoint and label.
TrainOptions member_options(const Common& c, int k, const std::string& label) {
  TrainOptions t = c.train;
  t.seed = c.train.seed + 7919 * std::uint64_t(k);
  t.checkpoint = c.train.checkpoint + ".m" + std::to_string(k);
  t.label = c.members > 1 ? label + " (member " + std::to_string(k + 1) + "/" + std::to_string(c.members) + ")" : label;
  return t;
}

void remove_checkpoints(const Common& c) {
  std::error_code ignored;
  for (int k = 0; k < c.members; ++k) std::filesystem::remove(c.train.checkpoint + ".m" + std::to_string(k), ignored);
}

std::vector<double> as_vector(const Eigen::VectorXd& v) { return std::vector<double>(v.data(), v.data() + v.size()); }

nlohmann::json sample_metadata(const Common& c) {
  const AugmentedSample& s = c.sample;
  nlohmann::json md{{"feature_names", s.feature_names},
                    {"parameter_names", s.parameter_names},
                    {"theory_parameters", s.theory_parameters},
                    {"reference", as_vector(s.reference)},
                    {"members", c.members},
                    {"hidden", c.hidden},
                    {"sample", c.sample_path},
                    {"sample_events", s.size()},
                    {"generator", s.generator}};
  return md;
}

RatioLoss parse_loss(const std::string& name) {
  if (name == "carl") return RatioLoss::kCarl;
  if (name == "alices") return RatioLoss::kAlices;
  if (name == "rascal") return RatioLoss::kRascal;
  if (name == "cascal") return RatioLoss::kCascal;
  if (name == "rolr") return RatioLoss::kRolr;
  throw InputError("", "--loss", "carl, rolr, rascal, alices or cascal, got '" + name + "'");
}

}  // namespace

int run_train_ratio(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "A likelihood-ratio estimator (CARL, ROLR, RASCAL, ALICES, CASCAL) from an augmented sample: "
                           "refinery train ratio SAMPLE.h5 --out RATIO.pt");
  add_estimator_options(options, "60", "200");
  options.add_options()("loss", "carl, rolr, rascal, alices or cascal", cxxopts::value<std::string>()->default_value("carl"))(
      "alpha", "Weight of the score term (rascal, alices, cascal)", cxxopts::value<double>()->default_value("1"))(
      "form", "morphing (x -> per-basis-point ratios, the morphing-aware form; needs the sample's morphing structure) or "
              "plain (a network of x and theta)",
      cxxopts::value<std::string>()->default_value("morphing"))(
      "head", "Morphing form: quadratic (rho_j from a positive quadratic form in (1, theta), the morphed sum positive; needs "
              "every monomial of degree <= 2) or free (one log rho_j per basis point); default: quadratic where the "
              "structure allows",
      cxxopts::value<std::string>());
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  RatioOptions o;
  o.loss = parse_loss((*r)["loss"].as<std::string>());
  o.alpha = (*r)["alpha"].as<double>();
  if (!(o.alpha >= 0 && o.alpha <= 1e6)) throw InputError("", "--alpha", "must lie in [0, 1e6]");
  const std::string form = (*r)["form"].as<std::string>();
  if (form != "morphing" && form != "plain") throw InputError("", "--form", "morphing or plain, got '" + form + "'");
  Common c = read_common(*r, "ratio", "ratio");
  const AugmentedSample& s = c.sample;
  if (form == "morphing") {
    if (!s.has_morphing())
      throw InputError(c.sample_path, "morphing_components", "the sample has no morphing structure: use --form plain");
    std::optional<stats::Morphing> morphing;
    try {
      morphing.emplace(s.morphing_components, s.morphing_basis);
    } catch (const std::invalid_argument&) {
      throw InputError(c.sample_path, "morphing_basis", "degenerate: the basis points do not determine the polynomial (singular component matrix)");
    }
    const bool quadratic = is_quadratic_structure(*morphing);
    const std::string head = r->count("head") ? (*r)["head"].as<std::string>() : quadratic ? "quadratic" : "free";
    if (head != "quadratic" && head != "free") throw InputError("", "--head", "quadratic or free, got '" + head + "'");
    if (head == "quadratic" && !quadratic)
      throw InputError(c.sample_path, "morphing_components",
                       "--head quadratic needs every monomial of total degree <= 2 in the theory parameters: use --head free");
    o.morphing = std::make_shared<MorphingAwareForm>(MorphingAwareForm{
        *morphing, s.basis_cross_sections, int(s.parameter_names.size()) - s.theory_parameters, head == "quadratic"});
  } else if (r->count("head")) {
    throw InputError("", "--head", "only for --form morphing");
  }
  o.hidden = c.hidden;
  o.batch_size = c.batch;
  const RatioTrainingData d{s.x, s.theta, s.joint_log_ratio, s.joint_score, s.label,
                            to_tensor(s.reference).view({-1}), s.theta_denominator};
  if (!c.common.quiet)
    std::cerr << "train ratio: " << s.size() << " events of " << c.sample_path << ", " << (*r)["loss"].as<std::string>() << " in the "
              << (o.morphing ? "morphing-aware" : "plain") << " form, " << c.members << " x " << (*r)["hidden"].as<std::string>()
              << (s.theta_denominator.defined() ? ", denominators drawn from the prior" : "") << "\n";
  std::vector<RatioEstimator> members;
  nlohmann::json member_reports = nlohmann::json::array();
  for (int k = 0; k < c.members; ++k) {
    o.train = member_options(c, k, "train ratio");
    TrainReport report;
    members.push_back(train_ratio_estimator(d, o, &report));
    if (report.interrupted) return 0;
    member_reports.push_back({{"best_validation_loss", report.best_val_loss}, {"best_epoch", report.best_epoch},
                              {"seconds", report.seconds}, {"samples", report.samples}});
  }
  // The spread on the validation events (the last fifth), each at its own theta.
  const int64_t N = s.size(), n_val = std::max<int64_t>(1, int64_t(o.validation_fraction * N));
  torch::Tensor spread;
  const torch::Tensor x_val = s.x.narrow(0, N - n_val, n_val), theta_val = s.theta.narrow(0, N - n_val, n_val);
  ensemble_log_ratio(members, x_val, theta_val, &spread);
  const double mean_spread = spread.mean().item<double>(), max_spread = spread.max().item<double>();
  nlohmann::json md = sample_metadata(c);
  md["kind"] = "ratio_estimator";
  md["loss"] = (*r)["loss"].as<std::string>();
  md["alpha"] = o.alpha;
  md["form"] = o.morphing ? "morphing" : "plain";
  if (o.morphing) md["head"] = o.morphing->positive_quadratic ? "quadratic" : "free";
  md["denominator"] = s.theta_denominator.defined() ? "prior" : "reference";
  md["prior_lower"] = as_vector(s.prior_lower);
  md["prior_upper"] = as_vector(s.prior_upper);
  if (o.morphing) {
    md["morphing_components"] = s.morphing_components;
    md["morphing_basis"] = nlohmann::json::array();
    for (Eigen::Index j = 0; j < s.morphing_basis.rows(); ++j) md["morphing_basis"].push_back(as_vector(s.morphing_basis.row(j).transpose()));
    md["basis_cross_sections"] = as_vector(s.basis_cross_sections);
  }
  md["member_reports"] = member_reports;
  md["validation_spread_log_ratio"] = {{"mean", mean_spread}, {"max", max_spread}, {"events", n_val}};
  torch::jit::Module module = ratio_estimator_to_torchscript(members);
  save_torchscript(module, md, c.common.out);
  write_text_atomically(c.common.out + ".json", md.dump(2) + "\n");
  remove_checkpoints(c);
  if (!c.common.quiet) {
    for (size_t k = 0; k < members.size(); ++k)
      std::cerr << "member " << k << ": best validation loss " << std::setprecision(5) << member_reports[k]["best_validation_loss"].get<double>()
                << " at epoch " << member_reports[k]["best_epoch"].get<int>() << ", " << std::setprecision(3)
                << member_reports[k]["seconds"].get<double>() << " s\n";
    if (c.members > 1)
      std::cerr << "train ratio: the members' spread of log r^ on " << n_val << " validation events: mean " << std::setprecision(3)
                << mean_spread << ", max " << max_spread << "\n";
    std::cerr << "train ratio: -> " << c.common.out << "\n";
  }
  return 0;
}

int run_train_sally(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "SALLY, the local score regression, from an augmented sample at one point: refinery train sally "
                           "SAMPLE.h5 --out SALLY.pt");
  add_estimator_options(options, "40", "200");
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  Common c = read_common(*r, "score", "sally");
  const AugmentedSample& s = c.sample;
  SallyOptions o;
  o.hidden = c.hidden;
  o.batch_size = c.batch;
  if (!c.common.quiet)
    std::cerr << "train sally: " << s.size() << " events of " << c.sample_path << ", " << c.members << " x "
              << (*r)["hidden"].as<std::string>() << "\n";
  std::vector<Sally> members;
  nlohmann::json member_reports = nlohmann::json::array();
  for (int k = 0; k < c.members; ++k) {
    o.train = member_options(c, k, "train sally");
    TrainReport report;
    members.push_back(train_sally(s.x, s.joint_score, o, &report));
    if (report.interrupted) return 0;
    member_reports.push_back({{"best_validation_loss", report.best_val_loss}, {"best_epoch", report.best_epoch},
                              {"seconds", report.seconds}, {"samples", report.samples}});
  }
  // The Fisher information per fb^-1 at the point from the validation
  // events' estimated scores (train/sally.h), the ensemble's and each member's.
  const int64_t N = s.size(), n_val = std::max<int64_t>(1, int64_t(o.validation_fraction * N));
  const torch::Tensor x_val = s.x.narrow(0, N - n_val, n_val);
  const torch::Tensor gradient = to_tensor(s.cross_section_gradient).view({-1});
  torch::Tensor spread, each;
  const torch::Tensor info = fisher_from_score(ensemble_score(members, x_val, &spread, &each), s.cross_section, gradient, 1.0);
  auto json_rows = [](const Eigen::MatrixXd& m) {
    nlohmann::json rows = nlohmann::json::array();
    for (Eigen::Index i = 0; i < m.rows(); ++i) rows.push_back(as_vector(m.row(i).transpose()));
    return rows;
  };
  nlohmann::json per_member = nlohmann::json::array();
  for (int64_t k = 0; k < each.size(0); ++k)
    per_member.push_back(json_rows(to_eigen_matrix(fisher_from_score(each[k], s.cross_section, gradient, 1.0))));
  const Eigen::MatrixXd I = to_eigen_matrix(info);
  const nlohmann::json rows = json_rows(I);
  nlohmann::json md = sample_metadata(c);
  md["kind"] = "sally";
  md["cross_section"] = s.cross_section;
  md["cross_section_gradient"] = as_vector(s.cross_section_gradient);
  md["member_reports"] = member_reports;
  md["fisher_information_per_fb"] = {{"ensemble", rows}, {"members", per_member}, {"events", n_val}};
  md["validation_spread_score"] = {{"mean", spread.mean().item<double>()}, {"max", spread.max().item<double>()}};
  torch::jit::Module module = sally_to_torchscript(members);
  save_torchscript(module, md, c.common.out);
  write_text_atomically(c.common.out + ".json", md.dump(2) + "\n");
  remove_checkpoints(c);
  if (!c.common.quiet) {
    std::cerr << "train sally: Fisher information per fb^-1 at the point from " << n_val << " validation events' estimated scores:\n";
    for (Eigen::Index i = 0; i < I.rows(); ++i) {
      std::cerr << "  ";
      for (Eigen::Index j = 0; j < I.cols(); ++j) std::cerr << std::setw(12) << std::setprecision(5) << I(i, j);
      std::cerr << "\n";
    }
    if (c.members > 1)
      std::cerr << "train sally: the members' spread of the score: mean " << std::setprecision(3) << spread.mean().item<double>()
                << "\n";
    std::cerr << "train sally: -> " << c.common.out << "\n";
  }
  return 0;
}

}  // namespace refinery::cli
