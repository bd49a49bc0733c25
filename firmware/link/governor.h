// Publish governor: keeps one connection under AWS IoT Core's per-connection
// limits (docs.aws.amazon.com/general/latest/gr/iot-core.html, message broker
// limits: "Publish requests per second per connection" = 100, "Throughput per
// second per connection" = 512 KiB), so the device paces itself instead of
// being throttled or disconnected by the broker. Pure logic: time is an
// argument, no clock reads, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hal/clock.h"
#include "hal/status.h"

namespace edgeforge::link {

inline constexpr uint64_t kIotCorePublishesPerSecond = 100;
inline constexpr uint64_t kIotCoreBytesPerSecond = 512 * 1024;

struct GovernorOptions {
  uint64_t publishes_per_s = kIotCorePublishesPerSecond;
  uint64_t bytes_per_s = kIotCoreBytesPerSecond;
  uint64_t publish_burst = kIotCorePublishesPerSecond;  // bucket depth in publishes (1 s worth)
  uint64_t byte_burst = kIotCoreBytesPerSecond;         // bucket depth in bytes (1 s worth)
};

/// INVALID_ARGUMENT naming the field: rates and bursts must be >= 1, rates
/// <= 1e9/s and bursts <= 1e9 (keeps the fixed-point arithmetic exact).
Status ValidateGovernorOptions(const GovernorOptions& options);

/// Two token buckets (publishes, bytes), both must cover a publish. Buckets
/// start full. Arithmetic is exact integer fixed point (one token = 1e6
/// token-microseconds), so NextAvailable is the exact first microsecond at
/// which TryAcquire succeeds.
///
/// A message bigger than the byte bucket still goes: it is admitted when the
/// byte bucket is full and drives it negative, so the debt is repaid at
/// bytes_per_s before anything else passes and the long-run rate holds.
/// `bytes` is whatever the caller counts against the limit; counting the whole
/// PUBLISH (topic + payload + properties) is the conservative choice.
class Governor {
 public:
  static Result<Governor> Create(const GovernorOptions& options);

  /// Takes one publish and `bytes` if both buckets cover them at `now`.
  /// `now` earlier than a previous call is treated as that call's time.
  bool TryAcquire(size_t bytes, Micros now);
  /// The earliest time >= `now` at which TryAcquire(bytes, t) would succeed.
  Micros NextAvailable(size_t bytes, Micros now) const;

  const GovernorOptions& options() const { return options_; }

 private:
  struct Bucket {
    int64_t rate = 0;      // tokens per second = scaled units per microsecond
    int64_t capacity = 0;  // scaled (tokens * 1e6)
    int64_t level = 0;     // scaled; negative after an oversized message
  };

  explicit Governor(const GovernorOptions& options);
  static int64_t LevelAt(const Bucket& b, int64_t elapsed_us);
  static int64_t Need(const Bucket& b, uint64_t tokens);
  static int64_t WaitFor(const Bucket& b, int64_t level, int64_t need);
  void Refill(Micros now);

  GovernorOptions options_;
  Bucket publishes_;
  Bucket bytes_;
  Micros last_{0};
};

}  // namespace edgeforge::link
