// GPIO line on the Linux GPIO character device, uAPI v2 (linux/gpio.h, kernel
// >= 5.10; Documentation/userspace-api/gpio/chardev.rst). No libgpiod: one
// line request per line, edge events read from the request's file descriptor.
#pragma once

#include <linux/gpio.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "hal/clock.h"
#include "hal/gpio.h"
#include "hal/status.h"

namespace edgeforge {

/// Bias of an input line (GPIO_V2_LINE_FLAG_BIAS_*). Needs chip support; a
/// chip without it fails the request (EOPNOTSUPP -> UNIMPLEMENTED).
enum class GpioBias : uint8_t {
  kAsIs,      // no bias flag: keep what firmware / device tree configured
  kDisabled,  // GPIO_V2_LINE_FLAG_BIAS_DISABLED: floating
  kPullUp,    // GPIO_V2_LINE_FLAG_BIAS_PULL_UP
  kPullDown,  // GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN
};

/// A request for one input line with both-edge detection and the default
/// event clock (CLOCK_MONOTONIC: no EVENT_CLOCK_* flag), every unused field
/// zero as the uAPI requires. `event_buffer_size` 0 means the kernel default
/// of 16 events per line; larger values are capped at 1024 (GPIO_V2_LINES_MAX
/// * 16, gpiolib-cdev.c linereq_create). When the buffer is full the kernel
/// drops the oldest event, which shows as a line_seqno gap.
/// INVALID_ARGUMENT if `consumer` does not fit GPIO_MAX_NAME_SIZE with its NUL.
Result<gpio_v2_line_request> BuildInputRequest(uint32_t offset, const std::string& consumer, bool active_low,
                                               GpioBias bias, uint32_t event_buffer_size);

/// A request for one output line driven to logical `initial` from the
/// moment it is granted (a GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES attribute), so
/// the pin never glitches to a default level first.
Result<gpio_v2_line_request> BuildOutputRequest(uint32_t offset, const std::string& consumer, bool active_low,
                                                bool initial);

/// A kernel edge event as a GpioEvent: GPIO_V2_LINE_EVENT_RISING_EDGE is
/// inactive -> active (already corrected for active-low by the kernel),
/// timestamp_ns truncated to microseconds, line_seqno kept. DATA_LOSS on an
/// unknown event id.
Result<GpioEvent> ConvertEvent(const gpio_v2_line_event& event);

class LinuxGpioLine final : public GpioLine {
 public:
  /// Requests `offset` of `chip_path` (e.g. "/dev/gpiochip0") as an input
  /// reporting rising and falling edges. NOT_FOUND / PERMISSION_DENIED name
  /// the path; a file that is not a GPIO chip (or a kernel without the v2
  /// uAPI) is FAILED_PRECONDITION; a line held by another consumer is UNAVAILABLE.
  static Result<std::unique_ptr<LinuxGpioLine>> OpenInput(const std::string& chip_path, uint32_t offset,
                                                          const std::string& consumer, bool active_low, GpioBias bias,
                                                          uint32_t event_buffer_size = 0);
  /// Requests `offset` as an output at logical level `initial`.
  static Result<std::unique_ptr<LinuxGpioLine>> OpenOutput(const std::string& chip_path, uint32_t offset,
                                                           const std::string& consumer, bool active_low, bool initial);

  ~LinuxGpioLine() override;
  LinuxGpioLine(const LinuxGpioLine&) = delete;
  LinuxGpioLine& operator=(const LinuxGpioLine&) = delete;

  /// "/dev/gpiochip0 line 17", as used in error messages.
  const std::string& name() const { return name_; }

 private:
  LinuxGpioLine(int fd, std::string name, bool output) : fd_(fd), name_(std::move(name)), output_(output) {}
  static Result<std::unique_ptr<LinuxGpioLine>> Request(const std::string& chip_path, gpio_v2_line_request request,
                                                        bool output);
  Result<bool> DoGet() override;
  Status DoSet(bool active) override;
  /// FAILED_PRECONDITION on an output line (no edge detection). When the
  /// kernel buffer overflowed, the oldest events are gone and line_seqno jumps.
  Result<size_t> DoReadEvents(Span<GpioEvent> out, Millis timeout) override;

  int fd_;  // the line request fd (the chip fd is closed once the line is granted)
  std::string name_;
  bool output_;
};

}  // namespace edgeforge
