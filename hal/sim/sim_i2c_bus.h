// Simulated I2C bus: routes each transaction by 7-bit address to a peripheral
// model that answers at register level, so a driver test exercises the same
// bytes as the real chip (DESIGN.md principle 3).
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "hal/bytes.h"
#include "hal/clock.h"
#include "hal/i2c.h"
#include "hal/sim/fault.h"
#include "hal/status.h"

namespace edgeforge {

/// A device on a simulated I2C bus (a register-level model of a chip).
class I2cPeripheral {
 public:
  virtual ~I2cPeripheral();
  /// One addressed transaction: the bytes written, then `rx.size()` bytes read
  /// after a repeated start. Either span may be empty.
  Status Transfer(ConstBytes tx, MutBytes rx) { return OnWriteRead(tx, rx); }

 private:
  virtual Status OnWriteRead(ConstBytes tx, MutBytes rx) = 0;
};

/// An I2C bus with no wires: a transaction completes instantly (the timeout is
/// accepted and ignored). Holds no global state; one bus belongs to one
/// simulated device and is used from that device's thread (not synchronized).
/// Peripherals are borrowed: they must outlive their attachment.
class SimI2cBus final : public I2cBus {
 public:
  /// Largest non-reserved 7-bit address (0x78..0x7F: 10-bit addressing and
  /// future use, I2C-bus specification UM10204 section 3.1.12).
  static constexpr uint8_t kMaxAddress = 0x77;
  /// 0x00..0x07: general call, START byte, CBUS, HS-mode codes (UM10204 3.1.12).
  static constexpr uint8_t kMinAddress = 0x08;

  /// ALREADY_EXISTS if `address` is taken; INVALID_ARGUMENT if it is reserved.
  Status Attach(uint8_t address, I2cPeripheral& peripheral);
  /// No-op when nothing is attached at `address`.
  void Detach(uint8_t address);

  /// Makes transactions to `address` fail as `fault` says (hal/sim/fault.h);
  /// nothing needs to be attached there. Replaces an earlier fault at it.
  void InjectFault(uint8_t address, const FaultSpec& fault);
  /// No-op when no fault is set at `address`.
  void ClearFault(uint8_t address);
  /// Transactions to `address` the fault hit since it was injected.
  uint64_t faults_hit(uint8_t address) const;

 private:
  Status DoWriteRead(uint8_t address, ConstBytes tx, MutBytes rx, Millis timeout) override;
  Status Faulted(FaultInjector& fault, uint8_t address, ConstBytes tx, MutBytes rx, Millis timeout);
  FaultInjector* FindFault(uint8_t address);

  std::array<I2cPeripheral*, 128> peripherals_{};
  // Few addresses ever carry a fault: a short list keeps a healthy bus small
  // and its transactions to one empty() check.
  std::vector<std::pair<uint8_t, FaultInjector>> faults_;
};

}  // namespace edgeforge
