// Reconnect backoff: exponential with full jitter, coreMQTT style (no I/O, no
// clock reads: time and random bits are arguments, so tests are deterministic).
//
// Policy (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015, "Full
// Jitter"): sleep = random_between(0, min(cap, base * 2^attempt)).
// Two additions the blog does not need but a device fleet does:
//  - The attempt counter resets only after a connection stayed up for
//    `stable_after`. Resetting on CONNACK (as several IoT SDKs did) turns a
//    broker that accepts and then drops every connection into a reconnect
//    storm at the minimum delay.
//  - AWS IoT Core accepts at most 1 CONNECT per second per client id
//    (docs.aws.amazon.com/general/latest/gr/iot-core.html, "Connect requests
//    per second per client ID"). See NextDelay for how this is guaranteed.
#pragma once

#include <cstdint>

#include "hal/clock.h"
#include "hal/status.h"

namespace edgeforge::link {

/// AWS IoT Core: "Connect requests per second per client ID" = 1.
inline constexpr Millis kIotCoreConnectSpacing{1000};

enum class FailureKind {
  kNetwork,        // TCP/TLS failure, timeout, connection lost: transient
  kAuthorization,  // CONNACK "not authorized" / bad certificate: needs an operator, back off harder
};

struct BackoffOptions {
  Millis min{1000};            // base of the exponential (attempt 0's bound)
  Millis max{120000};          // cap of every delay, both failure kinds
  Millis stable_after{60000};  // a connection up this long resets the attempt counter
  double auth_factor = 8.0;    // authorization failures: bound = min(max, auth_factor * network bound)
  Millis auth_min{10000};      // authorization failures never retry sooner than this (clamped to max)
};

/// INVALID_ARGUMENT naming the field: min > 0, max >= min and >= 1 s (the
/// CONNECT spacing floor must not exceed the cap), stable_after > 0,
/// auth_factor finite and >= 1, 0 <= auth_min <= max.
Status ValidateBackoffOptions(const BackoffOptions& options);

/// One connection's reconnect schedule. Call sequence:
///   CONNECT fails          -> NextDelay(bits, kind), wait, CONNECT again
///   CONNACK accepted       -> OnConnected(now)
///   connection lost/closed -> OnDisconnected(now), NextDelay(bits, kNetwork), wait, CONNECT
class Backoff {
 public:
  static Result<Backoff> Create(const BackoffOptions& options);

  /// How long to wait, counted from the failure just observed, before the next
  /// CONNECT; then counts the attempt. Uniform over [floor, bound] (full jitter
  /// above a floor), `random_bits` mapped monotonically onto that range:
  ///   network bound = min(max, min * 2^attempt)
  ///   auth bound    = min(max, max(auth_min, auth_factor * network bound))
  ///   floor         = spacing floor (below), and for auth also min(auth_min, max)
  /// Spacing floor: the failure is observed after the CONNECT that preceded it,
  /// so a delay >= 1 s from the failure keeps CONNECTs >= 1 s apart. It is 0
  /// only after a disconnect of a connection that had been up >= 1 s (its
  /// CONNECT was already >= 1 s ago), so a fleet dropped together by a broker
  /// restart spreads over [0, min] instead of all reconnecting at 1 s.
  Millis NextDelay(uint64_t random_bits, FailureKind kind);
  /// The CONNACK accepted the connection at `now`.
  void OnConnected(Micros now);
  /// The connection ended at `now`: resets the attempt counter if it had been
  /// up for at least `stable_after`, else keeps counting (the storm guard).
  void OnDisconnected(Micros now);

  /// Failed attempts since the last reset (the exponent of the next bound).
  uint32_t attempt() const { return attempt_; }
  /// The upper bound NextDelay would use now for `kind` (for logs and tests).
  Millis Bound(FailureKind kind) const;
  const BackoffOptions& options() const { return options_; }

 private:
  explicit Backoff(const BackoffOptions& options) : options_(options) {}
  Millis NetworkBound() const;

  BackoffOptions options_;
  uint32_t attempt_ = 0;
  bool connected_ = false;
  Micros connected_at_{0};
  bool spacing_satisfied_ = false;  // the last CONNECT was >= kIotCoreConnectSpacing before the failure
};

}  // namespace edgeforge::link
