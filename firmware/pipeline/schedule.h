// Periodic deadlines for sampling and reporting. Pure: time is an argument.
#pragma once

#include <cstdint>

#include "hal/clock.h"

namespace edgeforge::pipeline {

/// A deadline every `period`, phase-locked to its start: deadlines stay at
/// start + k * period however late each poll is, so the rate does not drift.
/// A poll that finds several deadlines passed (the device was busy) fires
/// once and reports the others as skipped: no burst of catch-up samples, and
/// no silent gap either.
class Periodic {
 public:
  explicit Periodic(Micros period) : period_(period) {}

  /// Sets the first deadline; the later ones follow every `period`.
  void Start(Micros first_due) { next_due_ = first_due; }

  struct Tick {
    bool due = false;      // fire now
    uint64_t skipped = 0;  // deadlines passed before this one that will never fire
  };
  /// Fires at most once; the next deadline is the first one after `now`.
  Tick Poll(Micros now);

  Micros next_due() const { return next_due_; }
  Micros period() const { return period_; }

 private:
  Micros period_;
  Micros next_due_{0};
};

}  // namespace edgeforge::pipeline
