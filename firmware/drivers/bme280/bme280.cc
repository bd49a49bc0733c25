#include "firmware/drivers/bme280/bme280.h"

#include <cstdio>

namespace edgeforge {
namespace {

namespace reg = bme280_reg;

// Every bus transaction is a few bytes: 10 ms covers clock stretching at 100 kHz.
constexpr Millis kBusTimeout{10};
// Power-on/soft reset: t_startup 2 ms (table 1), then the NVM copy (im_update).
constexpr Micros kResetTimeout{10'000};
// Appendix B (9.1): t_measure,max = 1.25 + 2.3*1 + (2.3*1 + 0.575) + (2.3*1 + 0.575)
// = 9.3 ms for x1/x1/x1; twice that before giving up.
constexpr Micros kMeasureTimeout{20'000};
// Poll step: the first poll has no sleep, so an instant (simulated) chip costs
// no sleep at all; a real chip is polled ~10 times per measurement.
constexpr Micros kPollStep{500};

// osrs_x = 001 (x1) for all channels; filter off, t_sb 0.5 ms, no 3-wire SPI.
constexpr uint8_t kCtrlHumX1 = 0x01;
constexpr uint8_t kConfigFilterOff = 0x00;
constexpr uint8_t kCtrlMeasX1 = (0x01u << 5) | (0x01u << 2);
constexpr uint8_t kCtrlMeasSleep = kCtrlMeasX1 | reg::kModeSleep;
constexpr uint8_t kCtrlMeasForced = kCtrlMeasX1 | reg::kModeForced;

std::string Hex(unsigned value) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", value);
  return buf;
}

uint16_t U16Le(ConstBytes b, size_t i) {
  return static_cast<uint16_t>(b[i] | (b[i + 1] << 8));
}
int16_t S16Le(ConstBytes b, size_t i) { return static_cast<int16_t>(U16Le(b, i)); }

// dig_H4 / dig_H5: an 8-bit signed high part (bits 11:4) and a 4-bit low part.
int16_t S12(uint8_t high, unsigned low_nibble) {
  return static_cast<int16_t>(static_cast<int8_t>(high) * 16 + static_cast<int>(low_nibble & 0x0Fu));
}

enum class Poll {
  kDone,     // the condition holds
  kPending,  // not yet: sleep one step and poll again
};

// Probes now, then every kPollStep of `clock` time until done or `timeout` has
// passed. Bounded by a poll count too, in case a clock does not advance.
template <typename Probe>
Status PollUntil(Clock& clock, Micros timeout, Probe probe) {
  const Micros start = clock.Monotonic();
  const int64_t max_polls = timeout / kPollStep + 1;
  for (int64_t i = 0;; ++i) {
    Result<Poll> state = probe();
    if (!state.ok()) return state.status();
    if (*state == Poll::kDone) return Status::Ok();
    if (i >= max_polls || clock.Monotonic() - start >= timeout) break;
    clock.SleepFor(kPollStep);
  }
  return DeadlineExceeded("timed out");
}

}  // namespace

// ---------------------------------------------------------------------------
// Pure parsing and compensation.

Result<Bme280Calibration> ParseCalibration(ConstBytes a, ConstBytes b) {
  if (a.size() != reg::kCalibALength || b.size() != reg::kCalibBLength) {
    return InvalidArgument("bme280: calibration needs 26 bytes from 0x88 and 7 from 0xE1, got " +
                           std::to_string(a.size()) + " and " + std::to_string(b.size()));
  }
  Bme280Calibration c;
  c.dig_T1 = U16Le(a, 0);
  c.dig_T2 = S16Le(a, 2);
  c.dig_T3 = S16Le(a, 4);
  c.dig_P1 = U16Le(a, 6);
  c.dig_P2 = S16Le(a, 8);
  c.dig_P3 = S16Le(a, 10);
  c.dig_P4 = S16Le(a, 12);
  c.dig_P5 = S16Le(a, 14);
  c.dig_P6 = S16Le(a, 16);
  c.dig_P7 = S16Le(a, 18);
  c.dig_P8 = S16Le(a, 20);
  c.dig_P9 = S16Le(a, 22);
  c.dig_H1 = a[25];  // 0xA0 (a[24]) is not part of the calibration
  c.dig_H2 = S16Le(b, 0);
  c.dig_H3 = b[2];
  c.dig_H4 = S12(b[3], b[4]);
  c.dig_H5 = S12(b[5], static_cast<unsigned>(b[4] >> 4));
  c.dig_H6 = static_cast<int8_t>(b[6]);
  if (c.dig_T1 == 0 || c.dig_P1 == 0) {
    return DataLoss("bme280: calibration NVM reads blank (dig_T1=" + std::to_string(c.dig_T1) +
                    ", dig_P1=" + std::to_string(c.dig_P1) + ")");
  }
  return c;
}

Bme280Raw ParseRawData(const uint8_t burst[bme280_reg::kBurstLength]) {
  auto adc20 = [](uint8_t msb, uint8_t lsb, uint8_t xlsb) {
    return static_cast<int32_t>((uint32_t{msb} << 12) | (uint32_t{lsb} << 4) | (uint32_t{xlsb} >> 4));
  };
  Bme280Raw raw;
  raw.adc_P = adc20(burst[0], burst[1], burst[2]);
  raw.adc_T = adc20(burst[3], burst[4], burst[5]);
  raw.adc_H = static_cast<int32_t>((uint32_t{burst[6]} << 8) | burst[7]);
  return raw;
}

// The datasheet's formulas, with two mechanical changes that give the same
// result wherever the original is defined: intermediates are 64-bit (the
// int32 versions can overflow for unusual trimming values), and left shifts
// of possibly negative values are multiplications (a negative left shift is
// undefined behaviour in C++17). Right shifts of negative values are
// arithmetic on every supported compiler, as the datasheet assumes.

Bme280Temperature CompensateTemperature(const Bme280Calibration& cal, int32_t adc_T) {
  const int64_t adc = adc_T;
  const int64_t t1 = cal.dig_T1;
  const int64_t var1 = (((adc >> 3) - t1 * 2) * cal.dig_T2) >> 11;
  const int64_t d = (adc >> 4) - t1;
  const int64_t var2 = (((d * d) >> 12) * cal.dig_T3) >> 14;
  Bme280Temperature t;
  t.t_fine = static_cast<int32_t>(var1 + var2);
  t.centi_celsius = static_cast<int32_t>((int64_t{t.t_fine} * 5 + 128) >> 8);
  return t;
}

uint32_t CompensatePressure(const Bme280Calibration& cal, int32_t adc_P, int32_t t_fine) {
  int64_t var1 = int64_t{t_fine} - 128000;
  int64_t var2 = var1 * var1 * cal.dig_P6;
  var2 = var2 + var1 * cal.dig_P5 * (int64_t{1} << 17);
  var2 = var2 + int64_t{cal.dig_P4} * (int64_t{1} << 35);
  var1 = ((var1 * var1 * cal.dig_P3) >> 8) + var1 * cal.dig_P2 * (int64_t{1} << 12);
  var1 = (((int64_t{1} << 47) + var1) * cal.dig_P1) >> 33;
  if (var1 == 0) return 0;  // avoid a division by zero (datasheet)
  int64_t p = 1048576 - int64_t{adc_P};
  p = ((p * (int64_t{1} << 31) - var2) * 3125) / var1;
  var1 = (int64_t{cal.dig_P9} * (p >> 13) * (p >> 13)) >> 25;
  var2 = (int64_t{cal.dig_P8} * p) >> 19;
  p = ((p + var1 + var2) >> 8) + int64_t{cal.dig_P7} * 16;
  return p < 0 ? 0u : static_cast<uint32_t>(p);
}

uint32_t CompensateHumidity(const Bme280Calibration& cal, int32_t adc_H, int32_t t_fine) {
  int64_t v = int64_t{t_fine} - 76800;
  const int64_t scaled =
      ((int64_t{adc_H} * 16384 - int64_t{cal.dig_H4} * 1048576 - int64_t{cal.dig_H5} * v) + 16384) >> 15;
  const int64_t gain =
      ((((((v * cal.dig_H6) >> 10) * (((v * cal.dig_H3) >> 11) + 32768)) >> 10) + 2097152) * cal.dig_H2 +
       8192) >>
      14;
  v = scaled * gain;
  v = v - (((((v >> 15) * (v >> 15)) >> 7) * cal.dig_H1) >> 4);
  v = v < 0 ? 0 : v;
  v = v > 419430400 ? 419430400 : v;
  return static_cast<uint32_t>(v >> 12);
}

Bme280Reading Compensate(const Bme280Calibration& cal, const Bme280Raw& raw) {
  const Bme280Temperature t = CompensateTemperature(cal, raw.adc_T);
  Bme280Reading r;
  r.temperature_c = t.centi_celsius / 100.0;
  r.pressure_pa = CompensatePressure(cal, raw.adc_P, t.t_fine) / 256.0;
  r.humidity_rh = CompensateHumidity(cal, raw.adc_H, t.t_fine) / 1024.0;
  return r;
}

// ---------------------------------------------------------------------------
// The chip.

Bme280::Bme280(I2cBus& bus, uint8_t address, Clock& clock) : bus_(bus), address_(address), clock_(clock) {}

Status Bme280::Init() {
  calibration_.reset();
  EF_RETURN_IF_ERROR(CheckChipId());
  EF_RETURN_IF_ERROR(SoftReset());
  EF_RETURN_IF_ERROR(ReadCalibration());
  return Configure();
}

Result<Bme280Reading> Bme280::Read() {
  if (!calibration_) return FailedPrecondition(Context("Read() before a successful Init()"));
  const uint8_t forced[] = {reg::kCtrlMeas, kCtrlMeasForced};
  EF_RETURN_IF_ERROR(WriteRegisters(forced, "starting a forced measurement"));
  EF_RETURN_IF_ERROR(WaitForMeasurement());
  Result<Bme280Raw> raw = ReadRaw();
  if (!raw.ok()) return raw.status();
  return Compensate(*calibration_, *raw);
}

Status Bme280::CheckChipId() {
  uint8_t id = 0;
  EF_RETURN_IF_ERROR(ReadRegisters(reg::kChipId, MutBytes(&id, 1), "reading chip id"));
  if (id == reg::kChipIdValue) return Status::Ok();
  // 0x56..0x58 is a BMP280 (no humidity), a common mix-up on breakout boards.
  return FailedPrecondition(Context("chip id register 0xd0 reads " + Hex(id) + " at " + Hex(address_) +
                                    ", expected 0x60 (BME280)"));
}

Status Bme280::SoftReset() {
  const uint8_t reset[] = {reg::kReset, reg::kResetCommand};
  EF_RETURN_IF_ERROR(WriteRegisters(reset, "soft reset"));
  // During t_startup the chip may not acknowledge: a NACK is "not yet", and the
  // last one is reported if the chip never comes back.
  Status last_nack;
  Status s = PollUntil(clock_, kResetTimeout, [&]() -> Result<Poll> {
    uint8_t status = 0;
    Status read = bus_.WriteRead(address_, ConstBytes(&reg::kStatus, 1), MutBytes(&status, 1), kBusTimeout);
    if (read.code() == StatusCode::kUnavailable) {
      last_nack = read;
      return Poll::kPending;
    }
    if (!read.ok()) return read.WithContext(Context("reading status after soft reset"));
    return (status & reg::kStatusImUpdate) != 0 ? Poll::kPending : Poll::kDone;
  });
  if (s.code() != StatusCode::kDeadlineExceeded) return s;
  if (!last_nack.ok()) return last_nack.WithContext(Context("no response within 10 ms of soft reset"));
  return DeadlineExceeded(Context("NVM copy (status.im_update) still running 10 ms after soft reset"));
}

Status Bme280::ReadCalibration() {
  uint8_t a[reg::kCalibALength];
  uint8_t b[reg::kCalibBLength];
  EF_RETURN_IF_ERROR(ReadRegisters(reg::kCalib00, a, "reading calibration 0x88..0xa1"));
  EF_RETURN_IF_ERROR(ReadRegisters(reg::kCalib26, b, "reading calibration 0xe1..0xe7"));
  Result<Bme280Calibration> cal = ParseCalibration(a, b);
  if (!cal.ok()) return cal.status().WithContext(Context("calibration"));
  calibration_ = *cal;
  return Status::Ok();
}

Status Bme280::Configure() {
  // Section 5.4.3: ctrl_hum takes effect on the following ctrl_meas write;
  // section 5.4.6: config is written in sleep mode. One transaction, pairs of
  // (register, value) as in section 6.2.1.
  const uint8_t pairs[] = {reg::kCtrlHum, kCtrlHumX1, reg::kConfig, kConfigFilterOff,
                           reg::kCtrlMeas, kCtrlMeasSleep};
  Status s = WriteRegisters(pairs, "configuring oversampling");
  if (!s.ok()) calibration_.reset();
  return s;
}

Status Bme280::WaitForMeasurement() {
  // ctrl_hum (0xF2), status (0xF3) and ctrl_meas (0xF4) in one read: done when
  // `measuring` is clear and the chip is back in sleep mode (section 3.3.3),
  // which also covers a poll that lands before the conversion has started.
  uint8_t ctrl_hum = 0;
  Status s = PollUntil(clock_, kMeasureTimeout, [&]() -> Result<Poll> {
    uint8_t regs[3] = {};
    EF_RETURN_IF_ERROR(ReadRegisters(reg::kCtrlHum, regs, "polling status"));
    ctrl_hum = regs[0];
    const bool measuring = (regs[1] & reg::kStatusMeasuring) != 0;
    const bool sleeping = (regs[2] & reg::kModeMask) == reg::kModeSleep;
    return measuring || !sleeping ? Poll::kPending : Poll::kDone;
  });
  if (s.code() == StatusCode::kDeadlineExceeded) {
    return DeadlineExceeded(Context("measurement still running after 20 ms (status.measuring set)"));
  }
  EF_RETURN_IF_ERROR(s);
  // Temperature and pressure oversampling are set by the very ctrl_meas write
  // that started this measurement, so they cannot be skipped. Humidity can: a
  // chip that reset behind our back has osrs_h = 0 and outputs the reset value
  // 0x8000 (section 5.4.3). The skip markers themselves are valid readings
  // when a channel is enabled (0x80000 is ~26.46 degC here), so they are not
  // tested; the configuration is.
  if ((ctrl_hum & 0x07) == 0) {
    calibration_.reset();  // re-Init() on the next attempt
    return DataLoss(Context("measurement skipped (humidity oversampling is 0: chip reset?)"));
  }
  return Status::Ok();
}

Result<Bme280Raw> Bme280::ReadRaw() {
  uint8_t burst[reg::kBurstLength];
  EF_RETURN_IF_ERROR(ReadRegisters(reg::kPressMsb, burst, "reading data 0xf7..0xfe"));
  return ParseRawData(burst);
}

Status Bme280::ReadRegisters(uint8_t first, MutBytes out, const char* what) {
  return bus_.WriteRead(address_, ConstBytes(&first, 1), out, kBusTimeout).WithContext(Context(what));
}

Status Bme280::WriteRegisters(ConstBytes reg_value_pairs, const char* what) {
  return bus_.Write(address_, reg_value_pairs, kBusTimeout).WithContext(Context(what));
}

std::string Bme280::Context(const std::string& what) const { return "bme280@" + Hex(address_) + ": " + what; }

}  // namespace edgeforge
