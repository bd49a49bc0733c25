// Stateless randomness for the physical models: every value is a hash of
// (seed, channel, index), so a model is a pure function of time and can be
// asked about any instant in any order (no stored RNG state).
#pragma once

#include <cstdint>

namespace edgeforge::physics {

inline constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

/// SplitMix64's output function (Steele, Lea, Flood 2014): a bijective mixer,
/// so distinct (seed, channel, index) triples give independent-looking values.
inline uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// Uniform in [0, 1) from the top 53 bits.
inline double Unit(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

inline double Lerp(double a, double b, double t) { return a + (b - a) * t; }

/// Quintic fade (6t^5 - 15t^4 + 10t^3): continuous slope between lattice points.
inline double Fade(double t) { return t * t * t * (t * (t * 6 - 15) + 10); }

}  // namespace edgeforge::physics
