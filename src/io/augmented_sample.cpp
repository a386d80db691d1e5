#include "src/io/augmented_sample.h"

#include <H5Cpp.h>
#include <torch/torch.h>

#include <cmath>

#include "src/core/atomic_file.h"
#include "src/core/eigen_tensor.h"
#include "src/core/error.h"
#include "src/io/h5_attributes.h"
#include "src/io/h5_dataset.h"
#include "src/io/h5_probe.h"
#include "src/io/h5_table.h"

namespace refinery {

void write_augmented_sample(const std::string& path, const AugmentedSample& s) {
  AtomicFile out(path);
  H5::Exception::dontPrint();
  try {
    H5::H5File file(out.temp_path(), H5F_ACC_TRUNC);
    h5::write_dataset(file, "x", s.x, true);
    h5::write_dataset(file, "joint_score", s.joint_score, false);
    if (s.kind == "ratio") {
      h5::write_dataset(file, "theta", s.theta, false);
      if (s.theta_denominator.defined()) h5::write_dataset(file, "theta_denominator", s.theta_denominator, false);
      h5::write_dataset(file, "joint_log_ratio", s.joint_log_ratio.view({-1}), false);
      h5::write_dataset(file, "label", s.label.view({-1}), false);
      h5::write_matrix(file, "prior_lower", s.prior_lower, true);
      h5::write_matrix(file, "prior_upper", s.prior_upper, true);
    } else {
      h5::write_matrix(file, "cross_section_gradient", s.cross_section_gradient, true);
      h5::write_double(file, "cross_section", s.cross_section);
    }
    h5::write_matrix(file, "reference", s.reference, true);
    if (s.has_morphing()) {
      Eigen::MatrixXd c(s.morphing_components.size(), s.theory_parameters);
      for (size_t j = 0; j < s.morphing_components.size(); ++j)
        for (int p = 0; p < s.theory_parameters; ++p) c(Eigen::Index(j), p) = s.morphing_components[j][size_t(p)];
      h5::write_matrix(file, "morphing_components", c, false);
      h5::write_matrix(file, "morphing_basis", s.morphing_basis, false);
      h5::write_matrix(file, "basis_cross_sections", s.basis_cross_sections, true);
    }
    h5::write_string(file, "kind", s.kind);
    h5::write_strings(file, "feature_names", s.feature_names);
    h5::write_strings(file, "parameter_names", s.parameter_names);
    h5::write_uint64(file, "theory_parameters", std::uint64_t(s.theory_parameters));
    h5::write_string(file, "generator", s.generator);
    h5::write_uint64(file, "seed", s.seed);
  } catch (const H5::Exception& e) {
    throw std::runtime_error(path + ": writing the augmented sample failed: " + e.getDetailMsg());
  }
  out.commit();
}

namespace {

AugmentedSample read_in_process(const std::string& path) {
  H5Table table(path);  // InputError for a missing or non-HDF5 file
  AugmentedSample s;
  try {
    H5::H5File file(path, H5F_ACC_RDONLY);
    const auto kind = h5::read_string(file, "kind");
    if (!kind || (*kind != "ratio" && *kind != "score"))
      throw InputError(path, "attribute kind", "not an augmented training sample (kind 'ratio' or 'score'; written by refinery simulate theory)");
    s.kind = *kind;
    const auto features = h5::read_strings(file, "feature_names");
    const auto parameters = h5::read_strings(file, "parameter_names");
    const auto T = h5::read_uint64(file, "theory_parameters");
    if (!features || features->empty()) throw InputError(path, "attribute feature_names", "missing or empty");
    if (!parameters || parameters->empty()) throw InputError(path, "attribute parameter_names", "missing or empty");
    if (!T || *T < 1 || *T > parameters->size())
      throw InputError(path, "attribute theory_parameters", "missing, or not between 1 and the number of parameter_names");
    s.feature_names = *features;
    s.parameter_names = *parameters;
    s.theory_parameters = int(*T);
    s.generator = h5::read_string(file, "generator").value_or("");
    s.seed = h5::read_uint64(file, "seed").value_or(0);
    if (s.kind == "score") {
      const auto sigma = h5::read_double(file, "cross_section");
      if (!sigma || !(*sigma > 0) || !std::isfinite(*sigma)) throw InputError(path, "attribute cross_section", "missing or not positive");
      s.cross_section = *sigma;
    }
  } catch (const H5::Exception&) {
    throw InputError(path, "attributes", "unreadable (wrong types)");
  } catch (const std::runtime_error& e) {
    if (dynamic_cast<const InputError*>(&e)) throw;
    throw InputError(path, "attributes", e.what());
  }
  const int64_t F = int64_t(s.feature_names.size()), P = int64_t(s.parameter_names.size()), T = s.theory_parameters;
  const int64_t N = table.shape("x").rows;
  if (N < 1) throw InputError(path, "x", "has no events");
  s.x = table.read_whole("x", N, F).to(torch::kFloat32);
  const int64_t score_width = s.kind == "score" ? T : P;
  s.joint_score = table.read_whole("joint_score", N, score_width);
  s.reference = to_eigen_matrix(table.read_whole("reference", score_width, 1)).col(0);
  if (s.kind == "ratio") {
    s.theta = table.read_whole("theta", N, P);
    s.joint_log_ratio = table.read_whole("joint_log_ratio", N, 1).view({-1});
    s.label = table.read_whole("label", N, 1).view({-1});
    if (!((s.label == 0) | (s.label == 1)).all().item<bool>()) throw InputError(path, "label", "has a value other than 0 and 1");
    if (table.contains("theta_denominator")) s.theta_denominator = table.read_whole("theta_denominator", N, P);
    s.prior_lower = to_eigen_matrix(table.read_whole("prior_lower", T, 1)).col(0);
    s.prior_upper = to_eigen_matrix(table.read_whole("prior_upper", T, 1)).col(0);
  } else {
    s.cross_section_gradient = to_eigen_matrix(table.read_whole("cross_section_gradient", T, 1)).col(0);
  }
  if (table.contains("morphing_components")) {
    const Eigen::MatrixXd c = to_eigen_matrix(table.read_whole("morphing_components", -1, T));
    const int64_t n = c.rows();
    s.morphing_basis = to_eigen_matrix(table.read_whole("morphing_basis", n, T));
    s.basis_cross_sections = to_eigen_matrix(table.read_whole("basis_cross_sections", n, 1)).col(0);
    for (int64_t j = 0; j < n; ++j) {
      std::vector<int> e;
      for (int64_t p = 0; p < T; ++p) {
        const double k = c(j, p);
        if (!(k >= 0 && k <= 16 && k == std::floor(k)))
          throw InputError(path, "morphing_components", "exponents must be whole numbers 0-16");
        e.push_back(int(k));
      }
      s.morphing_components.push_back(e);
    }
    if ((s.basis_cross_sections.array() <= 0).any())
      throw InputError(path, "basis_cross_sections", "must be positive");
  }
  return s;
}

}  // namespace

AugmentedSample read_augmented_sample(const std::string& path) {
  // libhdf5 itself may crash or hang on a damaged file: the whole reading
  // first in a child (h5_probe.h), then here without the nested probes.
  return h5::read_probed(path, [&] { return read_in_process(path); });
}

}  // namespace refinery
