// UART on a Linux tty node (/dev/ttyS0, /dev/ttyAMA0, /dev/ttyUSB0...) via
// termios(3): raw 8N1, no flow control, non-blocking fd driven by poll(2).
#pragma once

#include <termios.h>

#include <memory>
#include <string>
#include <utility>

#include "hal/bytes.h"
#include "hal/clock.h"
#include "hal/status.h"
#include "hal/uart.h"

namespace edgeforge {

/// The termios speed constant for `baud`: the standard rates 1200..921600
/// that Linux defines as Bxxx (1200, 1800, 2400, 4800, 9600, 19200, 38400,
/// 57600, 115200, 230400, 460800, 500000, 576000, 921600). Anything else is
/// INVALID_ARGUMENT naming the rate.
Result<speed_t> BaudToSpeed(int baud);

/// `t` made raw 8N1 at `speed` (termios(3) cfmakeraw: no echo, no canonical
/// mode, no signals, no CR/NL translation, no output processing), with
/// CLOCAL (ignore modem control lines) | CREAD, one stop bit, no parity, and
/// neither hardware (CRTSCTS) nor software (IXON/IXOFF/IXANY) flow control.
/// VMIN = VTIME = 0: reads never block (waiting is poll's job).
void MakeRaw8N1(termios& t, speed_t speed);

class LinuxUart final : public Uart {
 public:
  /// Opens `path` O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, applies
  /// MakeRaw8N1 and discards input received before (at an unknown rate).
  /// INVALID_ARGUMENT for a non-standard baud (before touching the port);
  /// NOT_FOUND / PERMISSION_DENIED name the path; a file that is not a tty is
  /// FAILED_PRECONDITION.
  static Result<std::unique_ptr<LinuxUart>> Open(const std::string& path, int baud);

  ~LinuxUart() override;
  LinuxUart(const LinuxUart&) = delete;
  LinuxUart& operator=(const LinuxUart&) = delete;

  const std::string& path() const { return path_; }

 private:
  LinuxUart(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  /// Done when the kernel has taken every byte into the tty's output buffer,
  /// not when they have left the wire. DEADLINE_EXCEEDED (saying how many
  /// were taken) if the buffer stays full past `timeout`; UNAVAILABLE on hang-up.
  Status DoWrite(ConstBytes data, Millis timeout) override;
  /// UNAVAILABLE on hang-up (POLLHUP, EIO: the other end of a pty closed, a
  /// USB adapter was unplugged), even when nothing was read yet.
  Result<size_t> DoRead(MutBytes out, Millis timeout) override;

  int fd_;
  std::string path_;
};

}  // namespace edgeforge
