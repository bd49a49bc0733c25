#include "firmware/link/backoff.h"

#include <cmath>
#include <limits>
#include <string>

namespace edgeforge::link {
namespace {

Status BadOption(const std::string& field, const std::string& why) {
  return InvalidArgument("backoff options: " + field + " " + why);
}

std::string Ms(Millis d) { return std::to_string(d.count()) + " ms"; }

// Maps 64 random bits monotonically onto [lo, hi]: the top 53 bits as a
// fraction in [0, 1), so equal bits give equal draws and more bits never give
// a shorter delay (auth vs network comparisons stay meaningful).
Millis Draw(uint64_t random_bits, Millis lo, Millis hi) {
  if (hi <= lo) return lo;
  const double u = static_cast<double>(random_bits >> 11) * 0x1.0p-53;
  const double span = static_cast<double>(hi.count() - lo.count() + 1);
  const auto offset = static_cast<int64_t>(u * span);
  const Millis d = lo + Millis(offset);
  return d > hi ? hi : d;
}

}  // namespace

Status ValidateBackoffOptions(const BackoffOptions& o) {
  if (o.min.count() <= 0) return BadOption("min", "must be > 0, got " + Ms(o.min));
  if (o.max < o.min) return BadOption("max", "must be >= min (" + Ms(o.min) + "), got " + Ms(o.max));
  if (o.max < kIotCoreConnectSpacing) {
    return BadOption("max", "must be >= " + Ms(kIotCoreConnectSpacing) +
                                " (IoT Core: 1 CONNECT per second per client id), got " + Ms(o.max));
  }
  if (o.stable_after.count() <= 0) {
    return BadOption("stable_after", "must be > 0 (0 resets on CONNACK: reconnect storm), got " + Ms(o.stable_after));
  }
  if (!std::isfinite(o.auth_factor) || o.auth_factor < 1.0) {
    return BadOption("auth_factor", "must be finite and >= 1, got " + std::to_string(o.auth_factor));
  }
  if (o.auth_min.count() < 0 || o.auth_min > o.max) {
    return BadOption("auth_min", "must be in [0, max (" + Ms(o.max) + ")], got " + Ms(o.auth_min));
  }
  return Status::Ok();
}

Result<Backoff> Backoff::Create(const BackoffOptions& options) {
  EF_RETURN_IF_ERROR(ValidateBackoffOptions(options));
  return Backoff(options);
}

Millis Backoff::NetworkBound() const {
  const int64_t base = options_.min.count();
  const int64_t cap = options_.max.count();
  // min * 2^attempt, saturating at max without overflowing the shift.
  if (attempt_ >= 62 || base > (cap >> attempt_)) return options_.max;
  return Millis(base << attempt_);
}

Millis Backoff::Bound(FailureKind kind) const {
  const Millis network = NetworkBound();
  if (kind == FailureKind::kNetwork) return network;
  const double harder = options_.auth_factor * static_cast<double>(network.count());
  const Millis scaled =
      harder >= static_cast<double>(options_.max.count()) ? options_.max : Millis(static_cast<int64_t>(harder));
  return scaled < options_.auth_min ? options_.auth_min : scaled;
}

Millis Backoff::NextDelay(uint64_t random_bits, FailureKind kind) {
  Millis floor = spacing_satisfied_ ? Millis(0) : kIotCoreConnectSpacing;
  if (kind == FailureKind::kAuthorization && options_.auth_min > floor) floor = options_.auth_min;
  const Millis delay = Draw(random_bits, floor, Bound(kind));
  // The next failure follows the CONNECT this delay schedules.
  spacing_satisfied_ = false;
  if (attempt_ < std::numeric_limits<uint32_t>::max()) ++attempt_;
  return delay;
}

void Backoff::OnConnected(Micros now) {
  connected_ = true;
  connected_at_ = now;
}

void Backoff::OnDisconnected(Micros now) {
  if (!connected_) return;
  connected_ = false;
  const Micros up = now - connected_at_;
  // The CONNECT preceded the CONNACK, so it is at least `up` old.
  spacing_satisfied_ = up >= kIotCoreConnectSpacing;
  if (up >= options_.stable_after) attempt_ = 0;
}

}  // namespace edgeforge::link
