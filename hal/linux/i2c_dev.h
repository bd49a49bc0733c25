// I2C bus on Linux i2c-dev (/dev/i2c-N), kernel Documentation/i2c/dev-interface.rst.
// One WriteRead is one I2C_RDWR ioctl: a write message and a read message
// joined by a repeated start, so no other master or process can slip a
// transaction between the register address and the data.
#pragma once

#include <linux/i2c.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "hal/bytes.h"
#include "hal/clock.h"
#include "hal/i2c.h"
#include "hal/status.h"

namespace edgeforge {

/// drivers/i2c/i2c-dev.c (i2cdev_ioctl_rdwr) rejects a message longer than this with EINVAL.
inline constexpr size_t kI2cDevMaxMessageLength = 8192;

/// INVALID_ARGUMENT unless `address` is 7-bit and both lengths fit one i2c-dev message.
Status CheckI2cTransfer(uint8_t address, size_t tx_size, size_t rx_size);

/// Fills `out` for I2C_RDWR (dev-interface.rst, "Full interface description"):
/// a write of `tx` (flags 0) if tx is non-empty, then a read into `rx`
/// (I2C_M_RD) if rx is non-empty; both empty gives one zero-length write (an
/// address probe, "SMBus quick write"; adapters flagged I2C_AQ_NO_ZERO_LEN
/// refuse it). Returns the message count (1 or 2). Assumes CheckI2cTransfer
/// passed. `tx` is only read: i2c-dev copies write buffers, never writes them.
size_t BuildI2cMessages(uint8_t address, ConstBytes tx, MutBytes rx, i2c_msg out[2]);

/// The I2C_TIMEOUT argument for `timeout`: units of 10 ms (i2c-dev.c), rounded
/// up, at least 1 (a zero adapter timeout would fail every transfer at once).
unsigned long I2cTimeoutUnits(Millis timeout);

class LinuxI2cBus final : public I2cBus {
 public:
  /// Opens `path` (e.g. "/dev/i2c-1") and checks with I2C_FUNCS that the
  /// adapter does plain I2C (I2C_RDWR); an SMBus-only adapter is UNIMPLEMENTED.
  /// NOT_FOUND / PERMISSION_DENIED name the path; a file that is not an
  /// i2c-dev node is FAILED_PRECONDITION.
  static Result<std::unique_ptr<LinuxI2cBus>> Open(const std::string& path);

  ~LinuxI2cBus() override;
  LinuxI2cBus(const LinuxI2cBus&) = delete;
  LinuxI2cBus& operator=(const LinuxI2cBus&) = delete;

  const std::string& path() const { return path_; }

 private:
  LinuxI2cBus(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  /// The timeout is the adapter's (I2C_TIMEOUT sets adapter->timeout), so it
  /// also applies to other users of the same bus until they change it.
  /// No ACK (ENXIO / EREMOTEIO) is UNAVAILABLE, adapter timeout DEADLINE_EXCEEDED.
  Status DoWriteRead(uint8_t address, ConstBytes tx, MutBytes rx, Millis timeout) override;
  Status SetTimeout(Millis timeout);

  int fd_;
  std::string path_;
  unsigned long timeout_units_ = 0;  // last value given to I2C_TIMEOUT; 0 = never set
};

}  // namespace edgeforge
