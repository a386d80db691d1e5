// Writes samples of the analytic benchmark generators to event files
// (`refinery simulate inferno|dcr_toy_1d|dcr_toy_3d|gaussian_latent`).
#pragma once
#include <cstdint>
#include <string>

namespace refinery::analytic {

// nu_text: "nu0=1,nu1=-0.5" for the DCR toys, "theta=1" for the Gaussian
// toy, "r=0.2,lambda=2.5" for INFERNO (defaults: nominal).
void simulate_to_file(const std::string& generator, std::int64_t events, std::uint64_t seed,
                      int benchmark, const std::string& nu_text, const std::string& config_hash,
                      const std::string& out);

}  // namespace refinery::analytic
