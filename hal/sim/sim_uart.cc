#include "hal/sim/sim_uart.h"

#include <string>

namespace edgeforge {

UartPeripheral::~UartPeripheral() = default;

SimUart::SimUart(const Clock& clock, size_t rx_buffer) : clock_(clock), capacity_(rx_buffer == 0 ? 1 : rx_buffer) {}

Status SimUart::Feed(ConstBytes data, Micros at) {
  if (at < last_at_) {
    return InvalidArgument("uart: bytes at " + std::to_string(at.count()) + " us are before earlier ones at " +
                           std::to_string(last_at_.count()) + " us");
  }
  last_at_ = at;
  for (uint8_t b : data) scheduled_.push_back({b, at});
  return Status::Ok();
}

void SimUart::Advance() {
  const Micros now = clock_.Monotonic();
  while (!scheduled_.empty() && scheduled_.front().at <= now) {
    if (rx_.size() >= capacity_) {
      ++overrun_;
    } else {
      rx_.push_back(scheduled_.front().byte);
    }
    scheduled_.pop_front();
  }
}

Status SimUart::DoWrite(ConstBytes data, Millis /*timeout*/) {
  if (peripheral_ != nullptr) peripheral_->HostWrote(data);
  return Status::Ok();  // nothing attached: the bytes go out on an open line
}

Result<size_t> SimUart::DoRead(MutBytes out, Millis /*timeout*/) {
  // Never blocks (the simulator drives time); the timeout is accepted and ignored.
  Advance();
  size_t n = 0;
  while (n < out.size() && !rx_.empty()) {
    out[n++] = rx_.front();
    rx_.pop_front();
  }
  return n;
}

}  // namespace edgeforge
