// `refinery surrogate sample BKG.json --patchset PS.json --out POINTS.h5`:
// the training set of a likelihood surrogate (issue 18 item 1): points in
// the signal-yield space of a template of bins, each labelled with the
// exact NLL minimised over the nuisances, observed and background-only
// Asimov (src/stats/signal_yield_likelihood.h), sampled by rays and Markov
// chains (src/stats/yield_sampling.h). The template is every bin in which a
// patch of --patchset (or a --patch) has a signal yield, or --signal-bins.
// The file (docs/formats.md, "Likelihood points"):
//   yields [N, K] float64, nll_observed [N], nll_asimov [N] float64,
//   source [N] uint8 (0 ray, 1 chain), scale [K]; gradient_observed [K],
//   hessian_observed [K, K], gradient_asimov [K], hessian_asimov [K, K]
//   (f to second order at s = 0, exact from the workspace);
//   attributes: format "refinery-likelihood-points-1", bins, poi, workspace,
//   workspace_hash (of its JSON), measurement, interp, background_nll_observed,
//   background_nll_asimov, reach, seed, refinery_version.
#include <H5Cpp.h>

#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <sstream>

#include "infer/model_source.h"
#include "infer/surrogate_signals.h"
#include "src/cli/command.h"
#include "src/cli/options.h"
#include "src/core/atomic_file.h"
#include "src/core/error.h"
#include "src/core/progress.h"
#include "src/core/hash.h"
#include "src/config/schema.h"
#include "src/core/text.h"
#include "src/core/version.h"
#include "src/core/worker_threads.h"
#include "src/io/h5_attributes.h"
#include "src/stats/yield_sampling.h"

namespace refinery::cli {

namespace {

void write_matrix(H5::H5File& file, const std::string& name, const double* data, hsize_t rows, hsize_t cols) {
  const hsize_t dims[2] = {rows, cols};
  H5::DataSpace space(cols == 0 ? 1 : 2, dims);
  H5::DataSet d = file.createDataSet(name, H5::PredType::IEEE_F64LE, space);
  d.write(data, H5::PredType::NATIVE_DOUBLE);
}

}  // namespace

int run_surrogate_sample(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Points in signal-yield space labelled with the workspace's exact NLLs (observed and "
                           "background-only Asimov), the training set of a likelihood surrogate: refinery surrogate "
                           "sample BKG.json --patchset PS.json --out POINTS.h5. A killed run resumes: the same "
                           "command again continues from POINTS.h5.journal");
  add_model_options(options, false);
  options.add_options()("what", "sample", cxxopts::value<std::string>())("signal-bins", "The template: CHANNEL or CHANNEL[BIN], comma-separated (default: every bin where a "
                                       "patch of --patchset or a --patch has a signal yield)",
                        cxxopts::value<std::string>()->default_value(""))(
      "points", "Labelled points in all", cxxopts::value<long>()->default_value("100000"))(
      "ray-fraction", "Share of the points on rays from the origin", cxxopts::value<double>()->default_value("0.5"))(
      "points-per-ray", "Points per ray (after the search of its reach)", cxxopts::value<int>()->default_value("16"))(
      "chains", "Markov chains", cxxopts::value<int>()->default_value("16"))(
      "reach", "How far the points go: twice the NLL above the background-only minimum",
      cxxopts::value<double>()->default_value("25"));
  add_common_options(options, false, true);
  options.parse_positional({"what", "workspace"});
  options.positional_help("BKG.json");
  auto r = parse(options, argc, argv);
  if (!r) return 0;
  CommonOptions common = common_options(*r);
  if (!r->count("workspace")) throw InputError("", "BKG.json", "the background-only workspace");
  for (const char* flag : {"asimov", "toy", "data", "poi-bounds", "mu-true", "nu-true"})
    if (r->count(flag)) throw InputError("", std::string("--") + flag, "surrogate sample labels the observed and Asimov data itself");
  if (common.out.empty()) throw InputError("", "--out", "where to write the points (HDF5)");
  stats::YieldSamplingOptions so;
  so.points = (*r)["points"].as<long>();
  so.ray_fraction = (*r)["ray-fraction"].as<double>();
  so.points_per_ray = (*r)["points-per-ray"].as<int>();
  so.chains = (*r)["chains"].as<int>();
  so.reach = (*r)["reach"].as<double>();
  so.seed = common.seed.value_or(1);
  if (!(so.points >= 1 && so.points <= 100000000)) throw InputError("", "--points", "must lie in [1, 1e8]");
  if (!(so.ray_fraction >= 0 && so.ray_fraction <= 1)) throw InputError("", "--ray-fraction", "must lie in [0, 1]");
  if (so.points_per_ray < 1 || so.points_per_ray > 100000) throw InputError("", "--points-per-ray", "must lie in [1, 100000]");
  if (so.chains < 1 || so.chains > 100000) throw InputError("", "--chains", "must lie in [1, 100000]");
  if (!(so.reach > 0 && so.reach <= 1e4)) throw InputError("", "--reach", "must lie in (0, 1e4]");
  set_worker_threads(common.threads);
  const auto t0 = std::chrono::steady_clock::now();

