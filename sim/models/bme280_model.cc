#include "sim/models/bme280_model.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

namespace edgeforge {
namespace {

namespace reg = bme280_reg;

constexpr int kAdcBitsTempPress = 20;
constexpr int kAdcBitsHum = 16;

// Among ADC values on the grid k << (adc_bits - bits), the one whose
// compensated value (monotonic in k, either direction) is closest to `target`,
// never `avoid`.
template <typename Compensated>
int32_t InvertMonotonic(Compensated value_at, double target, int bits, int adc_bits, int32_t avoid) {
  const int shift = adc_bits - bits;
  const int64_t n = int64_t{1} << bits;
  auto adc = [shift](int64_t k) { return static_cast<int32_t>(k << shift); };
  const bool increasing = value_at(adc(n - 1)) >= value_at(adc(0));
  auto reached = [&](int64_t k) {
    const double v = value_at(adc(k));
    return increasing ? v >= target : v <= target;
  };
  int64_t lo = 0;  // first k that reaches the target (n if none does)
  int64_t hi = n;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (reached(mid)) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  // The optimum is lo - 1 or lo; one further either side in case it is `avoid`.
  int32_t best = adc(std::min(lo, n - 1));
  double best_error = std::numeric_limits<double>::infinity();
  for (int64_t k = std::max<int64_t>(lo - 2, 0); k <= std::min<int64_t>(lo + 1, n - 1); ++k) {
    const double error = std::fabs(value_at(adc(k)) - target);
    if (adc(k) != avoid && error < best_error) {
      best = adc(k);
      best_error = error;
    }
  }
  return best;
}

// Output resolution with the IIR filter off: 16 + (osrs - 1) bits, 20 bits
// with the filter on (datasheet section 3.4); osrs codes 5..7 are all x16.
int ResolutionBits(unsigned osrs_code, bool filter_on) {
  if (filter_on) return kAdcBitsTempPress;
  return 16 + static_cast<int>(std::min(osrs_code, 5u)) - 1;
}

void PutLe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v & 0xFFu);
  p[1] = static_cast<uint8_t>(v >> 8);
}

void Put20(uint8_t* p, int32_t adc) {
  const auto v = static_cast<uint32_t>(adc);
  p[0] = static_cast<uint8_t>((v >> 12) & 0xFFu);
  p[1] = static_cast<uint8_t>((v >> 4) & 0xFFu);
  p[2] = static_cast<uint8_t>((v & 0x0Fu) << 4);
}

// Inverse of ParseCalibration (section 4.2.2, table 16). dig_H4/dig_H5 are
// 12-bit fields: values outside -2048..2047 are truncated, as in the NVM.
void WriteNvm(const Bme280Calibration& c, uint8_t* a /*0x88*/, uint8_t* b /*0xE1*/) {
  const int16_t signed_a[] = {c.dig_T2, c.dig_T3};
  PutLe16(a + 0, c.dig_T1);
  for (int i = 0; i < 2; ++i) PutLe16(a + 2 + 2 * i, static_cast<uint16_t>(signed_a[i]));
  PutLe16(a + 6, c.dig_P1);
  const int16_t p[] = {c.dig_P2, c.dig_P3, c.dig_P4, c.dig_P5, c.dig_P6, c.dig_P7, c.dig_P8, c.dig_P9};
  for (int i = 0; i < 8; ++i) PutLe16(a + 8 + 2 * i, static_cast<uint16_t>(p[i]));
  a[24] = 0x00;  // 0xA0: not calibration
  a[25] = c.dig_H1;
  PutLe16(b + 0, static_cast<uint16_t>(c.dig_H2));
  b[2] = c.dig_H3;
  const auto h4 = static_cast<uint16_t>(c.dig_H4);
  const auto h5 = static_cast<uint16_t>(c.dig_H5);
  b[3] = static_cast<uint8_t>((h4 >> 4) & 0xFFu);
  b[4] = static_cast<uint8_t>((h4 & 0x0Fu) | ((h5 & 0x0Fu) << 4));
  b[5] = static_cast<uint8_t>((h5 >> 4) & 0xFFu);
  b[6] = static_cast<uint8_t>(c.dig_H6);
}

}  // namespace

Bme280Calibration Bme280ExampleCalibration() {
  Bme280Calibration c;
  c.dig_T1 = 27504;
  c.dig_T2 = 26435;
  c.dig_T3 = -1000;
  c.dig_P1 = 36477;
  c.dig_P2 = -10685;
  c.dig_P3 = 3024;
  c.dig_P4 = 2855;
  c.dig_P5 = 140;
  c.dig_P6 = -7;
  c.dig_P7 = 15500;
  c.dig_P8 = -14600;
  c.dig_P9 = 6000;
  c.dig_H1 = 75;
  c.dig_H2 = 362;
  c.dig_H3 = 0;
  c.dig_H4 = 313;
  c.dig_H5 = 50;
  c.dig_H6 = 30;
  return c;
}

