// UART: a byte stream to one peripheral (8N1 at a configured baud rate).
// Linux backend: termios on a tty node; the simulator feeds it from a model.
#pragma once

#include <cstddef>

#include "hal/bytes.h"
#include "hal/clock.h"
#include "hal/status.h"

namespace edgeforge {

class Uart {
 public:
  virtual ~Uart() = default;
  /// Writes all of `data` within `timeout` (DEADLINE_EXCEEDED otherwise).
  Status Write(ConstBytes data, Millis timeout) { return DoWrite(data, timeout); }
  /// Copies up to out.size() received bytes, waiting at most `timeout` for
  /// the first one. Returns how many were copied; 0 means nothing arrived in
  /// time (not an error). UNAVAILABLE when the port is gone.
  Result<size_t> Read(MutBytes out, Millis timeout) { return DoRead(out, timeout); }

 private:
  virtual Status DoWrite(ConstBytes data, Millis timeout) = 0;
  virtual Result<size_t> DoRead(MutBytes out, Millis timeout) = 0;
};

}  // namespace edgeforge
