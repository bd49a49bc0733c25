// GPIO line: one pin, as an input with edge events (timestamped by the
// backend at the moment the edge happened, not when it was read) or as an
// output. Linux backend: the GPIO character device v2 uAPI.
#pragma once

#include <cstdint>

#include "hal/bytes.h"
#include "hal/clock.h"
#include "hal/status.h"

namespace edgeforge {

enum class GpioEdge : uint8_t {
  kRising,   // inactive -> active
  kFalling,  // active -> inactive
};

struct GpioEvent {
  GpioEdge edge = GpioEdge::kRising;
  /// When the edge happened, on the monotonic time base of the line's Clock
  /// (the kernel stamps CLOCK_MONOTONIC at interrupt time).
  Micros timestamp{0};
  /// Per-line event number, 1, 2, 3...; a jump means events were lost
  /// (the backend's buffer overflowed) and the reader must say so.
  uint64_t line_seqno = 0;
};

class GpioLine {
 public:
  virtual ~GpioLine() = default;
  /// The current logical level (true = active; active-low is the backend's job).
  Result<bool> Get() { return DoGet(); }
  /// Drives an output line. FAILED_PRECONDITION on an input line.
  Status Set(bool active) { return DoSet(active); }
  /// Copies up to out.size() pending edge events, oldest first, waiting at
  /// most `timeout` for the first one. Returns how many were copied; 0 means
  /// none arrived in time (not an error).
  Result<size_t> ReadEvents(Span<GpioEvent> out, Millis timeout) { return DoReadEvents(out, timeout); }

 private:
  virtual Result<bool> DoGet() = 0;
  virtual Status DoSet(bool active) = 0;
  virtual Result<size_t> DoReadEvents(Span<GpioEvent> out, Millis timeout) = 0;
};

}  // namespace edgeforge
