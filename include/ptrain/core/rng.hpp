#pragma once
// Seeded random streams with a fixed, documented arithmetic, so a seed means the same run on
// every compiler and standard library (std::uniform_*_distribution and std::shuffle do not).
#include <cstdint>
#include <random>
#include <span>

namespace ptrain {

// Independent streams derived from one seed: each use (init, split, the shuffle of epoch e)
// gets its own generator, so resuming at epoch e needs no saved generator state.
enum class Stream : std::uint64_t { init = 1, split = 2, shuffle = 3 };

// SplitMix64 finaliser: a strong 64-bit mix used to derive stream seeds.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline std::mt19937_64 make_stream(std::uint64_t seed, Stream stream, std::uint64_t index = 0) {
  return std::mt19937_64(mix64(mix64(seed) ^ mix64(static_cast<std::uint64_t>(stream) << 32 | index)));
}

// Uniform float in [0, 1) from the top 24 bits: exact in float32.
inline float uniform01(std::mt19937_64& rng) { return static_cast<float>(rng() >> 40) * 0x1p-24f; }

// Uniform integer in [0, n) by Lemire's multiply-shift (bias below 2^-32 for n < 2^32).
inline std::uint32_t below(std::mt19937_64& rng, std::uint32_t n) {
  return static_cast<std::uint32_t>(((rng() >> 32) * static_cast<std::uint64_t>(n)) >> 32);
}

// Fisher–Yates with the draws above.
inline void shuffle(std::span<std::uint32_t> items, std::mt19937_64& rng) {
  for (std::size_t i = items.size(); i > 1; --i) {
    std::uint32_t j = below(rng, static_cast<std::uint32_t>(i));
    std::swap(items[i - 1], items[j]);
  }
}

}  // namespace ptrain
