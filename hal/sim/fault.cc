#include "hal/sim/fault.h"

#include <string>

namespace edgeforge {
namespace {

struct NamedKind {
  FaultKind kind;
  const char* name;
};
constexpr NamedKind kKinds[] = {
    {FaultKind::kNone, "none"},   {FaultKind::kNack, "nack"},   {FaultKind::kTimeout, "timeout"},
    {FaultKind::kStuck, "stuck"}, {FaultKind::kNoise, "noise"}, {FaultKind::kDisconnect, "disconnect"},
};

}  // namespace

const char* FaultKindName(FaultKind kind) {
  for (const NamedKind& k : kKinds) {
    if (k.kind == kind) return k.name;
  }
  return "unknown";
}

Result<FaultKind> ParseFaultKind(std::string_view name) {
  for (const NamedKind& k : kKinds) {
    if (name == k.name) return k.kind;
  }
  return InvalidArgument("fault kind \"" + std::string(name) +
                         "\" is not one of none, nack, timeout, stuck, noise, disconnect");
}

void FaultInjector::Inject(const FaultSpec& spec) {
  spec_ = spec;
  kind_ = spec.kind;
  remaining_ = spec.transactions;
  hits_ = 0;
  rng_ = spec.seed;
  frozen_.clear();
}

void FaultInjector::Clear() {
  kind_ = FaultKind::kNone;
  frozen_.clear();
}

FaultKind FaultInjector::Next() {
  const FaultKind kind = kind_;
  if (kind == FaultKind::kNone) return kind;
  // The stuck cache is kept past the last transaction: this one may still
  // need it; the next Inject or Clear drops it.
  if (spec_.transactions != 0 && --remaining_ == 0) kind_ = FaultKind::kNone;
  if (kind == FaultKind::kNoise) return kind;
  if (!Chance(spec_.probability)) return FaultKind::kNone;
  ++hits_;
  return kind;
}

void FaultInjector::Freeze(ConstBytes request, MutBytes response) {
  auto key = std::make_pair(std::vector<uint8_t>(request.begin(), request.end()), response.size());
  auto it = frozen_.find(key);
  if (it == frozen_.end()) {
    frozen_.emplace(std::move(key), std::vector<uint8_t>(response.begin(), response.end()));
    return;
  }
  for (size_t i = 0; i < response.size(); ++i) response[i] = it->second[i];
}

size_t FaultInjector::AddNoise(MutBytes bytes) {
  size_t flipped = 0;
  for (uint8_t& b : bytes) {
    for (int bit = 0; bit < 8; ++bit) {
      if (Chance(spec_.probability)) {
        b = static_cast<uint8_t>(b ^ (1u << bit));
        ++flipped;
      }
    }
  }
  if (flipped != 0) ++hits_;
  return flipped;
}

bool FaultInjector::Roll() {
  if (!Chance(spec_.probability)) return false;
  ++hits_;
  return true;
}

// splitmix64 (Steele, Lea, Flood, "Fast Splittable Pseudorandom Number
// Generators", OOPSLA 2014; constants from Vigna's reference splitmix64.c).
uint64_t FaultInjector::NextRandom() {
  uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

bool FaultInjector::Chance(double p) {
  if (p >= 1.0) return true;  // no draw: a certain fault does not depend on the seed
  if (p <= 0.0) return false;
  // The top 53 bits as a uniform double in [0, 1).
  return static_cast<double>(NextRandom() >> 11) * 0x1.0p-53 < p;
}

}  // namespace edgeforge
