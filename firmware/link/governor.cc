#include "firmware/link/governor.h"

#include <algorithm>
#include <string>

namespace edgeforge::link {
namespace {

// Fixed point: one token = kScale units; a bucket refilling `rate` tokens/s
// gains exactly `rate` units per microsecond.
constexpr int64_t kScale = 1'000'000;
constexpr uint64_t kMaxRate = 1'000'000'000;
// A single message's byte cost saturates here (1 TiB) so cost * kScale fits in
// int64; no MQTT packet comes near it (MQTT's limit is 256 MiB).
constexpr uint64_t kMaxCostTokens = uint64_t{1} << 40;

int64_t Scaled(uint64_t tokens) { return static_cast<int64_t>(std::min(tokens, kMaxCostTokens)) * kScale; }

Status CheckRange(const char* field, uint64_t v) {
  if (v >= 1 && v <= kMaxRate) return Status::Ok();
  return InvalidArgument(std::string("governor options: ") + field + " must be in [1, 1000000000], got " +
                         std::to_string(v));
}

}  // namespace

Status ValidateGovernorOptions(const GovernorOptions& o) {
  EF_RETURN_IF_ERROR(CheckRange("publishes_per_s", o.publishes_per_s));
  EF_RETURN_IF_ERROR(CheckRange("bytes_per_s", o.bytes_per_s));
  EF_RETURN_IF_ERROR(CheckRange("publish_burst", o.publish_burst));
  EF_RETURN_IF_ERROR(CheckRange("byte_burst", o.byte_burst));
  return Status::Ok();
}

Result<Governor> Governor::Create(const GovernorOptions& options) {
  EF_RETURN_IF_ERROR(ValidateGovernorOptions(options));
  return Governor(options);
}

Governor::Governor(const GovernorOptions& options) : options_(options) {
  publishes_.rate = static_cast<int64_t>(options.publishes_per_s);
  publishes_.capacity = Scaled(options.publish_burst);
  publishes_.level = publishes_.capacity;
  bytes_.rate = static_cast<int64_t>(options.bytes_per_s);
  bytes_.capacity = Scaled(options.byte_burst);
  bytes_.level = bytes_.capacity;
}

int64_t Governor::LevelAt(const Bucket& b, int64_t elapsed_us) {
  if (elapsed_us <= 0 || b.level >= b.capacity) return b.level;
  // Compare against the time to fill instead of multiplying first: a long idle
  // time times the rate could overflow.
  const int64_t room = b.capacity - b.level;
  const int64_t fill_us = (room + b.rate - 1) / b.rate;
  if (elapsed_us >= fill_us) return b.capacity;
  return b.level + b.rate * elapsed_us;
}

// What the bucket must hold to admit `tokens`: all of them, or a full bucket
// for a message larger than the bucket.
int64_t Governor::Need(const Bucket& b, uint64_t tokens) { return std::min(Scaled(tokens), b.capacity); }

int64_t Governor::WaitFor(const Bucket& b, int64_t level, int64_t need) {
  if (level >= need) return 0;
  return (need - level + b.rate - 1) / b.rate;
}

void Governor::Refill(Micros now) {
  const Micros t = std::max(now, last_);
  const int64_t elapsed = (t - last_).count();
  publishes_.level = LevelAt(publishes_, elapsed);
  bytes_.level = LevelAt(bytes_, elapsed);
  last_ = t;
}

bool Governor::TryAcquire(size_t bytes, Micros now) {
  Refill(now);
  if (publishes_.level < Need(publishes_, 1) || bytes_.level < Need(bytes_, bytes)) return false;
  publishes_.level -= Scaled(1);
  bytes_.level -= Scaled(bytes);
  return true;
}

Micros Governor::NextAvailable(size_t bytes, Micros now) const {
  const Micros t = std::max(now, last_);
  const int64_t elapsed = (t - last_).count();
  const int64_t wait_publish = WaitFor(publishes_, LevelAt(publishes_, elapsed), Need(publishes_, 1));
  const int64_t wait_bytes = WaitFor(bytes_, LevelAt(bytes_, elapsed), Need(bytes_, bytes));
  return t + Micros(std::max(wait_publish, wait_bytes));
}

}  // namespace edgeforge::link
