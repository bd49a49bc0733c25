// Entropy: random bytes for jitter, nonces and ids, injected (no global RNG):
// the Linux backend reads getrandom(2); tests and the simulator use a seeded
// deterministic source so runs reproduce.
#pragma once

#include <cstdint>

#include "hal/bytes.h"
#include "hal/status.h"

namespace edgeforge {

class Entropy {
 public:
  virtual ~Entropy() = default;
  /// Fills `out` completely.
  Status Fill(MutBytes out) { return DoFill(out); }

 private:
  virtual Status DoFill(MutBytes out) = 0;
};

}  // namespace edgeforge
