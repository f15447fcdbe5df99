#pragma once
// A small counter-based generator so shuffles are identical on every platform
// and standard library (std::shuffle's algorithm is implementation-defined).
#include <cstdint>
#include <vector>

namespace nairrcore {

inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Stream key for (seed, epoch, stream): distinct inputs give unrelated streams.
inline uint64_t mix_key(uint64_t seed, uint64_t epoch, uint64_t stream = 0) {
  uint64_t s = seed;
  uint64_t a = splitmix64(s) ^ (epoch * 0xD1B54A32D192ED03ull);
  uint64_t b = splitmix64(a) ^ (stream * 0x8CB92BA72F3D8DD7ull);
  return splitmix64(b);
}

// Uniform integer in [0, bound) without modulo bias (Lemire's method).
inline uint64_t uniform_below(uint64_t& state, uint64_t bound) {
  uint64_t x = splitmix64(state);
  __uint128_t m = static_cast<__uint128_t>(x) * bound;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < bound) {
    uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      x = splitmix64(state);
      m = static_cast<__uint128_t>(x) * bound;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

// Fisher-Yates permutation of 0..n-1 for (seed, epoch).
inline std::vector<int64_t> permutation(int64_t n, uint64_t seed, uint64_t epoch) {
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  uint64_t state = mix_key(seed, epoch);
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = static_cast<int64_t>(uniform_below(state, static_cast<uint64_t>(i) + 1));
    std::swap(p[i], p[j]);
  }
  return p;
}

}  // namespace nairrcore
