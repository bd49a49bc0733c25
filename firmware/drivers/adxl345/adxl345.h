// Analog Devices ADXL345 3-axis accelerometer over SPI (4-wire) or I2C.
// Reference: ADXL345 data sheet Rev. G. Split the Zephyr way: a tiny register
// transport (Adxl345Bus, SPI and I2C flavours), pure conversions and vibration
// features (free functions, no I/O), and a thin stateful class that runs the
// chip in full resolution +-16 g with the FIFO in stream mode and drains it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "hal/bytes.h"
#include "hal/clock.h"
#include "hal/i2c.h"
#include "hal/spi.h"
#include "hal/status.h"

namespace edgeforge {

/// Register map, data sheet Table 19, and the register definitions that follow it.
namespace adxl345_reg {
inline constexpr uint8_t kDevId = 0x00;       // reads kDevIdValue
inline constexpr uint8_t kOfsX = 0x1E;        // OFSX/OFSY/OFSZ: two's complement, 15.6 mg/LSB
inline constexpr uint8_t kBwRate = 0x2C;      // LOW_POWER[4] Rate[3:0]; reset 0x0A (100 Hz)
inline constexpr uint8_t kPowerCtl = 0x2D;    // Link[5] AUTO_SLEEP[4] Measure[3] Sleep[2] Wakeup[1:0]
inline constexpr uint8_t kIntEnable = 0x2E;   // same bit layout as INT_SOURCE
inline constexpr uint8_t kIntSource = 0x30;   // DATA_READY[7] ... Watermark[1] Overrun[0]; reset 0x02
inline constexpr uint8_t kDataFormat = 0x31;  // SELF_TEST[7] SPI[6] INT_INVERT[5] FULL_RES[3] Justify[2] Range[1:0]
inline constexpr uint8_t kDataX0 = 0x32;      // DATAX0..DATAZ1 (0x32..0x37): little-endian int16 per axis
inline constexpr uint8_t kDataZ1 = 0x37;
inline constexpr uint8_t kFifoCtl = 0x38;     // FIFO_MODE[7:6] Trigger[5] Samples[4:0]
inline constexpr uint8_t kFifoStatus = 0x39;  // FIFO_TRIG[7] Entries[5:0]
inline constexpr uint8_t kLastRegister = 0x39;

inline constexpr uint8_t kDevIdValue = 0xE5;  // 0345 octal
inline constexpr uint8_t kPowerCtlMeasure = 1u << 3;
inline constexpr uint8_t kPowerCtlSleep = 1u << 2;
inline constexpr uint8_t kBwRateLowPower = 1u << 4;
inline constexpr uint8_t kBwRateRateMask = 0x0F;
inline constexpr uint8_t kIntDataReady = 1u << 7;
inline constexpr uint8_t kIntWatermark = 1u << 1;
inline constexpr uint8_t kIntOverrun = 1u << 0;
inline constexpr uint8_t kFormatSelfTest = 1u << 7;
inline constexpr uint8_t kFormatSpi3Wire = 1u << 6;
inline constexpr uint8_t kFormatFullRes = 1u << 3;
inline constexpr uint8_t kFormatJustifyLeft = 1u << 2;
inline constexpr uint8_t kFormatRangeMask = 0x03;  // 0: +-2 g, 1: +-4 g, 2: +-8 g, 3: +-16 g
inline constexpr uint8_t kFifoModeShift = 6;
inline constexpr uint8_t kFifoModeBypass = 0x0;
inline constexpr uint8_t kFifoModeFifo = 0x1;
inline constexpr uint8_t kFifoModeStream = 0x2;
inline constexpr uint8_t kFifoModeTrigger = 0x3;
inline constexpr uint8_t kFifoSamplesMask = 0x1F;
inline constexpr uint8_t kFifoEntriesMask = 0x3F;

/// 4-wire SPI framing (data sheet "SPI", Figures 37..39): the first byte is
/// R/W[7] MB[6] A[5:0]; MB set makes the address auto-increment.
inline constexpr uint8_t kSpiRead = 0x80;
inline constexpr uint8_t kSpiMultiByte = 0x40;
inline constexpr uint8_t kSpiAddressMask = 0x3F;

/// The FIFO holds 32 samples; with the one in the output stage, up to 33 can
/// be read at once (Register 0x39 FIFO_STATUS).
inline constexpr size_t kFifoDepth = 32;
inline constexpr size_t kMaxEntries = 33;
inline constexpr size_t kSampleBytes = 6;
}  // namespace adxl345_reg

/// Full resolution: 256 LSB/g typical at every range (Table 1 "Sensitivity",
/// the "3.9 mg/LSB" scale factor), so +-16 g spans 13 bits.
inline constexpr double kAdxl345FullResLsbPerG = 256.0;

/// BW_RATE rate code (Table 7) for an output data rate: 3200 Hz is code 0xF and
/// each code below halves it (0xA = 100 Hz ... 0x0 = 0.1 Hz). The table's
/// rounded figures (3.13, 1.56, 0.78, 0.39, 0.20, 0.10 Hz) are accepted within
/// 2%. INVALID_ARGUMENT naming the rate otherwise.
Result<uint8_t> Adxl345RateCode(double odr_hz);
/// Output data rate of a BW_RATE rate code: 3200 / 2^(15 - code) Hz (Table 7).
double Adxl345OdrHz(uint8_t rate_code);

/// One FIFO entry as read from DATAX0..DATAZ1, right-justified, sign-extended.
struct Adxl345Raw {
  int16_t x = 0;
  int16_t y = 0;
  int16_t z = 0;
};

/// Decodes a 6-byte burst of 0x32..0x37 (X0 X1 Y0 Y1 Z0 Z1, LSB first, two's
/// complement; Register 0x32 to Register 0x37 definitions).
Adxl345Raw ParseSample(const uint8_t bytes[adxl345_reg::kSampleBytes]);
/// Full-resolution counts to standard gravity: raw / 256 (Table 1).
double Adxl345RawToG(int16_t raw);

/// One acceleration sample, x/y/z in standard gravity (g).
struct Adxl345Sample {
  std::array<double, 3> g{};
};

/// Vibration features of a window of samples. The DC part of each axis
/// (gravity and any static tilt or offset) is removed first: every quantity
/// below is computed on d_i = a_i - mean(a) per axis.
///   rms_g[k] = sqrt(mean_i(d_i[k]^2))                 AC RMS of axis k
///   rms_total_g = sqrt(mean_i(|d_i|^2)) = |rms_g|     RMS of the AC magnitude
///   peak_g = max_i |d_i|                             largest AC magnitude (|.| = Euclidean norm)
///   crest = peak_g / rms_total_g                      crest factor of the AC magnitude
/// So a pure sine on any axis (or in-phase sines on several) has crest
/// sqrt(2), a square wave 1. With no AC content (rms_total_g below 1e-9 g,
/// far under one LSB) the crest factor is undefined and reported as 0: a
/// still machine is a valid reading, not a fault, and 0 cannot be confused
/// with a real crest factor (which is always >= 1).
struct VibrationFeatures {
  size_t n = 0;
  std::array<double, 3> rms_g{};
  double rms_total_g = 0;
  double peak_g = 0;
  double crest = 0;
};

/// INVALID_ARGUMENT for an empty window.
Result<VibrationFeatures> ComputeVibrationFeatures(Span<const Adxl345Sample> window);

/// Register access to one ADXL345, whatever the wire. Addresses are the
/// 6-bit register addresses of Table 19; reads of several bytes auto-increment.
class Adxl345Bus {
 public:
  virtual ~Adxl345Bus() = default;
  Status ReadRegisters(uint8_t first, MutBytes out) { return DoReadRegisters(first, out); }
  Status WriteRegister(uint8_t reg, uint8_t value) { return DoWriteRegister(reg, value); }
  /// Where the chip is, for error messages: "spi0.0", "0x53".
  const std::string& location() const { return location_; }

