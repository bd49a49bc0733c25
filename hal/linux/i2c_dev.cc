#include "hal/linux/i2c_dev.h"

#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <utility>

#include "hal/linux/fs.h"

namespace edgeforge {
namespace {

std::string Hex(unsigned value) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", value & 0xffu);
  return buf;
}

}  // namespace

Status CheckI2cTransfer(uint8_t address, size_t tx_size, size_t rx_size) {
  if (address > 0x7f) return InvalidArgument("i2c address " + Hex(address) + " is not a 7-bit address");
  if (tx_size > kI2cDevMaxMessageLength || rx_size > kI2cDevMaxMessageLength) {
    return InvalidArgument("i2c transfer to " + Hex(address) + " of " + std::to_string(tx_size) + "+" +
                           std::to_string(rx_size) + " bytes: i2c-dev limits a message to " +
                           std::to_string(kI2cDevMaxMessageLength) + " bytes");
  }
  return Status::Ok();
}

size_t BuildI2cMessages(uint8_t address, ConstBytes tx, MutBytes rx, i2c_msg out[2]) {
  size_t n = 0;
  if (!tx.empty() || rx.empty()) {
    out[n++] = i2c_msg{address, 0, static_cast<__u16>(tx.size()), const_cast<uint8_t*>(tx.data())};
  }
  if (!rx.empty()) {
    out[n++] = i2c_msg{address, I2C_M_RD, static_cast<__u16>(rx.size()), rx.data()};
  }
  return n;
}

unsigned long I2cTimeoutUnits(Millis timeout) {
  const auto ms = timeout.count();
  if (ms <= 10) return 1;
  constexpr long long kMaxUnits = 0x7fffffff;  // i2c-dev.c: arg > INT_MAX is EINVAL
  const long long units = ms / 10 + (ms % 10 != 0 ? 1 : 0);
  return static_cast<unsigned long>(units > kMaxUnits ? kMaxUnits : units);
}

Result<std::unique_ptr<LinuxI2cBus>> LinuxI2cBus::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return fs::ErrnoStatus(errno, path);
  std::unique_ptr<LinuxI2cBus> bus(new LinuxI2cBus(fd, path));  // owns fd from here
  unsigned long funcs = 0;
  if (::ioctl(fd, I2C_FUNCS, &funcs) != 0) {
    const int err = errno;
    if (fs::IsWrongKindOfFile(err)) return fs::WrongKindOfFile(err, path + ": not an i2c-dev node (I2C_FUNCS)");
    return fs::ErrnoStatus(err, path + ": I2C_FUNCS");
  }
  if ((funcs & I2C_FUNC_I2C) == 0) {
    return Unimplemented(path + ": adapter is SMBus-only (no I2C_FUNC_I2C), I2C_RDWR unavailable");
  }
  return bus;
}

LinuxI2cBus::~LinuxI2cBus() { ::close(fd_); }

Status LinuxI2cBus::SetTimeout(Millis timeout) {
  const unsigned long units = I2cTimeoutUnits(timeout);
  if (units == timeout_units_) return Status::Ok();
  if (::ioctl(fd_, I2C_TIMEOUT, units) != 0) return fs::ErrnoStatus(errno, path_ + ": I2C_TIMEOUT");
  timeout_units_ = units;
  return Status::Ok();
}

Status LinuxI2cBus::DoWriteRead(uint8_t address, ConstBytes tx, MutBytes rx, Millis timeout) {
  EF_RETURN_IF_ERROR(CheckI2cTransfer(address, tx.size(), rx.size()).WithContext(path_));
  EF_RETURN_IF_ERROR(SetTimeout(timeout));
  i2c_msg msgs[2];
  i2c_rdwr_ioctl_data data{msgs, static_cast<__u32>(BuildI2cMessages(address, tx, rx, msgs))};
  const std::string what = path_ + " addr " + Hex(address) + " (write " + std::to_string(tx.size()) + ", read " +
                           std::to_string(rx.size()) + ")";
  const int rc = ::ioctl(fd_, I2C_RDWR, &data);
  if (rc < 0) {
    const int err = errno;
    if (err == ENXIO || err == EREMOTEIO) return fs::ErrnoStatus(err, what + ": no ACK");
    return fs::ErrnoStatus(err, what);
  }
  // i2c_transfer() returns the number of messages done; adapters normally
  // report all or an error, but a short count means the read never happened.
  if (static_cast<__u32>(rc) != data.nmsgs) {
    return Unavailable(what + ": only " + std::to_string(rc) + " of " + std::to_string(data.nmsgs) +
                       " messages transferred");
  }
  return Status::Ok();
}

}  // namespace edgeforge
