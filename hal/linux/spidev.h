// SPI chip on Linux spidev (/dev/spidevB.C), kernel Documentation/spi/spidev.rst.
// One Transfer is one SPI_IOC_MESSAGE(1): chip select stays asserted for the
// whole transfer and is released after it.
#pragma once

#include <linux/spi/spidev.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hal/bytes.h"
#include "hal/clock.h"
#include "hal/spi.h"
#include "hal/status.h"

namespace edgeforge {

struct SpiConfig {
  /// CPOL/CPHA, SPI_MODE_0..SPI_MODE_3. Written with SPI_IOC_WR_MODE, which
  /// also clears SPI_CS_HIGH, SPI_LSB_FIRST and SPI_3WIRE: chip select active
  /// low, MSB first, 4-wire.
  uint8_t mode = 0;
  /// Upper bound of the clock; the controller may pick a lower rate.
  uint32_t max_speed_hz = 1'000'000;
  /// spidev.rst: words wider than 8 bits occupy 2 (9..16) or 4 (17..32)
  /// bytes each in native byte order, so transfer lengths must be multiples.
  uint8_t bits_per_word = 8;
};

/// INVALID_ARGUMENT for mode > 3, a zero clock, or bits_per_word outside 1..32.
Status CheckSpiConfig(const SpiConfig& config);

/// Bytes per word in spidev buffers for `bits_per_word` (1, 2 or 4).
size_t SpiBytesPerWord(uint8_t bits_per_word);

/// The one spi_ioc_transfer of a Transfer, every unused field zero as
/// spidev.h asks. A null `tx` shifts out zeroes and a null `rx` discards what
/// comes in (spidev.h, struct spi_ioc_transfer). speed_hz and bits_per_word
/// repeat the device settings so the transfer does not depend on what another
/// opener of the node configured.
spi_ioc_transfer BuildSpiTransfer(const uint8_t* tx, uint8_t* rx, uint32_t len, const SpiConfig& config);

/// How one Transfer maps onto the kernel's single buffer length (the SpiDevice
/// contract in hal/spi.h): len = max(tx, rx). A tx shorter than len is copied
/// into `tx_pad` and padded with 0x00; an empty tx is null (the controller
/// shifts out zeroes). An rx shorter than len receives into `rx_pad` and
/// FinishSpiTransfer copies back only rx.size() bytes; an empty rx is null.
struct SpiTransferPlan {
  const uint8_t* tx = nullptr;
  uint8_t* rx = nullptr;
  size_t len = 0;
};
SpiTransferPlan PlanSpiTransfer(ConstBytes tx, MutBytes rx, std::vector<uint8_t>& tx_pad, std::vector<uint8_t>& rx_pad);
/// After the ioctl: copies the first rx.size() received bytes into `rx` when
/// they landed in the pad buffer.
void FinishSpiTransfer(const SpiTransferPlan& plan, MutBytes rx);

class LinuxSpiDevice final : public SpiDevice {
 public:
  /// Opens `path` and applies `config` (SPI_IOC_WR_MODE, SPI_IOC_WR_BITS_PER_WORD,
  /// SPI_IOC_WR_MAX_SPEED_HZ). NOT_FOUND / PERMISSION_DENIED name the path; a
  /// file that is not a spidev node is FAILED_PRECONDITION; settings the
  /// controller refuses are INVALID_ARGUMENT.
  static Result<std::unique_ptr<LinuxSpiDevice>> Open(const std::string& path, const SpiConfig& config);

  ~LinuxSpiDevice() override;
  LinuxSpiDevice(const LinuxSpiDevice&) = delete;
  LinuxSpiDevice& operator=(const LinuxSpiDevice&) = delete;

  const std::string& path() const { return path_; }
  const SpiConfig& config() const { return config_; }

 private:
  LinuxSpiDevice(int fd, std::string path, const SpiConfig& config)
      : fd_(fd), path_(std::move(path)), config_(config) {}
  /// spidev has no per-transfer timeout (spi_sync() waits for the controller,
  /// whose duration is fixed by length and clock), so `timeout` is not used.
  /// A transfer longer than spidev's bounce buffer (module parameter bufsiz,
  /// default 4096 bytes) is RESOURCE_EXHAUSTED.
  Status DoTransfer(ConstBytes tx, MutBytes rx, Millis timeout) override;

  int fd_;
  std::string path_;
  SpiConfig config_;
  std::vector<uint8_t> tx_pad_;  // tx padded with 0x00 when rx is longer
  std::vector<uint8_t> rx_pad_;  // rx landing area when tx is longer
};

}  // namespace edgeforge
