// SPI: one chip on a bus (bus + chip select + mode + clock rate), the way a
// Linux spidev node (/dev/spidevB.C) is one chip. Register-level drivers talk
// to it; the simulator routes the same bytes to a register model.
#pragma once

#include <cstdint>

#include "hal/bytes.h"
#include "hal/clock.h"
#include "hal/status.h"

namespace edgeforge {

class SpiDevice {
 public:
  virtual ~SpiDevice() = default;
  /// One full-duplex transaction with chip select held low for its whole
  /// length: clocks max(tx.size(), rx.size()) bytes; byte i sent is tx[i]
  /// (0x00 past the end of tx), byte i received lands in rx[i] (discarded
  /// past the end of rx). SPI has no acknowledge: a missing chip is not an
  /// error here, it reads as whatever the idle MISO line gives (0xFF with a
  /// pull-up), so drivers check an ID register.
  Status Transfer(ConstBytes tx, MutBytes rx, Millis timeout) { return DoTransfer(tx, rx, timeout); }

 private:
  virtual Status DoTransfer(ConstBytes tx, MutBytes rx, Millis timeout) = 0;
};

}  // namespace edgeforge
