// Simulated UART: a model schedules bytes that arrive at instants of the
// device's clock; the firmware reads them once the clock has reached them.
// What the firmware writes goes to the attached model (commands to a sensor).
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "hal/bytes.h"
#include "hal/clock.h"
#include "hal/sim/fault.h"
#include "hal/status.h"
#include "hal/uart.h"

namespace edgeforge {

/// The far end of a simulated UART (a sensor's serial port).
class UartPeripheral {
 public:
  virtual ~UartPeripheral();
  /// Bytes the firmware wrote, delivered as written.
  void HostWrote(ConstBytes data) { OnHostWrite(data); }

 private:
  virtual void OnHostWrite(ConstBytes data) = 0;
};

class SimUart final : public Uart {
 public:
  /// `rx_buffer` bounds the received-but-unread bytes (a tty's buffer is
  /// 4 KiB); bytes that find it full are lost and counted as overrun.
  explicit SimUart(const Clock& clock, size_t rx_buffer = 4096);

  /// Model side: the far end. Borrowed; must outlive the attachment.
  void Attach(UartPeripheral* peripheral) { peripheral_ = peripheral; }
  /// Model side: `data` arrives at the host at monotonic instant `at`.
  /// INVALID_ARGUMENT if `at` is earlier than previously fed bytes.
  Status Feed(ConstBytes data, Micros at);
  /// Bytes lost to a full receive buffer.
  uint64_t overrun_bytes() const { return overrun_; }

  /// Makes the port misbehave as `fault` says (hal/sim/fault.h; one Read or
  /// Write is one transaction). Bytes that arrived before the call are not
  /// affected.
  void InjectFault(const FaultSpec& fault);
  void ClearFault();
  /// Reads and writes the fault hit since it was injected.
  uint64_t faults_hit() const { return fault_.hits(); }

 private:
  struct Pending {
    uint8_t byte;
    Micros at;
  };
  Status DoWrite(ConstBytes data, Millis timeout) override;
  Result<size_t> DoRead(MutBytes out, Millis timeout) override;
  /// Moves bytes whose time has come into the receive buffer (or, with
  /// `lost`, drops them: they arrived while the line was cut).
  void Advance(bool lost = false);
  size_t Take(MutBytes out);
  Result<size_t> FaultedRead(FaultKind kind, MutBytes out);

  const Clock& clock_;
  size_t capacity_;
  UartPeripheral* peripheral_ = nullptr;
  std::deque<Pending> scheduled_;
  std::deque<uint8_t> rx_;
  Micros last_at_{0};
  uint64_t overrun_ = 0;
  FaultInjector fault_;
  std::vector<uint8_t> stuck_chunk_;  // kStuck: the chunk that repeats (empty: not yet caught)
};

}  // namespace edgeforge
