// Bosch BME280 humidity / pressure / temperature sensor over I2C.
// Reference: datasheet BST-BME280-DS002 (rev 1.6+). The driver is split the
// Zephyr way: register access (Bme280), pure parsing and integer compensation
// (free functions, shared with the simulator's register model), no I/O in the
// pure parts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "hal/bytes.h"
#include "hal/clock.h"
#include "hal/i2c.h"
#include "hal/status.h"

namespace edgeforge {

/// Register map, datasheet section 5.3 (table 18) and 5.4.
namespace bme280_reg {
inline constexpr uint8_t kCalib00 = 0x88;   // calib00..calib25: 0x88..0xA1
inline constexpr uint8_t kChipId = 0xD0;    // reads 0x60
inline constexpr uint8_t kReset = 0xE0;     // write kResetCommand for a power-on reset
inline constexpr uint8_t kCalib26 = 0xE1;   // calib26..calib32: 0xE1..0xE7
inline constexpr uint8_t kCtrlHum = 0xF2;   // osrs_h[2:0]; takes effect on a ctrl_meas write
inline constexpr uint8_t kStatus = 0xF3;    // measuring[3], im_update[0]
inline constexpr uint8_t kCtrlMeas = 0xF4;  // osrs_t[7:5] osrs_p[4:2] mode[1:0]
inline constexpr uint8_t kConfig = 0xF5;    // t_sb[7:5] filter[4:2] spi3w_en[0]
inline constexpr uint8_t kPressMsb = 0xF7;  // press F7..F9, temp FA..FC, hum FD..FE

inline constexpr uint8_t kChipIdValue = 0x60;
inline constexpr uint8_t kResetCommand = 0xB6;
inline constexpr uint8_t kStatusMeasuring = 1u << 3;
inline constexpr uint8_t kStatusImUpdate = 1u << 0;
inline constexpr uint8_t kModeMask = 0x03;
inline constexpr uint8_t kModeSleep = 0x00;
inline constexpr uint8_t kModeForced = 0x01;  // 0b10 is forced too
inline constexpr uint8_t kModeNormal = 0x03;

inline constexpr size_t kCalibALength = 26;  // 0x88..0xA1
inline constexpr size_t kCalibBLength = 7;   // 0xE1..0xE7
inline constexpr size_t kBurstLength = 8;    // 0xF7..0xFE
}  // namespace bme280_reg

/// ADC outputs that mean "measurement skipped" (osrs = 0): the data registers
/// keep their reset values 0x80 0x00 0x0 (section 5.4.7..5.4.9).
inline constexpr int32_t kBme280SkippedTempPress = 0x80000;
inline constexpr int32_t kBme280SkippedHum = 0x8000;

/// Trimming parameters, datasheet section 4.2.2 table 16.
struct Bme280Calibration {
  uint16_t dig_T1 = 0;
  int16_t dig_T2 = 0;
  int16_t dig_T3 = 0;
  uint16_t dig_P1 = 0;
  int16_t dig_P2 = 0;
  int16_t dig_P3 = 0;
  int16_t dig_P4 = 0;
  int16_t dig_P5 = 0;
  int16_t dig_P6 = 0;
  int16_t dig_P7 = 0;
  int16_t dig_P8 = 0;
  int16_t dig_P9 = 0;
  uint8_t dig_H1 = 0;
  int16_t dig_H2 = 0;
  uint8_t dig_H3 = 0;
  int16_t dig_H4 = 0;  // 12-bit signed: 0xE4[7:0] = bits 11:4, 0xE5[3:0] = bits 3:0
  int16_t dig_H5 = 0;  // 12-bit signed: 0xE6[7:0] = bits 11:4, 0xE5[7:4] = bits 3:0
  int8_t dig_H6 = 0;
};

/// Section 4.2.2: decodes the NVM blocks 0x88..0xA1 (26 bytes) and 0xE1..0xE7
/// (7 bytes). INVALID_ARGUMENT on a wrong length, DATA_LOSS when the NVM reads
/// blank (dig_T1 or dig_P1 zero: a compensation would divide by zero).
Result<Bme280Calibration> ParseCalibration(ConstBytes nvm_0x88_0xA1, ConstBytes nvm_0xE1_0xE7);

/// Uncompensated ADC outputs: 20-bit temperature and pressure, 16-bit humidity.
struct Bme280Raw {
  int32_t adc_T = 0;
  int32_t adc_P = 0;
  int32_t adc_H = 0;
};

/// Sections 5.4.7..5.4.9: decodes a burst read of 0xF7..0xFE
/// (press_msb, press_lsb, press_xlsb[7:4], temp x3, hum_msb, hum_lsb).
Bme280Raw ParseRawData(const uint8_t burst[bme280_reg::kBurstLength]);

struct Bme280Temperature {
  int32_t t_fine = 0;        // fine temperature carried into P and H compensation
  int32_t centi_celsius = 0;  // 5123 = 51.23 degC
};

/// Section 4.2.3 BME280_compensate_T_int32.
Bme280Temperature CompensateTemperature(const Bme280Calibration& cal, int32_t adc_T);
/// Section 4.2.3 BME280_compensate_P_int64: pascal in Q24.8 (24674867 = 96386.2 Pa).
/// 0 for the datasheet's divide-by-zero guard and for ADC values so far out of
/// range that the formula goes negative (keeps the output monotonic in adc_P).
uint32_t CompensatePressure(const Bme280Calibration& cal, int32_t adc_P, int32_t t_fine);
/// Section 4.2.3 bme280_compensate_H_int32: %RH in Q22.10 (47445 = 46.333 %RH),
/// clamped to 0..100 %RH by the formula itself.
uint32_t CompensateHumidity(const Bme280Calibration& cal, int32_t adc_H, int32_t t_fine);

struct Bme280Reading {
  double temperature_c = 0;  // resolution 0.01 degC
  double pressure_pa = 0;    // resolution 1/256 Pa (the ADC at osrs x1: ~2.6 Pa)
  double humidity_rh = 0;    // resolution 1/1024 %RH
};

/// All three compensations (section 4.2.3 / 8.2), integer arithmetic, then
/// converted to SI-ish units. Pure: does not check for skipped measurements.
Bme280Reading Compensate(const Bme280Calibration& cal, const Bme280Raw& raw);

/// A BME280 on an I2C bus, in forced mode with x1 oversampling and no IIR
/// filter (datasheet 3.5.1 "weather monitoring"): one measurement per Read().
class Bme280 {
 public:
  static constexpr uint8_t kAddressSdoLow = 0x76;
  static constexpr uint8_t kAddressSdoHigh = 0x77;

  Bme280(I2cBus& bus, uint8_t address, Clock& clock);

  /// Checks the chip id, soft-resets, waits for the NVM copy, reads the
  /// calibration and configures oversampling. Safe to call again to recover.
  Status Init();
  /// Triggers one forced measurement, polls until it completes, compensates.
  /// DATA_LOSS when humidity was skipped (the chip lost its configuration).
  Result<Bme280Reading> Read();

  /// The calibration read by Init(), if it succeeded.
  const std::optional<Bme280Calibration>& calibration() const { return calibration_; }

 private:
  Status CheckChipId();
  Status SoftReset();
  Status ReadCalibration();
  Status Configure();
  Status WaitForMeasurement();
  Result<Bme280Raw> ReadRaw();

  Status ReadRegisters(uint8_t first, MutBytes out, const char* what);
  Status WriteRegisters(ConstBytes reg_value_pairs, const char* what);
  /// "bme280@0x76: <what>", prefixed to every error.
  std::string Context(const std::string& what) const;

  I2cBus& bus_;
  uint8_t address_;
  Clock& clock_;
  std::optional<Bme280Calibration> calibration_;
};

}  // namespace edgeforge
