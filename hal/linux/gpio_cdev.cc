#include "hal/linux/gpio_cdev.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>

#include "hal/linux/fs.h"
#include "hal/linux/poll.h"

namespace edgeforge {
namespace {

// One read() takes at most this many events (768 bytes on the stack); the
// kernel's default buffer per line is 16.
constexpr size_t kReadBatch = 16;

Result<short> PollOne(int fd, short events, Millis timeout) {
  return linux_poll::PollUntil(fd, events, linux_poll::DeadlineAfter(timeout));
}

Result<gpio_v2_line_request> BaseRequest(uint32_t offset, const std::string& consumer) {
  gpio_v2_line_request req;
  std::memset(&req, 0, sizeof req);
  if (consumer.size() >= sizeof req.consumer) {
    return InvalidArgument("gpio consumer label '" + consumer + "' is longer than " +
                           std::to_string(sizeof req.consumer - 1) + " characters");
  }
  std::memcpy(req.consumer, consumer.data(), consumer.size());
  req.offsets[0] = offset;
  req.num_lines = 1;
  return req;
}

__u64 BiasFlag(GpioBias bias) {
  switch (bias) {
    case GpioBias::kAsIs:
      return 0;
    case GpioBias::kDisabled:
      return GPIO_V2_LINE_FLAG_BIAS_DISABLED;
    case GpioBias::kPullUp:
      return GPIO_V2_LINE_FLAG_BIAS_PULL_UP;
    case GpioBias::kPullDown:
      return GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN;
  }
  return 0;
}

std::string LineName(const std::string& chip_path, uint32_t offset) {
  return chip_path + " line " + std::to_string(offset);
}

Status RequestError(int err, const std::string& chip_path, uint32_t offset) {
  const std::string line = LineName(chip_path, offset);
  if (fs::IsWrongKindOfFile(err)) {
    return fs::WrongKindOfFile(err, chip_path +
                                        ": not a GPIO character device, or a kernel without the v2 uAPI "
                                        "(GPIO_V2_GET_LINE_IOCTL, Linux >= 5.10)");
  }
  switch (err) {
    case EBUSY:
      return fs::ErrnoStatus(err, line + ": in use by another consumer");
    case EINVAL:
      return fs::ErrnoStatus(err, line + ": offset out of range or configuration refused");
    case EOPNOTSUPP:
      return fs::ErrnoStatus(err, line + ": the chip does not support the requested bias/edges");
    default:
      return fs::ErrnoStatus(err, line + ": GPIO_V2_GET_LINE_IOCTL");
  }
}

}  // namespace

Result<gpio_v2_line_request> BuildInputRequest(uint32_t offset, const std::string& consumer, bool active_low,
                                               GpioBias bias, uint32_t event_buffer_size) {
  Result<gpio_v2_line_request> req = BaseRequest(offset, consumer);
  if (!req.ok()) return req;
  req->config.flags = GPIO_V2_LINE_FLAG_INPUT | GPIO_V2_LINE_FLAG_EDGE_RISING | GPIO_V2_LINE_FLAG_EDGE_FALLING |
                      BiasFlag(bias) | (active_low ? GPIO_V2_LINE_FLAG_ACTIVE_LOW : 0);
  req->event_buffer_size = event_buffer_size;
  return req;
}

Result<gpio_v2_line_request> BuildOutputRequest(uint32_t offset, const std::string& consumer, bool active_low,
                                                bool initial) {
  Result<gpio_v2_line_request> req = BaseRequest(offset, consumer);
  if (!req.ok()) return req;
  req->config.flags = GPIO_V2_LINE_FLAG_OUTPUT | (active_low ? GPIO_V2_LINE_FLAG_ACTIVE_LOW : 0);
  req->config.num_attrs = 1;
  gpio_v2_line_config_attribute& attr = req->config.attrs[0];
  attr.attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES;
  attr.attr.values = initial ? 1 : 0;  // bit i = line offsets[i]
  attr.mask = 1;
  return req;
}

Result<GpioEvent> ConvertEvent(const gpio_v2_line_event& event) {
  GpioEvent out;
  switch (event.id) {
    case GPIO_V2_LINE_EVENT_RISING_EDGE:
      out.edge = GpioEdge::kRising;
      break;
    case GPIO_V2_LINE_EVENT_FALLING_EDGE:
      out.edge = GpioEdge::kFalling;
      break;
    default:
      return DataLoss("gpio line " + std::to_string(event.offset) + ": unknown event id " + std::to_string(event.id));
  }
  out.timestamp = Micros(static_cast<int64_t>(event.timestamp_ns / 1000));
  out.line_seqno = event.line_seqno;
  return out;
}

Result<std::unique_ptr<LinuxGpioLine>> LinuxGpioLine::OpenInput(const std::string& chip_path, uint32_t offset,
                                                                const std::string& consumer, bool active_low,
                                                                GpioBias bias, uint32_t event_buffer_size) {
  Result<gpio_v2_line_request> req = BuildInputRequest(offset, consumer, active_low, bias, event_buffer_size);
  if (!req.ok()) return req.status().WithContext(LineName(chip_path, offset));
  return Request(chip_path, *req, /*output=*/false);
}

Result<std::unique_ptr<LinuxGpioLine>> LinuxGpioLine::OpenOutput(const std::string& chip_path, uint32_t offset,
                                                                 const std::string& consumer, bool active_low,
                                                                 bool initial) {
  Result<gpio_v2_line_request> req = BuildOutputRequest(offset, consumer, active_low, initial);
  if (!req.ok()) return req.status().WithContext(LineName(chip_path, offset));
  return Request(chip_path, *req, /*output=*/true);
}

Result<std::unique_ptr<LinuxGpioLine>> LinuxGpioLine::Request(const std::string& chip_path,
                                                              gpio_v2_line_request request, bool output) {
  const uint32_t offset = request.offsets[0];
  const int chip = ::open(chip_path.c_str(), O_RDWR | O_CLOEXEC);
  if (chip < 0) return fs::ErrnoStatus(errno, chip_path);
  const int rc = ::ioctl(chip, GPIO_V2_GET_LINE_IOCTL, &request);
  const int err = errno;
  ::close(chip);  // the granted line keeps its own fd (O_CLOEXEC, gpiolib-cdev.c linereq_create)
  if (rc != 0) return RequestError(err, chip_path, offset);
  if (request.fd <= 0) return Internal(LineName(chip_path, offset) + ": kernel granted no line fd");
  std::unique_ptr<LinuxGpioLine> line(new LinuxGpioLine(request.fd, LineName(chip_path, offset), output));
  // Non-blocking reads let DoReadEvents drain the buffer without a second poll.
  const int flags = ::fcntl(request.fd, F_GETFL);
  if (flags < 0 || ::fcntl(request.fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return fs::ErrnoStatus(errno, line->name_ + ": fcntl O_NONBLOCK");
  }
  return line;
}

LinuxGpioLine::~LinuxGpioLine() { ::close(fd_); }

Result<bool> LinuxGpioLine::DoGet() {
  gpio_v2_line_values values{0, 1};
  if (::ioctl(fd_, GPIO_V2_LINE_GET_VALUES_IOCTL, &values) != 0) {
    return fs::ErrnoStatus(errno, name_ + ": GPIO_V2_LINE_GET_VALUES_IOCTL");
  }
  return (values.bits & 1) != 0;
}

Status LinuxGpioLine::DoSet(bool active) {
  if (!output_) return FailedPrecondition(name_ + ": Set on an input line");
  gpio_v2_line_values values{active ? 1u : 0u, 1};
  if (::ioctl(fd_, GPIO_V2_LINE_SET_VALUES_IOCTL, &values) != 0) {
    return fs::ErrnoStatus(errno, name_ + ": GPIO_V2_LINE_SET_VALUES_IOCTL");
  }
  return Status::Ok();
}

Result<size_t> LinuxGpioLine::DoReadEvents(Span<GpioEvent> out, Millis timeout) {
  if (output_) return FailedPrecondition(name_ + ": ReadEvents on an output line (no edge detection)");
  if (out.empty()) return size_t{0};
  Result<short> ready = PollOne(fd_, POLLIN, timeout);
  if (!ready.ok()) return ready.status().WithContext(name_);
  if (*ready == 0) return size_t{0};
  if ((*ready & POLLIN) == 0) return Unavailable(name_ + ": line fd reported an error or hang-up");
  size_t copied = 0;
  gpio_v2_line_event batch[kReadBatch];
  while (copied < out.size()) {
    const size_t want = std::min(out.size() - copied, kReadBatch);
    const ssize_t n = ::read(fd_, batch, want * sizeof batch[0]);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0) return fs::ErrnoStatus(errno, name_ + ": read events");
    if (static_cast<size_t>(n) % sizeof batch[0] != 0) {
      return DataLoss(name_ + ": read " + std::to_string(n) + " bytes, not a whole number of events");
    }
    const size_t got = static_cast<size_t>(n) / sizeof batch[0];
    for (size_t i = 0; i < got; ++i) {
      Result<GpioEvent> ev = ConvertEvent(batch[i]);
      if (!ev.ok()) return ev.status().WithContext(name_);
      out[copied++] = *ev;
    }
    if (got < want) break;  // the buffer is empty
  }
  return copied;
}

}  // namespace edgeforge
