// FaultSpecs the hal/sim tests inject, built in one expression.
#pragma once

#include <cstdint>

#include "hal/sim/fault.h"

namespace edgeforge::testing_support {

/// `kind` on each of the next `transactions` transactions, then healthy again.
inline FaultSpec CountedFault(FaultKind kind, uint32_t transactions) {
  FaultSpec spec;
  spec.kind = kind;
  spec.transactions = transactions;
  return spec;
}

/// `kind` until cleared, hitting with `probability` (kNoise: per bit) drawn from `seed`.
inline FaultSpec RandomFault(FaultKind kind, double probability, uint64_t seed) {
  FaultSpec spec;
  spec.kind = kind;
  spec.probability = probability;
  spec.seed = seed;
  return spec;
}

}  // namespace edgeforge::testing_support