 protected:
  explicit Adxl345Bus(std::string location) : location_(std::move(location)) {}

 private:
  virtual Status DoReadRegisters(uint8_t first, MutBytes out) = 0;
  virtual Status DoWriteRegister(uint8_t reg, uint8_t value) = 0;
  std::string location_;
};

/// 4-wire SPI. The SpiDevice must be opened in SPI mode 3 (CPOL = CPHA = 1) at
/// no more than 5 MHz (Table 10, f_SCLK). Each register access is its own
/// chip-select-low transaction: CS going high ends a FIFO pop, and above
/// 1.6 MHz "Retrieving Data from FIFO" asks for 5 us between the end of one
/// data read and the next FIFO access, which separate spidev transfers (one
/// ioctl each) already exceed, so the driver does not sleep for it.
class Adxl345SpiBus final : public Adxl345Bus {
 public:
  static constexpr uint8_t kSpiMode = 3;
  static constexpr uint32_t kMaxClockHz = 5'000'000;
  /// `location` names the chip in errors, e.g. "spi0.0" for /dev/spidev0.0.
  Adxl345SpiBus(SpiDevice& spi, std::string location);

 private:
  Status DoReadRegisters(uint8_t first, MutBytes out) override;
  Status DoWriteRegister(uint8_t reg, uint8_t value) override;
  SpiDevice& spi_;
};

/// I2C at 0x53 (ALT ADDRESS pin low) or 0x1D (high), data sheet "I2C". Note
/// the data sheet recommends 800 Hz output data rate and above only with
/// 400 kHz I2C or SPI ("Serial Communications"): a FIFO drain at 3200 Hz does
/// not keep up on I2C.
class Adxl345I2cBus final : public Adxl345Bus {
 public:
  static constexpr uint8_t kAddressAltLow = 0x53;
  static constexpr uint8_t kAddressAltHigh = 0x1D;
  Adxl345I2cBus(I2cBus& bus, uint8_t address);

