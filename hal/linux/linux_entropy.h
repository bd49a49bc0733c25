// Entropy from the kernel's CSPRNG via getrandom(2) (flags 0: blocks only
// until the pool is first initialised after boot, then never).
#pragma once

#include "hal/bytes.h"
#include "hal/entropy.h"
#include "hal/status.h"

namespace edgeforge {

class LinuxEntropy final : public Entropy {
 public:
  LinuxEntropy() = default;
  LinuxEntropy(const LinuxEntropy&) = delete;
  LinuxEntropy& operator=(const LinuxEntropy&) = delete;

 private:
  /// getrandom(2) may return fewer bytes than asked (above 256 bytes, or when
  /// a signal arrives) and fails with EINTR before any byte: both loop.
  /// ENOSYS (kernel < 3.17) is UNIMPLEMENTED.
  Status DoFill(MutBytes out) override;
};

}  // namespace edgeforge
