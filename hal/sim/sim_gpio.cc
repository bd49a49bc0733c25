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

void SimGpioLine::InjectFault(const FaultSpec& fault) {
  if (direction_ == Direction::kInput) Advance();  // what already happened stays healthy
  fault_.Inject(fault);
  stuck_level_ = level_;
  if (direction_ == Direction::kOutput && (fault.kind == FaultKind::kNack || fault.kind == FaultKind::kDisconnect)) {
    model_level_ = false;  // the cut wire floats to its inactive pull
  }
}

void SimGpioLine::ClearFault() {
  fault_.Clear();
  model_level_ = level_;
}

void SimGpioLine::Advance() {
  const Micros now = clock_.Monotonic();
  while (!scheduled_.empty() && scheduled_.front().at <= now) {
    const Change c = scheduled_.front();
    scheduled_.pop_front();
    level_ = c.active;
    const FaultKind kind = fault_.armed() ? fault_.Next() : FaultKind::kNone;
    if (kind == FaultKind::kNone) {
      Record(c.active, c.at);
    } else if (kind == FaultKind::kNoise) {
      Record(c.active, c.at);
      if (fault_.Roll()) {  // contact bounce: back and forth again at the same instant
        Record(!c.active, c.at);
        Record(c.active, c.at);
      }
    }
    // Any other kind: the edge never reached the kernel, so it has no seqno.
  }
}

void SimGpioLine::Record(bool active, Micros at) {
  ++seqno_;  // the kernel numbers every edge it saw, delivered or not
  if (events_.size() >= capacity_) {
    // A full FIFO loses its oldest event, not the new one (gpiolib-cdev.c
    // linereq_put_event: kfifo_skip, then kfifo_in), so the reader sees the
    // gap before the most recent edges.
    events_.pop_front();
    ++dropped_;
  }
  events_.push_back({active ? GpioEdge::kRising : GpioEdge::kFalling, at, seqno_});
}

bool SimGpioLine::FaultedLevel() {
  switch (fault_.kind()) {
    case FaultKind::kNack:
    case FaultKind::kDisconnect:
      return false;
    case FaultKind::kStuck:
      return stuck_level_;
    case FaultKind::kNoise:
      return fault_.Roll() ? !level_ : level_;
    default:
      return level_;
  }
}

Result<bool> SimGpioLine::DoGet() {
  if (direction_ == Direction::kOutput) return level_;
  Advance();
  return fault_.armed() ? FaultedLevel() : level_;
}

Status SimGpioLine::DoSet(bool active) {
  if (direction_ != Direction::kOutput) return FailedPrecondition("gpio: line is an input");
  level_ = active;
  switch (fault_.armed() ? fault_.Next() : FaultKind::kNone) {
    case FaultKind::kNone:
      model_level_ = active;
      break;
    case FaultKind::kNack:
    case FaultKind::kDisconnect:
      model_level_ = false;
      break;
    case FaultKind::kNoise:
      model_level_ = fault_.Roll() ? !active : active;
      break;
    default:  // kTimeout, kStuck: the new level never arrives
      break;
  }
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
