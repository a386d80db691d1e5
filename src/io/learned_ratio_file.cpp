#include "src/io/learned_ratio_file.h"

#include <H5Cpp.h>

#include <cmath>
#include <filesystem>

#include "src/core/atomic_file.h"
#include "src/core/eigen_tensor.h"
#include "src/core/error.h"
#include "src/io/h5_attributes.h"
#include "src/io/h5_probe.h"
#include "src/io/h5_dataset.h"
#include "src/io/h5_table.h"

namespace refinery {

namespace {

Eigen::MatrixXd read_matrix(const H5Table& table, const std::string& name, int64_t rows, int64_t width) {
  return to_eigen_matrix(table.read_whole(name, rows, width));
}

}  // namespace

void write_learned_ratio_file(const std::string& path, const LearnedRatioFile& f) {
  const stats::LearnedRatioInputs& in = *f.inputs;
  AtomicFile out(path);
  H5::Exception::dontPrint();
  try {
    H5::H5File file(out.temp_path(), H5F_ACC_TRUNC);
    h5::write_matrix(file, "coefficients", f.coefficients, false);
    Eigen::VectorXd w = f.weights.size() ? f.weights : Eigen::VectorXd::Ones(f.coefficients.rows());
    h5::write_matrix(file, "weights", w, true);
    h5::write_matrix(file, "reference_coefficients", in.reference, false);
    const int n = in.morphing.size(), T = in.morphing.parameters();
    Eigen::MatrixXd c(n, T);
    for (int j = 0; j < n; ++j)
      for (int p = 0; p < T; ++p) c(j, p) = in.morphing.exponents()[size_t(j)][size_t(p)];
    h5::write_matrix(file, "morphing_components", c, false);
    h5::write_matrix(file, "morphing_basis", in.morphing.basis(), false);
    h5::write_matrix(file, "lower", in.lower, true);
    h5::write_matrix(file, "upper", in.upper, true);
    h5::write_string(file, "kind", "learned_ratio_likelihood");
    h5::write_strings(file, "parameter_names", in.names);
    h5::write_uint64(file, "nuisances", std::uint64_t(in.nuisances));
    h5::write_double(file, "reference_yield", in.reference_yield);
    h5::write_string(file, "model", f.model);
    h5::write_string(file, "events", f.events);
    h5::write_string(file, "reference_events", f.reference_events);
  } catch (const H5::Exception& e) {
    throw std::runtime_error(path + ": writing the learned-ratio likelihood failed: " + e.getDetailMsg());
  }
  out.commit();
}

bool is_learned_ratio_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  H5::Exception::dontPrint();
  try {
    if (!H5::H5File::isHdf5(path)) return false;
  } catch (...) {
    return false;
  }
  auto kind = [&] {
    try {
      H5::H5File file(path, H5F_ACC_RDONLY);
      return h5::read_string(file, "kind").value_or("") == "learned_ratio_likelihood";
    } catch (...) {
      return false;
    }
  };
  return h5::read_probed(path, kind);  // a file libhdf5 crashes on: InputError saying so
}

namespace {

LearnedRatioFile read_in_process(const std::string& path) {
  H5Table table(path);
  std::vector<std::string> names;
  std::uint64_t K = 0;
  double yield = 0;
  LearnedRatioFile f;
  try {
    H5::H5File file(path, H5F_ACC_RDONLY);
    if (h5::read_string(file, "kind").value_or("") != "learned_ratio_likelihood")
      throw InputError(path, "attribute kind", "not a learned-ratio likelihood (refinery eval ratio writes one)");
    names = h5::read_strings(file, "parameter_names").value_or(std::vector<std::string>{});
    const auto k = h5::read_uint64(file, "nuisances");
    const auto y = h5::read_double(file, "reference_yield");
    if (!k) throw InputError(path, "attribute nuisances", "missing");
    if (!y || !(*y > 0) || !std::isfinite(*y)) throw InputError(path, "attribute reference_yield", "missing or not positive");
    K = *k;
    yield = *y;
    f.model = h5::read_string(file, "model").value_or("");
    f.events = h5::read_string(file, "events").value_or("");
    f.reference_events = h5::read_string(file, "reference_events").value_or("");
  } catch (const H5::Exception&) {
    throw InputError(path, "attributes", "unreadable (wrong types)");
  }
  if (names.size() <= K) throw InputError(path, "attribute parameter_names", "needs the theory parameters before the nuisances");
  const int64_t T = int64_t(names.size() - K);
  const Eigen::MatrixXd c = read_matrix(table, "morphing_components", -1, T);
  const int64_t n = c.rows(), cols = n * (1 + 2 * int64_t(K));
  std::vector<std::vector<int>> components;
  for (int64_t j = 0; j < n; ++j) {
    std::vector<int> e;
    for (int64_t p = 0; p < T; ++p) {
      if (!(c(j, p) >= 0 && c(j, p) <= 16 && c(j, p) == std::floor(c(j, p))))
        throw InputError(path, "morphing_components", "exponents must be whole numbers 0-16");
      e.push_back(int(c(j, p)));
    }
    components.push_back(e);
  }
  const Eigen::MatrixXd basis = read_matrix(table, "morphing_basis", n, T);
  auto in = std::make_shared<stats::LearnedRatioInputs>(stats::LearnedRatioInputs{
      [&] {
        try {
          return stats::Morphing(components, basis);
        } catch (const std::invalid_argument&) {
          throw InputError(path, "morphing_basis", "degenerate: the basis points do not determine the polynomial");
        }
      }(),
      int(K), names, read_matrix(table, "lower", T, 1).col(0), read_matrix(table, "upper", T, 1).col(0),
      read_matrix(table, "reference_coefficients", -1, cols), yield});
  if (!((in->lower.array() < in->upper.array()).all())) throw InputError(path, "lower", "each lower bound must lie below its upper");
  f.coefficients = read_matrix(table, "coefficients", -1, cols);
  f.weights = read_matrix(table, "weights", f.coefficients.rows(), 1).col(0);
  if ((f.weights.array() < 0).any()) throw InputError(path, "weights", "negative weight");
  f.inputs = in;
  return f;
}

}  // namespace

LearnedRatioFile read_learned_ratio_file(const std::string& path) {
  // libhdf5 itself may crash or hang on a damaged file: the whole reading
  // first in a child (h5_probe.h; the file is small), then here without the
  // nested probes.
  return h5::read_probed(path, [&] { return read_in_process(path); });
}

}  // namespace refinery
