// Seeds of reproducible random streams: every piece of generated data is a
// pure function of (master seed, stream id), so chunks, processes, variation
// points and pseudo-experiments can be regenerated independently. Torch-free.
#pragma once
#include <cstdint>
#include <initializer_list>

namespace refinery {

// SplitMix64 finaliser: a well-mixed 64-bit hash of x.
inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Seed of the stream identified by `ids` under master seed `seed`.
inline std::uint64_t stream_seed(std::uint64_t seed, std::initializer_list<std::uint64_t> ids) {
  std::uint64_t h = splitmix64(seed);
  for (std::uint64_t id : ids) h = splitmix64(h ^ splitmix64(id + 0x632be59bd9b4e019ULL));
  return h;
}

// A uniform number in [0, 1) from a hash: its top 53 bits.
inline double unit_interval(std::uint64_t h) { return double(h >> 11) * 0x1.0p-53; }

}  // namespace refinery