 private:
  Status DoReadRegisters(uint8_t first, MutBytes out) override;
  Status DoWriteRegister(uint8_t reg, uint8_t value) override;
  I2cBus& bus_;
  uint8_t address_;
};

struct Adxl345Config {
  double odr_hz = 100.0;  // one of Table 7's output data rates
};

/// What one FIFO drain got, oldest sample first.
struct Adxl345Batch {
  std::array<Adxl345Sample, adxl345_reg::kMaxEntries> samples{};
  size_t count = 0;
  /// The FIFO filled up since the previous drain (INT_SOURCE Overrun, or 32
  /// entries found): in stream mode samples older than the newest 32 were
  /// discarded, so there may be a gap before samples[0] (the chip sets the
  /// bit when the FIFO becomes full, so "exactly full" and "lost some" look
  /// the same). Not an error by itself.
  bool overrun = false;

  Span<const Adxl345Sample> view() const { return Span<const Adxl345Sample>(samples.data(), count); }
};

/// An ADXL345 in full resolution, +-16 g, FIFO stream mode, measuring at the
/// configured output data rate. Read() drains the FIFO without waiting.
class Adxl345 {
 public:
  Adxl345(Adxl345Bus& bus, Clock& clock, Adxl345Config config = {});

  /// Checks DEVID, configures the chip in standby (DATA_FORMAT, BW_RATE, FIFO
  /// cleared by bypass then stream), starts measuring and reads the
  /// configuration back. Safe to call again to recover. UNAVAILABLE when
  /// DEVID reads 0xFF/0x00 (nothing answers), FAILED_PRECONDITION for another
  /// id, INVALID_ARGUMENT for an output data rate not in Table 7.
  Status Init();

  /// Drains the FIFO: INT_SOURCE (overrun), FIFO_STATUS (entries), then one
  /// 6-byte read of DATAX0..DATAZ1 per entry (each read pops one entry,
  /// "Retrieving Data from FIFO"). OK with count 0 when less than the chip's
  /// turn-on time plus four sample periods passed since the last samples;
  /// after that an empty FIFO is UNAVAILABLE ("no samples: chip not
  /// measuring?") and Init() is needed again. FAILED_PRECONDITION before Init().
  Result<Adxl345Batch> Read();

  double odr_hz() const { return odr_hz_; }
  /// Drains that found the FIFO overrun, since construction.
  uint64_t overruns() const { return overruns_; }
  /// Samples read, since construction.
  uint64_t samples_read() const { return samples_read_; }
  bool initialised() const { return initialised_; }

 private:
  Status CheckDeviceId();
  Status Configure(uint8_t rate_code);
  Status VerifyConfiguration(uint8_t rate_code);
  Status NoSamples(Micros quiet);
  Micros NoDataTimeout() const;

  Status ReadRegisters(uint8_t first, MutBytes out, const char* what);
  Status WriteRegister(uint8_t reg, uint8_t value, const char* what);
  /// "adxl345@spi0.0: <what>", prefixed to every error.
  std::string Context(const std::string& what) const;

  Adxl345Bus& bus_;
  Clock& clock_;
  Adxl345Config config_;
  double odr_hz_ = 0;
  bool initialised_ = false;
  Micros last_data_{0};  // when the last samples were read (or measuring started)
  uint64_t overruns_ = 0;
  uint64_t samples_read_ = 0;
};

}  // namespace edgeforge
