// Simulated GPIO line: a model schedules level changes at instants of the
// device's clock; the firmware sees the level and the edge events only once
// the clock has reached them, exactly as it would see a real pin's edges,
// timestamped when they happened (not when they were read).
#pragma once

#include <cstdint>
#include <deque>

#include "hal/clock.h"
#include "hal/gpio.h"
#include "hal/status.h"

namespace edgeforge {

class SimGpioLine final : public GpioLine {
 public:
  enum class Direction : uint8_t {
    kInput,   // driven by a model, read by the firmware (edges reported)
    kOutput,  // driven by the firmware, observed by a model or test
  };
  /// `event_buffer` bounds the unread edge events, like the kernel's per-line
  /// buffer (16 per line by default, gpio-cdev.c); an edge that finds it full
  /// is dropped and leaves a gap in line_seqno.
  SimGpioLine(const Clock& clock, Direction direction, size_t event_buffer = 16);

  /// Model side: the line becomes `active` at monotonic instant `at`.
  /// INVALID_ARGUMENT if `at` is earlier than the previous change (a model
  /// must schedule in time order). A change to the current level is no edge.
  Status Drive(bool active, Micros at);
  /// Edges dropped because the buffer was full (the firmware should notice
  /// them as seqno gaps; tests compare).
  uint64_t dropped_events() const { return dropped_; }
  /// Level last set by the firmware (output lines).
  bool output_level() const { return level_; }

 private:
  struct Change {
    bool active;
    Micros at;
  };
  Result<bool> DoGet() override;
  Status DoSet(bool active) override;
  Result<size_t> DoReadEvents(Span<GpioEvent> out, Millis timeout) override;
  /// Moves scheduled changes whose time has come into the event buffer.
  void Advance();

  const Clock& clock_;
  Direction direction_;
  size_t capacity_;
  bool level_ = false;            // as of the last applied change
  bool last_scheduled_ = false;   // level after every scheduled change
  Micros last_at_{0};
  std::deque<Change> scheduled_;  // future (or not yet applied) changes
  std::deque<GpioEvent> events_;  // happened, unread
  uint64_t seqno_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace edgeforge
