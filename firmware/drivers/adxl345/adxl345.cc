#include "firmware/drivers/adxl345/adxl345.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string>

namespace edgeforge {
namespace {

namespace reg = adxl345_reg;

// A register access is at most 1 + 64 bytes: 10 ms covers I2C at 100 kHz.
constexpr Millis kBusTimeout{10};
// Footnote to Table 1: turn-on and wake-up take about 1.1 ms + 1/ODR.
constexpr double kTurnOnSeconds = 1.1e-3;
// An empty FIFO is only suspicious after the turn-on time plus this many
// sample periods without data: margin for a chip whose ODR runs a few % slow
// and for reads that land just before a sample.
constexpr double kQuietPeriods = 4.0;

// FULL_RES, right-justified, +-16 g, 4-wire SPI, no self-test, active-high
// interrupts (Register 0x31).
constexpr uint8_t kDataFormat = reg::kFormatFullRes | 0x03;
constexpr uint8_t kFifoBypass = reg::kFifoModeBypass << reg::kFifoModeShift;
// Stream mode keeps the newest 32 samples. The watermark (Samples) is unused:
// the FIFO is polled, not interrupt-driven.
constexpr uint8_t kFifoStream = reg::kFifoModeStream << reg::kFifoModeShift;

// Rate codes 0x0..0xF: 0.1 .. 3200 Hz (Table 7).
constexpr uint8_t kMaxRateCode = 0x0F;
// Table 7 prints rounded rates (0.20 for 0.195 Hz): 3% tolerance accepts
// them, and neighbouring codes are a factor 2 apart.
constexpr double kRateTolerance = 0.03;

std::string Hex(unsigned value) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", value);
  return buf;
}

std::string Fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace

// ---------------------------------------------------------------------------
// Pure conversions and features.

double Adxl345OdrHz(uint8_t rate_code) {
  const unsigned code = rate_code & reg::kBwRateRateMask;
  return 3200.0 / static_cast<double>(1u << (15u - code));
}

Result<uint8_t> Adxl345RateCode(double odr_hz) {
  if (std::isfinite(odr_hz) && odr_hz > 0) {
    for (uint8_t code = 0; code <= kMaxRateCode; ++code) {
      const double odr = Adxl345OdrHz(code);
      if (std::fabs(odr_hz - odr) <= kRateTolerance * odr) return code;
    }
  }
  return InvalidArgument("adxl345: output data rate " + Fixed(odr_hz, 3) +
                         " Hz is not one of BW_RATE's (3200 Hz halved down to 0.1 Hz, data sheet Table 7)");
}

Adxl345Raw ParseSample(const uint8_t b[reg::kSampleBytes]) {
  auto s16 = [](uint8_t lsb, uint8_t msb) { return static_cast<int16_t>(static_cast<uint16_t>(lsb | (msb << 8))); };
  return Adxl345Raw{s16(b[0], b[1]), s16(b[2], b[3]), s16(b[4], b[5])};
}

double Adxl345RawToG(int16_t raw) { return raw / kAdxl345FullResLsbPerG; }

Result<VibrationFeatures> ComputeVibrationFeatures(Span<const Adxl345Sample> window) {
  if (window.empty()) return InvalidArgument("vibration features: empty window");
  const double n = static_cast<double>(window.size());
  // Two passes (mean, then deviations): a 1 g DC level does not swamp a
  // milli-g vibration in the sum of squares.
  std::array<double, 3> mean{};
  for (const Adxl345Sample& s : window) {
    for (size_t k = 0; k < 3; ++k) mean[k] += s.g[k];
  }
  for (double& m : mean) m /= n;
  VibrationFeatures f;
  f.n = window.size();
  std::array<double, 3> sum_sq{};
  double peak_sq = 0;
  for (const Adxl345Sample& s : window) {
    double magnitude_sq = 0;
    for (size_t k = 0; k < 3; ++k) {
      const double d = s.g[k] - mean[k];
      sum_sq[k] += d * d;
      magnitude_sq += d * d;
    }
    peak_sq = std::max(peak_sq, magnitude_sq);
  }
  double total_sq = 0;
  for (size_t k = 0; k < 3; ++k) {
    f.rms_g[k] = std::sqrt(sum_sq[k] / n);
    total_sq += sum_sq[k] / n;
  }
  f.rms_total_g = std::sqrt(total_sq);
  f.peak_g = std::sqrt(peak_sq);
  // Undefined without AC content; 1e-9 g is far below one LSB (3.9 mg).
  f.crest = f.rms_total_g < 1e-9 ? 0.0 : f.peak_g / f.rms_total_g;
  return f;
}

// ---------------------------------------------------------------------------
// Transports.

Adxl345SpiBus::Adxl345SpiBus(SpiDevice& spi, std::string location) : Adxl345Bus(std::move(location)), spi_(spi) {}

Status Adxl345SpiBus::DoReadRegisters(uint8_t first, MutBytes out) {
  // One command byte, then the data; the register space is 64 bytes.
  std::array<uint8_t, 1 + 64> rx{};
  if (out.size() > rx.size() - 1 || first > reg::kSpiAddressMask) {
    return InvalidArgument("spi: register read of " + std::to_string(out.size()) + " bytes at " + Hex(first) +
                           " is outside the 64-register map");
  }
  const uint8_t command = static_cast<uint8_t>(reg::kSpiRead | (out.size() > 1 ? reg::kSpiMultiByte : 0u) | first);
  EF_RETURN_IF_ERROR(spi_.Transfer(ConstBytes(&command, 1), MutBytes(rx.data(), out.size() + 1), kBusTimeout));
  std::copy(rx.begin() + 1, rx.begin() + 1 + static_cast<std::ptrdiff_t>(out.size()), out.begin());
  return Status::Ok();
}

Status Adxl345SpiBus::DoWriteRegister(uint8_t r, uint8_t value) {
  if (r > reg::kSpiAddressMask) return InvalidArgument("spi: register " + Hex(r) + " is outside the 64-register map");
  const uint8_t tx[2] = {r, value};  // R/W = 0, MB = 0
  return spi_.Transfer(tx, MutBytes(), kBusTimeout);
}

Adxl345I2cBus::Adxl345I2cBus(I2cBus& bus, uint8_t address) : Adxl345Bus(Hex(address)), bus_(bus), address_(address) {}

Status Adxl345I2cBus::DoReadRegisters(uint8_t first, MutBytes out) {
  // Data sheet "I2C", Figure 41: register address, repeated start, read; the
  // address auto-increments over a multi-byte read.
  return bus_.WriteRead(address_, ConstBytes(&first, 1), out, kBusTimeout);
}

Status Adxl345I2cBus::DoWriteRegister(uint8_t r, uint8_t value) {
  const uint8_t tx[2] = {r, value};
  return bus_.Write(address_, tx, kBusTimeout);
}

// ---------------------------------------------------------------------------
// The chip.

Adxl345::Adxl345(Adxl345Bus& bus, Clock& clock, Adxl345Config config) : bus_(bus), clock_(clock), config_(config) {}

Status Adxl345::Init() {
  initialised_ = false;
  Result<uint8_t> rate = Adxl345RateCode(config_.odr_hz);
  if (!rate.ok()) return rate.status().WithContext(Context("configuration"));
  EF_RETURN_IF_ERROR(CheckDeviceId());
  EF_RETURN_IF_ERROR(Configure(*rate));
  EF_RETURN_IF_ERROR(VerifyConfiguration(*rate));
  odr_hz_ = Adxl345OdrHz(*rate);
  last_data_ = clock_.Monotonic();
  initialised_ = true;
  return Status::Ok();
}

Status Adxl345::CheckDeviceId() {
  uint8_t id = 0;
  EF_RETURN_IF_ERROR(ReadRegisters(reg::kDevId, MutBytes(&id, 1), "reading DEVID"));
  if (id == reg::kDevIdValue) return Status::Ok();
  // SPI has no acknowledge: an absent chip or a cut MISO reads 0xFF (pull-up)
  // or 0x00 (pull-down / shorted line).
  if (id == 0xFF || id == 0x00) {
    return Unavailable(Context("device id " + Hex(id) + ", expected 0xe5: no device / bus disconnected"));
  }
  return FailedPrecondition(Context("device id " + Hex(id) + ", expected 0xe5 (ADXL345)"));
}

Status Adxl345::Configure(uint8_t rate_code) {
  // Register 0x2D: configure in standby (Measure = 0), then start measuring.
  // Bypass mode empties the FIFO (FIFO section, "Bypass Mode"), so a re-Init
  // does not deliver samples from before it.
  struct Write {
    uint8_t reg;
    uint8_t value;
    const char* what;
  };
  const Write writes[] = {
      {reg::kPowerCtl, 0x00, "entering standby (POWER_CTL)"},
      {reg::kDataFormat, kDataFormat, "setting full resolution +-16 g (DATA_FORMAT)"},
      {reg::kBwRate, rate_code, "setting the output data rate (BW_RATE)"},
      {reg::kFifoCtl, kFifoBypass, "clearing the FIFO (FIFO_CTL bypass)"},
      {reg::kFifoCtl, kFifoStream, "setting FIFO stream mode (FIFO_CTL)"},
      {reg::kPowerCtl, reg::kPowerCtlMeasure, "starting measurement (POWER_CTL)"},
  };
  for (const Write& w : writes) EF_RETURN_IF_ERROR(WriteRegister(w.reg, w.value, w.what));
  return Status::Ok();
}

Status Adxl345::VerifyConfiguration(uint8_t rate_code) {
  // SPI writes are not acknowledged: read back what must have stuck.
  // 0x2C..0x31 = BW_RATE, POWER_CTL, INT_ENABLE, INT_MAP, INT_SOURCE, DATA_FORMAT
  // (reading INT_SOURCE clears only the tap/activity/free-fall bits, which
  // are not used).
  uint8_t regs[6] = {};
  EF_RETURN_IF_ERROR(ReadRegisters(reg::kBwRate, regs, "reading back the configuration"));
  uint8_t fifo_ctl = 0;
  EF_RETURN_IF_ERROR(ReadRegisters(reg::kFifoCtl, MutBytes(&fifo_ctl, 1), "reading back FIFO_CTL"));
  struct Expect {
    const char* name;
    uint8_t got;
    uint8_t want;
  };
  const Expect expected[] = {{"BW_RATE", regs[0], rate_code},
                             {"POWER_CTL", regs[1], reg::kPowerCtlMeasure},
                             {"DATA_FORMAT", regs[5], kDataFormat},
                             {"FIFO_CTL", fifo_ctl, kFifoStream}};
  for (const Expect& e : expected) {
    if (e.got != e.want) {
      return Unavailable(Context(std::string(e.name) + " reads " + Hex(e.got) + " after writing " + Hex(e.want) +
                                 ": configuration did not take (bus fault?)"));
    }
  }
  return Status::Ok();
}

Micros Adxl345::NoDataTimeout() const {
  return Micros(static_cast<int64_t>(std::ceil((kTurnOnSeconds + kQuietPeriods / odr_hz_) * 1e6)));
}

Result<Adxl345Batch> Adxl345::Read() {
  if (!initialised_) return FailedPrecondition(Context("Read() before a successful Init()"));
  // INT_SOURCE first: its Overrun bit is cleared by the data reads below
  // (Register 0x30).
  uint8_t int_source = 0;
  EF_RETURN_IF_ERROR(ReadRegisters(reg::kIntSource, MutBytes(&int_source, 1), "reading INT_SOURCE"));
  uint8_t fifo_status = 0;
  EF_RETURN_IF_ERROR(ReadRegisters(reg::kFifoStatus, MutBytes(&fifo_status, 1), "reading FIFO_STATUS"));
  const size_t entries = fifo_status & reg::kFifoEntriesMask;
  if (entries > reg::kMaxEntries) {
    if (fifo_status == 0xFF && int_source == 0xFF) {
      return Unavailable(Context("INT_SOURCE and FIFO_STATUS read 0xff: no device / bus disconnected"));
    }
    return DataLoss(Context("FIFO_STATUS " + Hex(fifo_status) + " reports " + std::to_string(entries) +
                            " entries, more than the 33 the chip holds"));
  }
  Adxl345Batch batch;
  for (size_t i = 0; i < entries; ++i) {
    uint8_t bytes[reg::kSampleBytes];
    // One multi-byte read of all three axes per entry: any read of the data
    // registers pops the FIFO, so a partial read would lose the other axes.
    EF_RETURN_IF_ERROR(ReadRegisters(reg::kDataX0, bytes, "reading DATAX0..DATAZ1"));
    const Adxl345Raw raw = ParseSample(bytes);
    batch.samples[i].g = {Adxl345RawToG(raw.x), Adxl345RawToG(raw.y), Adxl345RawToG(raw.z)};
  }
  batch.count = entries;
  // In FIFO and stream modes Overrun is set when the FIFO fills (Register 0x30).
  batch.overrun = (int_source & reg::kIntOverrun) != 0 || entries >= reg::kFifoDepth;
  const Micros now = clock_.Monotonic();
  if (entries == 0) {
    const Micros quiet = now - last_data_;
    if (quiet >= NoDataTimeout()) return NoSamples(quiet);
    return batch;
  }
  last_data_ = now;
  samples_read_ += entries;
  if (batch.overrun) ++overruns_;
  return batch;
}

Status Adxl345::NoSamples(Micros quiet) {
  initialised_ = false;  // the chip lost its configuration or stopped: Init() again
  std::string why = "no samples: chip not measuring? (FIFO empty " +
                    Fixed(static_cast<double>(quiet.count()) / 1000.0, 1) + " ms after the last samples at " +
                    Fixed(odr_hz_, 2) + " Hz";
  uint8_t power_ctl = 0;
  if (bus_.ReadRegisters(reg::kPowerCtl, MutBytes(&power_ctl, 1)).ok()) {
    why += "; POWER_CTL reads " + Hex(power_ctl);
    if ((power_ctl & reg::kPowerCtlMeasure) == 0) why += ", in standby: reset?";
  }
  return Unavailable(Context(why + ")"));
}

Status Adxl345::ReadRegisters(uint8_t first, MutBytes out, const char* what) {
  Status s = bus_.ReadRegisters(first, out);
  if (!s.ok()) return s.WithContext(Context(what));
  return s;
}

Status Adxl345::WriteRegister(uint8_t r, uint8_t value, const char* what) {
  Status s = bus_.WriteRegister(r, value);
  if (!s.ok()) return s.WithContext(Context(what));
  return s;
}

std::string Adxl345::Context(const std::string& what) const { return "adxl345@" + bus_.location() + ": " + what; }

}  // namespace edgeforge
