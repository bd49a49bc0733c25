// Per-device clock, injected (no global clock: a test or the simulator can run
// time at any rate, and 10,000 devices can share or not share one).
#pragma once

#include <chrono>
#include <cstdint>

namespace edgeforge {

using Millis = std::chrono::milliseconds;
using Micros = std::chrono::microseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  /// Monotonic time since an arbitrary epoch; never goes back.
  Micros Monotonic() const { return DoMonotonic(); }
  /// Wall-clock time, milliseconds since the Unix epoch (may jump on NTP sync).
  int64_t WallMillis() const { return DoWallMillis(); }
  /// Blocks the calling thread for `d` of this clock's time.
  void SleepFor(Micros d) { DoSleepFor(d); }

 private:
  virtual Micros DoMonotonic() const = 0;
  virtual int64_t DoWallMillis() const = 0;
  virtual void DoSleepFor(Micros d) = 0;
};

/// The host's clocks (CLOCK_MONOTONIC, CLOCK_REALTIME).
class SystemClock final : public Clock {
 private:
  Micros DoMonotonic() const override;
  int64_t DoWallMillis() const override;
  void DoSleepFor(Micros d) override;
};

/// A clock that only moves when told to: deterministic tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t wall_start_ms = 1'700'000'000'000) : wall_start_ms_(wall_start_ms) {}
  void Advance(Micros d) { now_ += d; }
  /// Moves to `t` if that is later (time never goes back): how a simulator
  /// brings a device's clock up to the scheduler's time before it runs.
  void AdvanceTo(Micros t) {
    if (t > now_) now_ = t;
  }
  /// Moves the wall clock (not the monotonic one) by `offset`: a device
  /// whose clock drifted or was set wrong (a scenario's clock-skew fault).
  void ShiftWall(Millis offset) { wall_start_ms_ += offset.count(); }

 private:
  Micros DoMonotonic() const override { return now_; }
  int64_t DoWallMillis() const override { return wall_start_ms_ + std::chrono::duration_cast<Millis>(now_).count(); }
  void DoSleepFor(Micros d) override { now_ += d; }

  int64_t wall_start_ms_;
  Micros now_{0};
};

}  // namespace edgeforge
