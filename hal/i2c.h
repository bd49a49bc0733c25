// I2C bus: the hardware boundary for register-level drivers.
#pragma once

#include <cstdint>

#include "hal/bytes.h"
#include "hal/clock.h"
#include "hal/status.h"

namespace edgeforge {

class I2cBus {
 public:
  virtual ~I2cBus() = default;
  /// Writes `tx` then reads `rx.size()` bytes from 7-bit `address` in one
  /// transaction (repeated start). Either span may be empty.
  Status WriteRead(uint8_t address, ConstBytes tx, MutBytes rx, Millis timeout) {
    return DoWriteRead(address, tx, rx, timeout);
  }
  Status Write(uint8_t address, ConstBytes tx, Millis timeout) {
    return DoWriteRead(address, tx, MutBytes(), timeout);
  }

 private:
  virtual Status DoWriteRead(uint8_t address, ConstBytes tx, MutBytes rx, Millis timeout) = 0;
};

}  // namespace edgeforge
