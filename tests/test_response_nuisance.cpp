// Response nuisances (infer/response_nuisance.h): the extended coefficients
// reproduce log r_p(x|nu) + size * eta * nu_k * a_pk(x) in the DCR ansatz's
// one definition (src/likelihood/dcr_ansatz.h), for the processes named and
// no other.
#include "tests/testing.hpp"

#include "infer/response_nuisance.h"
#include "src/likelihood/dcr_ansatz.h"
#include "src/likelihood/fused_kernel.h"

using namespace refinery;

TEST_CASE("response nuisances extend the DCR ansatz by size * eta * nu_k * a_pk(x)", "[likelihood]") {
  torch::manual_seed(3);
  const int K = 3;
  const int64_t n = 7, P = 3, C = likelihood::Ansatz(K, 2).C;
  const torch::Tensor coef = torch::randn({n, P, C}, torch::kFloat32);
  const std::vector<ResponseNuisance> responses = {{"eta_a", 1, {2}, 0.1}, {"eta_b", 0, {0, 2}, 0.25}};
  const torch::Tensor ext = extend_coefficients(coef, K, responses);
  REQUIRE(ext.sizes() == torch::IntArrayRef({n, P, likelihood::Ansatz(K + 2, 2).C}));
  const torch::Tensor nu = torch::tensor({0.7, -1.3, 2.2}, torch::kFloat64);
  const torch::Tensor eta = torch::tensor({0.9, -1.6}, torch::kFloat64);
  const torch::Tensor phi = likelihood::dcr_ansatz(nu, 2), phi_ext = likelihood::dcr_ansatz(torch::cat({nu, eta}), 2);
  const torch::Tensor c = coef.to(torch::kFloat64), e = ext.to(torch::kFloat64);
  for (int64_t p = 0; p < P; ++p) {
    torch::Tensor expected = torch::mv(c.select(1, p), phi);
    for (size_t r = 0; r < responses.size(); ++r)
      for (int q : responses[r].processes)
        if (q == p)
          expected = expected + responses[r].size * eta[int64_t(r)].item<double>() *
                                    nu[responses[r].of].item<double>() * c.select(1, p).select(1, responses[r].of);
    const torch::Tensor got = torch::mv(e.select(1, p), phi_ext);
    INFO("process " << p);
    CHECK(torch::allclose(got, expected, 1e-6, 1e-6));
  }
  // At eta = 0 every process's ratio is the networks' own.
  const torch::Tensor phi_zero = likelihood::dcr_ansatz(torch::cat({nu, torch::zeros({2}, torch::kFloat64)}), 2);
  for (int64_t p = 0; p < P; ++p)
    CHECK(torch::allclose(torch::mv(e.select(1, p), phi_zero), torch::mv(c.select(1, p), phi), 1e-6, 1e-6));
  // Without responses the coefficients pass unchanged; a response of a
  // nuisance the ansatz lacks is refused.
  CHECK(extend_coefficients(coef, K, {}).equal(coef));
  CHECK_THROWS(extend_coefficients(coef, K, {{"bad", 3, {0}, 0.1}}));
}
