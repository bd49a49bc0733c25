#include "hal/sim/sim_gpio.h"

#include <string>

namespace edgeforge {

SimGpioLine::SimGpioLine(const Clock& clock, Direction direction, size_t event_buffer)
    : clock_(clock), direction_(direction), capacity_(event_buffer == 0 ? 1 : event_buffer) {}

Status SimGpioLine::Drive(bool active, Micros at) {
  if (direction_ != Direction::kInput) return FailedPrecondition("gpio: a model cannot drive an output line");
  if (at < last_at_) {
    return InvalidArgument("gpio: change at " + std::to_string(at.count()) + " us is before the previous one at " +
                           std::to_string(last_at_.count()) + " us");
  }
  last_at_ = at;
  if (active == last_scheduled_) return Status::Ok();
  last_scheduled_ = active;
  scheduled_.push_back({active, at});
  return Status::Ok();
}

void SimGpioLine::Advance() {
  const Micros now = clock_.Monotonic();
  while (!scheduled_.empty() && scheduled_.front().at <= now) {
    const Change c = scheduled_.front();
    scheduled_.pop_front();
    level_ = c.active;
    ++seqno_;  // the kernel numbers every edge it saw, delivered or not
    if (events_.size() >= capacity_) {
      ++dropped_;
      continue;
    }
    events_.push_back({c.active ? GpioEdge::kRising : GpioEdge::kFalling, c.at, seqno_});
  }
}

Result<bool> SimGpioLine::DoGet() {
  Advance();
  return level_;
}

Status SimGpioLine::DoSet(bool active) {
  if (direction_ != Direction::kOutput) return FailedPrecondition("gpio: line is an input");
  level_ = active;
  return Status::Ok();
}

Result<size_t> SimGpioLine::DoReadEvents(Span<GpioEvent> out, Millis /*timeout*/) {
  // Never blocks: the simulator drives time, so waiting could not make an
  // edge appear. The timeout is accepted and ignored.
  if (direction_ != Direction::kInput) return FailedPrecondition("gpio: line is an output (no edge events)");
  Advance();
  size_t n = 0;
  while (n < out.size() && !events_.empty()) {
    out[n++] = events_.front();
    events_.pop_front();
  }
  return n;
}

}  // namespace edgeforge