  const histfactory::Workspace background = background_workspace(*r);
  const std::string measurement = (*r)["measurement"].as<std::string>();
  const std::string interp_name = (*r)["interp"].as<std::string>();
  const histfactory::InterpOptions interp = interp_options(interp_name);
  std::vector<stats::TemplateBin> bins;
  const std::vector<std::string> named = split((*r)["signal-bins"].as<std::string>());
  if (!named.empty()) {
    bins = stats::parse_signal_template(background, named, "--signal-bins");
  } else {
    const auto signals = signal_workspaces(*r);
    if (signals.empty())
      throw InputError("", "--signal-bins", "name the template's bins, or give --patchset or --patch to take them from");
    std::vector<histfactory::Workspace> ws;
    for (const auto& s : signals) ws.push_back(s.workspace);
    bins = stats::signal_template(background, ws, measurement,
                                  r->count("patchset") ? (*r)["patchset"].as<std::string>() : "--patch");
  }
  const stats::SignalYieldLikelihood likelihood(background, bins, measurement, interp);
  if (!common.quiet)
    std::cerr << "surrogate sample: " << bins.size() << " bins (" << join(likelihood.bin_names())
              << "), background-only NLL observed " << std::setprecision(10) << likelihood.background_observed()
              << ", Asimov " << likelihood.background_asimov() << "\n";

  // f's expansion at s = 0 (the surrogate's origin terms), before the
  // sampling so that a user hears at once where the background-only
  // minimum is not a proper one: the points then go without it.
  stats::SignalYieldLikelihood::Expansion expansion[2];
  bool has_expansion = true;
  try {
    expansion[0] = likelihood.expansion(false);
    expansion[1] = likelihood.expansion(true);
  } catch (const InputError& e) {
    has_expansion = false;
    if (!common.quiet) std::cerr << "surrogate sample: note: " << e.what() << " (the surrogate will have no origin terms)\n";
  }

  AtomicFile target(common.out);  // the destination is checked before the fits
  // Resumable: the finished rays and chains go to OUT.journal as they
  // finish; the same command run again after a kill continues from it.
  so.journal = common.out + ".journal";
  const std::string workspace_hash = json_hash(read_json_file(workspace_path(*r)));
  so.journal_identity = workspace_hash + ":" + measurement + ":" + interp_name;
  std::mutex mutex;
  Progress progress("surrogate sample", so.points, common.quiet, 5.0);
  const stats::YieldPoints points = stats::sample_yields(likelihood, so, [&](std::int64_t done) {
    std::lock_guard<std::mutex> lock(mutex);
    progress.update(std::min<std::int64_t>(done, so.points));
  });
  progress.finish();
  if (!common.quiet && points.resumed_units > 0)
    std::cerr << "surrogate sample: " << points.resumed_points << " points of " << points.resumed_units
              << " finished rays and chains taken from " << so.journal << "\n";
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (points.size() == 0) throw InputError(background.file, "observations", "every fit failed: no point labelled");
  H5::Exception::dontPrint();
  try {
    H5::H5File file(target.temp_path(), H5F_ACC_TRUNC);
    const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> yields = points.yields;
    write_matrix(file, "yields", yields.data(), yields.rows(), yields.cols());
    write_matrix(file, "nll_observed", points.nll_observed.data(), points.size(), 0);
    write_matrix(file, "nll_asimov", points.nll_asimov.data(), points.size(), 0);
    write_matrix(file, "scale", points.scale.data(), points.scale.size(), 0);
    for (int c = 0; c < 2 && has_expansion; ++c) {
      const std::string which = c == 0 ? "observed" : "asimov";
      const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> h = expansion[c].hessian;
      write_matrix(file, "gradient_" + which, expansion[c].gradient.data(), expansion[c].gradient.size(), 0);
      write_matrix(file, "hessian_" + which, h.data(), h.rows(), h.cols());
    }
    const hsize_t n = points.size();
    H5::DataSpace space(1, &n);
    file.createDataSet("source", H5::PredType::STD_U8LE, space).write(points.source.data(), H5::PredType::NATIVE_UINT8);
    H5::Group root = file.openGroup("/");
    h5::write_string(root, "format", "refinery-likelihood-points-1");
    h5::write_strings(root, "bins", likelihood.bin_names());
    h5::write_string(root, "poi", likelihood.poi_name());
    h5::write_string(root, "workspace", workspace_path(*r));
    h5::write_string(root, "workspace_hash", workspace_hash);
    h5::write_string(root, "measurement", measurement);
    h5::write_string(root, "interp", interp_name);
    h5::write_double(root, "background_nll_observed", likelihood.background_observed());
    h5::write_double(root, "background_nll_asimov", likelihood.background_asimov());
    h5::write_double(root, "reach", so.reach);
    h5::write_uint64(root, "seed", so.seed);
    h5::write_string(root, "refinery_version", version() + " (" + git_commit() + ")");
    file.close();
  } catch (const H5::Exception& e) {
    throw InputError(common.out, "", "cannot write HDF5 file: " + e.getDetailMsg());
  }
  target.commit();
  std::error_code ignored;
  std::filesystem::remove(so.journal, ignored);  // the points are written: a rerun starts afresh
  if (!common.quiet)
    std::cerr << "surrogate sample: " << points.size() << " points (" << points.failed << " fits failed, chain acceptance "
              << std::setprecision(3) << points.acceptance << ") in " << std::setprecision(4) << seconds << " s -> "
              << common.out << "\n";
  return 0;
}

}  // namespace refinery::cli
