// Simulated GPIO line: a model schedules level changes at instants of the
// device's clock; the firmware sees the level and the edge events only once
// the clock has reached them, exactly as it would see a real pin's edges,
// timestamped when they happened (not when they were read).
#pragma once

#include <cstdint>
#include <deque>

#include "hal/clock.h"
#include "hal/gpio.h"
#include "hal/sim/fault.h"
#include "hal/status.h"

namespace edgeforge {

class SimGpioLine final : public GpioLine {
 public:
  enum class Direction : uint8_t {
    kInput,   // driven by a model, read by the firmware (edges reported)
    kOutput,  // driven by the firmware, observed by a model or test
  };
  /// `event_buffer` bounds the unread edge events, like the kernel's per-line
  /// buffer (16 per line by default, gpiolib-cdev.c); when it is full the
  /// oldest unread event is dropped to make room, leaving a gap in line_seqno.
  SimGpioLine(const Clock& clock, Direction direction, size_t event_buffer = 16);

  /// Model side: the line becomes `active` at monotonic instant `at`.
  /// INVALID_ARGUMENT if `at` is earlier than the previous change (a model
  /// must schedule in time order). A change to the current level is no edge.
  Status Drive(bool active, Micros at);
  /// Resizes the event buffer, as the event_buffer_size of a Linux line
  /// request does (0 keeps the current size).
  void set_event_buffer(size_t events) {
    if (events > 0) capacity_ = events;
  }
  /// Events dropped because the buffer was full (the firmware should notice
  /// them as seqno gaps; tests compare).
  uint64_t dropped_events() const { return dropped_; }
  /// Output lines: the level the model sees (what the firmware last set,
  /// unless a fault keeps it from arriving).
  bool output_level() const { return model_level_; }

  /// Makes the line misbehave as `fault` says (hal/sim/fault.h; input lines
  /// count edges as transactions, output lines count Set() calls). Edges
  /// whose time came before the call are not affected.
  void InjectFault(const FaultSpec& fault);
  void ClearFault();
  /// Edges and reads (input) or Set() calls (output) the fault hit since it was injected.
  uint64_t faults_hit() const { return fault_.hits(); }

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
  /// Numbers an edge the kernel saw and buffers it (dropping the oldest when full).
  void Record(bool active, Micros at);
  /// The level an input reads while a fault is in force.
  bool FaultedLevel();

  const Clock& clock_;
  Direction direction_;
  size_t capacity_;
  bool level_ = false;           // as of the last applied change (output: as last set)
  bool model_level_ = false;     // output: what the model sees
  bool stuck_level_ = false;     // kStuck (input): the level when the fault was injected
  bool last_scheduled_ = false;  // level after every scheduled change
  Micros last_at_{0};
  std::deque<Change> scheduled_;  // future (or not yet applied) changes
  std::deque<GpioEvent> events_;  // happened, unread
  uint64_t seqno_ = 0;
  uint64_t dropped_ = 0;
  FaultInjector fault_;
};

}  // namespace edgeforge
