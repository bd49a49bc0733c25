#include "hal/linux/termios_uart.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <system_error>

#include "hal/linux/fs.h"
#include "hal/linux/poll.h"

namespace edgeforge {
namespace {

using linux_poll::DeadlineAfter;
using linux_poll::PollUntil;
using SteadyClock = linux_poll::SteadyClock;

// errno values a tty returns once its far end is gone: EIO after a hang-up
// (tty_hung_up_p; a pty whose master closed), ENODEV/ENXIO for a removed device.
bool IsHangup(int err) { return err == EIO || err == ENODEV || err == ENXIO; }

}  // namespace

Result<speed_t> BaudToSpeed(int baud) {
  switch (baud) {
    case 1200:
      return speed_t{B1200};
    case 1800:
      return speed_t{B1800};
    case 2400:
      return speed_t{B2400};
    case 4800:
      return speed_t{B4800};
    case 9600:
      return speed_t{B9600};
    case 19200:
      return speed_t{B19200};
    case 38400:
      return speed_t{B38400};
    case 57600:
      return speed_t{B57600};
    case 115200:
      return speed_t{B115200};
    case 230400:
      return speed_t{B230400};
    case 460800:
      return speed_t{B460800};
    case 500000:
      return speed_t{B500000};
    case 576000:
      return speed_t{B576000};
    case 921600:
      return speed_t{B921600};
    default:
      return InvalidArgument("uart baud rate " + std::to_string(baud) +
                             " is not a standard rate (1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600, "
                             "115200, 230400, 460800, 500000, 576000, 921600)");
  }
}

void MakeRaw8N1(termios& t, speed_t speed) {
  cfmakeraw(&t);  // also sets CS8 and clears PARENB
  t.c_cflag |= CLOCAL | CREAD;
  t.c_cflag &= ~static_cast<tcflag_t>(CSTOPB | PARENB | CRTSCTS);
  t.c_iflag &= ~static_cast<tcflag_t>(IXON | IXOFF | IXANY);
  t.c_cc[VMIN] = 0;
  t.c_cc[VTIME] = 0;
  cfsetispeed(&t, speed);
  cfsetospeed(&t, speed);
}

Result<std::unique_ptr<LinuxUart>> LinuxUart::Open(const std::string& path, int baud) {
  Result<speed_t> speed = BaudToSpeed(baud);
  if (!speed.ok()) return speed.status().WithContext(path);
  const int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return fs::ErrnoStatus(errno, path);
  std::unique_ptr<LinuxUart> uart(new LinuxUart(fd, path));  // owns fd from here
  termios t{};
  if (::tcgetattr(fd, &t) != 0) return fs::ErrnoStatus(errno, path + ": not a tty (tcgetattr)");
  MakeRaw8N1(t, *speed);
  if (::tcsetattr(fd, TCSANOW, &t) != 0) return fs::ErrnoStatus(errno, path + ": tcsetattr");
  // tcsetattr succeeds if any change was applied (termios(3)); check the rate stuck.
  termios applied{};
  if (::tcgetattr(fd, &applied) != 0) return fs::ErrnoStatus(errno, path + ": tcgetattr");
  if (cfgetospeed(&applied) != *speed || cfgetispeed(&applied) != *speed) {
    return FailedPrecondition(path + ": the driver did not accept " + std::to_string(baud) + " baud");
  }
  if (::tcflush(fd, TCIFLUSH) != 0) return fs::ErrnoStatus(errno, path + ": tcflush");
  return uart;
}

LinuxUart::~LinuxUart() { ::close(fd_); }

Status LinuxUart::DoWrite(ConstBytes data, Millis timeout) {
  const auto deadline = DeadlineAfter(timeout);
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n >= 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (IsHangup(err)) return Unavailable(path_ + ": hang-up while writing: " + std::generic_category().message(err));
    if (err != EAGAIN) return fs::ErrnoStatus(err, path_ + ": write");
    Result<short> ready = PollUntil(fd_, POLLOUT, deadline);
    if (!ready.ok()) return ready.status().WithContext(path_);
    if (*ready == 0) {
      return DeadlineExceeded(path_ + ": wrote " + std::to_string(done) + " of " + std::to_string(data.size()) +
                              " bytes in " + std::to_string(timeout.count()) + " ms (output buffer full)");
    }
    if ((*ready & POLLOUT) == 0) return Unavailable(path_ + ": hang-up while writing");
  }
  return Status::Ok();
}

Result<size_t> LinuxUart::DoRead(MutBytes out, Millis timeout) {
  if (out.empty()) return size_t{0};
  const auto deadline = DeadlineAfter(timeout);
  for (;;) {
    Result<short> ready = PollUntil(fd_, POLLIN, deadline);
    if (!ready.ok()) return ready.status().WithContext(path_);
    if (*ready == 0) return size_t{0};
    // Read even when POLLHUP is set: bytes that arrived before the hang-up are delivered first.
    const ssize_t n = ::read(fd_, out.data(), out.size());
    if (n > 0) return static_cast<size_t>(n);
    const int err = n < 0 ? errno : 0;
    if (err == EINTR) continue;
    if (IsHangup(err) || (*ready & (POLLHUP | POLLERR)) != 0) {
      return Unavailable(path_ + ": hang-up (the port or its far end is gone)");
    }
    if (n < 0 && err != EAGAIN) return fs::ErrnoStatus(err, path_ + ": read");
    // Readable yet empty (another reader took the bytes). With VMIN = VTIME = 0
    // an empty read is 0, not EAGAIN, so waiting again could spin: report none.
    return size_t{0};
  }
}

}  // namespace edgeforge
