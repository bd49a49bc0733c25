#include "hal/sim/seeded_entropy.h"

namespace edgeforge {
namespace {

// splitmix64 (Vigna's reference splitmix64.c), used only to spread the seed
// over xoshiro's state: an all-zero state would stay zero forever.
uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

SeededEntropy::SeededEntropy(uint64_t seed) {
  for (uint64_t& word : s_) word = SplitMix64(seed);
}

SeededEntropy SeededEntropy::FromState(const std::array<uint64_t, 4>& state) {
  SeededEntropy entropy(0);
  entropy.s_ = state;
  return entropy;
}

uint64_t SeededEntropy::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

Status SeededEntropy::DoFill(MutBytes out) {
  for (uint8_t& b : out) {
    if (pending_n_ == 0) {
      pending_ = Next();
      pending_n_ = 8;
    }
    b = static_cast<uint8_t>(pending_);
    pending_ >>= 8;
    --pending_n_;
  }
  return Status::Ok();
}

}  // namespace edgeforge
