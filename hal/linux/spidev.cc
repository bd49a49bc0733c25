#include "hal/linux/spidev.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "hal/linux/fs.h"

namespace edgeforge {

Status CheckSpiConfig(const SpiConfig& config) {
  if (config.mode > 3) return InvalidArgument("spi mode " + std::to_string(config.mode) + " is not 0..3");
  if (config.max_speed_hz == 0) return InvalidArgument("spi max_speed_hz is 0");
  if (config.bits_per_word < 1 || config.bits_per_word > 32) {
    return InvalidArgument("spi bits_per_word " + std::to_string(config.bits_per_word) + " is not 1..32");
  }
  return Status::Ok();
}

size_t SpiBytesPerWord(uint8_t bits_per_word) {
  if (bits_per_word <= 8) return 1;
  if (bits_per_word <= 16) return 2;
  return 4;
}

spi_ioc_transfer BuildSpiTransfer(const uint8_t* tx, uint8_t* rx, uint32_t len, const SpiConfig& config) {
  spi_ioc_transfer t;
  std::memset(&t, 0, sizeof t);
  t.tx_buf = reinterpret_cast<uintptr_t>(tx);
  t.rx_buf = reinterpret_cast<uintptr_t>(rx);
  t.len = len;
  t.speed_hz = config.max_speed_hz;
  t.bits_per_word = config.bits_per_word;
  return t;
}

SpiTransferPlan PlanSpiTransfer(ConstBytes tx, MutBytes rx, std::vector<uint8_t>& tx_pad,
                                std::vector<uint8_t>& rx_pad) {
  SpiTransferPlan plan;
  plan.len = std::max(tx.size(), rx.size());
  if (!tx.empty()) {
    plan.tx = tx.data();
    if (tx.size() < plan.len) {
      tx_pad.assign(plan.len, 0x00);
      std::copy(tx.begin(), tx.end(), tx_pad.begin());
      plan.tx = tx_pad.data();
    }
  }
  if (!rx.empty()) {
    plan.rx = rx.data();
    if (rx.size() < plan.len) {
      rx_pad.resize(plan.len);
      plan.rx = rx_pad.data();
    }
  }
  return plan;
}

void FinishSpiTransfer(const SpiTransferPlan& plan, MutBytes rx) {
  if (plan.rx != nullptr && plan.rx != rx.data()) std::copy_n(plan.rx, rx.size(), rx.begin());
}

Result<std::unique_ptr<LinuxSpiDevice>> LinuxSpiDevice::Open(const std::string& path, const SpiConfig& config) {
  EF_RETURN_IF_ERROR(CheckSpiConfig(config).WithContext(path));
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return fs::ErrnoStatus(errno, path);
  std::unique_ptr<LinuxSpiDevice> dev(new LinuxSpiDevice(fd, path, config));  // owns fd from here
  uint8_t mode = config.mode;
  if (::ioctl(fd, SPI_IOC_WR_MODE, &mode) != 0) {
    const int err = errno;
    if (fs::IsWrongKindOfFile(err)) return fs::WrongKindOfFile(err, path + ": not a spidev node (SPI_IOC_WR_MODE)");
    return fs::ErrnoStatus(err, path + ": SPI_IOC_WR_MODE " + std::to_string(config.mode));
  }
  uint8_t bits = config.bits_per_word;
  if (::ioctl(fd, SPI_IOC_WR_BITS_PER_WORD, &bits) != 0) {
    return fs::ErrnoStatus(errno, path + ": SPI_IOC_WR_BITS_PER_WORD " + std::to_string(bits));
  }
  uint32_t speed = config.max_speed_hz;
  if (::ioctl(fd, SPI_IOC_WR_MAX_SPEED_HZ, &speed) != 0) {
    return fs::ErrnoStatus(errno, path + ": SPI_IOC_WR_MAX_SPEED_HZ " + std::to_string(speed));
  }
  return dev;
}

LinuxSpiDevice::~LinuxSpiDevice() { ::close(fd_); }

Status LinuxSpiDevice::DoTransfer(ConstBytes tx, MutBytes rx, Millis /*timeout*/) {
  const size_t len = std::max(tx.size(), rx.size());
  if (len == 0) return Status::Ok();
  if (len > std::numeric_limits<uint32_t>::max()) {
    return InvalidArgument(path_ + ": spi transfer of " + std::to_string(len) + " bytes is too long");
  }
  const size_t word = SpiBytesPerWord(config_.bits_per_word);
  if (len % word != 0) {
    return InvalidArgument(path_ + ": spi transfer of " + std::to_string(len) + " bytes is not a whole number of " +
                           std::to_string(config_.bits_per_word) + "-bit words");
  }
  const SpiTransferPlan plan = PlanSpiTransfer(tx, rx, tx_pad_, rx_pad_);
  spi_ioc_transfer xfer = BuildSpiTransfer(plan.tx, plan.rx, static_cast<uint32_t>(len), config_);
  const int rc = ::ioctl(fd_, SPI_IOC_MESSAGE(1), &xfer);
  if (rc < 0) {
    const int err = errno;
    const std::string what = path_ + ": spi transfer of " + std::to_string(len) + " bytes";
    if (err == EMSGSIZE) {
      return ResourceExhausted(what + " exceeds spidev's buffer (module parameter spidev.bufsiz, default 4096)");
    }
    return fs::ErrnoStatus(err, what);
  }
  if (static_cast<size_t>(rc) != len) {
    return DataLoss(path_ + ": spi transfer moved " + std::to_string(rc) + " of " + std::to_string(len) + " bytes");
  }
  FinishSpiTransfer(plan, rx);
  return Status::Ok();
}

}  // namespace edgeforge