Bme280Raw EncodeAmbient(const Bme280Calibration& cal, double celsius, double pascal, double rel_humidity,
                        int temp_bits, int press_bits) {
  Bme280Raw raw;
  raw.adc_T = InvertMonotonic(
      [&](int32_t adc) { return CompensateTemperature(cal, adc).centi_celsius / 100.0; }, celsius, temp_bits,
      kAdcBitsTempPress, kBme280SkippedTempPress);
  const int32_t t_fine = CompensateTemperature(cal, raw.adc_T).t_fine;
  raw.adc_P = InvertMonotonic([&](int32_t adc) { return CompensatePressure(cal, adc, t_fine) / 256.0; },
                              pascal, press_bits, kAdcBitsTempPress, kBme280SkippedTempPress);
  raw.adc_H = InvertMonotonic([&](int32_t adc) { return CompensateHumidity(cal, adc, t_fine) / 1024.0; },
                              rel_humidity, kAdcBitsHum, kAdcBitsHum, kBme280SkippedHum);
  return raw;
}

Bme280Model::Bme280Model(const Bme280Calibration& calibration) : calibration_(calibration) {
  WriteNvm(calibration_, &regs_[reg::kCalib00], &regs_[reg::kCalib26]);
  regs_[reg::kChipId] = reg::kChipIdValue;
  PowerOnReset();
}

void Bme280Model::SetAmbient(double celsius, double pascal, double rel_humidity) {
  celsius_ = celsius;
  pascal_ = pascal;
  rel_humidity_ = rel_humidity;
  if ((regs_[reg::kCtrlMeas] & reg::kModeMask) == reg::kModeNormal) Measure();
}

Status Bme280Model::OnWriteRead(ConstBytes tx, MutBytes rx) {
  for (size_t i = 0; i < tx.size(); i += 2) {
    pointer_ = tx[i];
    if (i + 1 < tx.size()) WriteRegister(tx[i], tx[i + 1]);
  }
  for (uint8_t& byte : rx) byte = regs_[pointer_++];  // wraps at 0xFF like a uint8_t pointer
  return Status::Ok();
}

void Bme280Model::WriteRegister(uint8_t r, uint8_t value) {
  switch (r) {
    case reg::kReset:
      if (value == reg::kResetCommand) PowerOnReset();
      return;
    case reg::kCtrlHum:
      regs_[r] = value & 0x07u;
      return;
    case reg::kConfig:
      regs_[r] = value & 0xFDu;  // bit 1 reserved
      return;
    case reg::kCtrlMeas:
      regs_[r] = value;
      osrs_h_ = regs_[reg::kCtrlHum];
      if ((value & reg::kModeMask) != reg::kModeSleep) Measure();
      return;
    default:
      return;  // read-only or reserved: ignored
  }
}

void Bme280Model::PowerOnReset() {
  // Section 5.3 table 18 reset values. The NVM copy and the chip id survive; a
  // model is ready at once, so status.im_update never shows.
  regs_[reg::kReset] = 0x00;
  regs_[reg::kCtrlHum] = 0x00;
  regs_[reg::kStatus] = 0x00;
  regs_[reg::kCtrlMeas] = 0x00;
  regs_[reg::kConfig] = 0x00;
  const uint8_t data_reset[] = {0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00};
  std::copy(std::begin(data_reset), std::end(data_reset), &regs_[reg::kPressMsb]);
  osrs_h_ = 0;
}

void Bme280Model::Measure() {
  const uint8_t ctrl_meas = regs_[reg::kCtrlMeas];
  const unsigned osrs_t = ctrl_meas >> 5;
  const unsigned osrs_p = (ctrl_meas >> 2) & 0x07u;
  const bool filter_on = ((regs_[reg::kConfig] >> 2) & 0x07u) != 0;
  Bme280Raw raw = EncodeAmbient(calibration_, celsius_, pascal_, rel_humidity_,
                                ResolutionBits(osrs_t, filter_on), ResolutionBits(osrs_p, filter_on));
  // A skipped channel (osrs 000) outputs 0x80000 / 0x8000 (section 5.4.3, 5.4.5).
  if (osrs_t == 0) raw.adc_T = kBme280SkippedTempPress;
  if (osrs_p == 0) raw.adc_P = kBme280SkippedTempPress;
  if (osrs_h_ == 0) raw.adc_H = kBme280SkippedHum;
  Put20(&regs_[reg::kPressMsb], raw.adc_P);
  Put20(&regs_[reg::kPressMsb + 3], raw.adc_T);
  regs_[reg::kPressMsb + 6] = static_cast<uint8_t>((raw.adc_H >> 8) & 0xFF);
  regs_[reg::kPressMsb + 7] = static_cast<uint8_t>(raw.adc_H & 0xFF);
  ++measurements_;
  // Forced mode: back to sleep when done (section 3.3.3). The conversion is
  // instant, so status.measuring is never seen set.
  if ((ctrl_meas & reg::kModeMask) != reg::kModeNormal) {
    regs_[reg::kCtrlMeas] = static_cast<uint8_t>(ctrl_meas & ~reg::kModeMask);
  }
}

}  // namespace edgeforge
