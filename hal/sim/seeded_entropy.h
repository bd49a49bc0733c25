// Deterministic Entropy for tests and the simulator: the same seed gives the
// same bytes on every run and every host, so a simulated fleet's nonces,
// jitter and ids reproduce. Not for anything that must be unpredictable.
#pragma once

#include <array>
#include <cstdint>

#include "hal/bytes.h"
#include "hal/entropy.h"
#include "hal/status.h"

namespace edgeforge {

/// xoshiro256** 1.0 (Blackman and Vigna, "Scrambled Linear Pseudorandom
/// Number Generators", ACM TOMS 2021; reference xoshiro256starstar.c), its
/// 256-bit state filled from the seed with splitmix64 as the authors advise.
/// Bytes come out of each 64-bit output little-endian first. Used from one
/// thread (not synchronized).
class SeededEntropy final : public Entropy {
 public:
  explicit SeededEntropy(uint64_t seed);
  /// Starts from a raw xoshiro256** state (not all zero), bypassing the
  /// splitmix64 seeding: for checking against the reference vectors.
  static SeededEntropy FromState(const std::array<uint64_t, 4>& state);

  /// The next 64-bit output (Fill consumes the same stream).
  uint64_t Next();

 private:
  Status DoFill(MutBytes out) override;

  std::array<uint64_t, 4> s_{};
  uint64_t pending_ = 0;    // unread bytes of the last output, low byte first
  unsigned pending_n_ = 0;  // how many
};

}  // namespace edgeforge
