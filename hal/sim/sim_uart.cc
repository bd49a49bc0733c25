#include "hal/sim/sim_uart.h"

#include <algorithm>
#include <cstddef>
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

void SimUart::InjectFault(const FaultSpec& fault) {
  Advance();  // bytes that already arrived were received healthy
  fault_.Inject(fault);
  stuck_chunk_.clear();
}

void SimUart::ClearFault() {
  fault_.Clear();
  stuck_chunk_.clear();
}

void SimUart::Advance(bool lost) {
  const Micros now = clock_.Monotonic();
  while (!scheduled_.empty() && scheduled_.front().at <= now) {
    if (lost) {
      // Nothing arrived at the host: no overrun either.
    } else if (rx_.size() >= capacity_) {
      ++overrun_;
    } else {
      rx_.push_back(scheduled_.front().byte);
    }
    scheduled_.pop_front();
  }
}

size_t SimUart::Take(MutBytes out) {
  size_t n = 0;
  while (n < out.size() && !rx_.empty()) {
    out[n++] = rx_.front();
    rx_.pop_front();
  }
  return n;
}

Status SimUart::DoWrite(ConstBytes data, Millis timeout) {
  const FaultKind kind = fault_.armed() ? fault_.Next() : FaultKind::kNone;
  switch (kind) {
    case FaultKind::kNack:
    case FaultKind::kDisconnect:
      return Status::Ok();  // the bytes go out on a cut line
    case FaultKind::kTimeout:
      return DeadlineExceeded("uart: " + std::to_string(data.size()) + " bytes not sent within " +
                              std::to_string(timeout.count()) + " ms (injected timeout)");
    default:
      break;
  }
  if (peripheral_ != nullptr) peripheral_->HostWrote(data);
  return Status::Ok();  // nothing attached: the bytes go out on an open line
}

Result<size_t> SimUart::DoRead(MutBytes out, Millis /*timeout*/) {
  // Never blocks (the simulator drives time); the timeout is accepted and ignored.
  if (fault_.armed()) return FaultedRead(fault_.Next(), out);
  Advance();
  return Take(out);
}

Result<size_t> SimUart::FaultedRead(FaultKind kind, MutBytes out) {
  switch (kind) {
    case FaultKind::kNack:
    case FaultKind::kDisconnect:
      Advance(/*lost=*/true);
      return Take(out);  // what the host had buffered before the cut
    case FaultKind::kTimeout:
      return size_t{0};  // arriving bytes wait for the stall to end
    case FaultKind::kStuck: {
      if (stuck_chunk_.empty()) {
        Advance();
        const size_t n = Take(out);
        stuck_chunk_.assign(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
        return n;
      }
      Advance(/*lost=*/true);
      const size_t n = std::min(out.size(), stuck_chunk_.size());
      std::copy(stuck_chunk_.begin(), stuck_chunk_.begin() + static_cast<std::ptrdiff_t>(n), out.begin());
      return n;
    }
    case FaultKind::kNoise: {
      Advance();
      const size_t n = Take(out);
      fault_.AddNoise(out.subspan(0, n));
      return n;
    }
    default:
      Advance();
      return Take(out);
  }
}

}  // namespace edgeforge
