// Register-level model of a Bosch BME280 (datasheet BST-BME280-DS002), attached
// under a SimI2cBus at 0x76/0x77. The firmware's Bme280 driver talks to it with
// the same bytes as to the real chip; SetAmbient() is the "physics" knob.
#pragma once

#include <array>
#include <cstdint>

#include "firmware/drivers/bme280/bme280.h"
#include "hal/bytes.h"
#include "hal/sim/sim_i2c_bus.h"
#include "hal/status.h"

namespace edgeforge {

/// Trimming values of a real part: dig_T*/dig_P* are the worked example of the
/// Bosch BMP280/BME280 datasheets (adc_T 519888 -> 25.08 degC, adc_P 415148 ->
/// 100653 Pa); dig_H* are typical of production BME280s.
Bme280Calibration Bme280ExampleCalibration();

/// The ADC outputs whose datasheet compensation (the driver's own pure
/// functions) comes closest to the given ambient. Compensation is monotonic in
/// each ADC value, so each channel is a binary search. Temperature and
/// pressure are searched on a grid of `temp_bits` / `press_bits` (16..20, the
/// output resolution; the low bits of the 20-bit value are zero), humidity
/// on all 16 bits. Never returns a "skipped" marker value (0x80000 / 0x8000):
/// the nearest neighbour is used instead.
Bme280Raw EncodeAmbient(const Bme280Calibration& cal, double celsius, double pascal, double rel_humidity,
                        int temp_bits = 20, int press_bits = 20);

class Bme280Model final : public I2cPeripheral {
 public:
  explicit Bme280Model(const Bme280Calibration& calibration = Bme280ExampleCalibration());

  /// What the chip measures from now on. In normal mode the data registers
  /// update at once; in forced mode on the next measurement.
  void SetAmbient(double celsius, double pascal, double rel_humidity);

  /// Current content of a register (for tests and fault scenarios).
  uint8_t Register(uint8_t reg) const { return regs_[reg]; }
  /// Number of conversions done since construction.
  uint64_t measurements() const { return measurements_; }

 private:
  // Section 6.2: a write of [reg] sets the register pointer; [reg, value,
  // reg, value...] writes register/value pairs; reads auto-increment from
  // the pointer. Transactions complete instantly.
  Status OnWriteRead(ConstBytes tx, MutBytes rx) override;
  void WriteRegister(uint8_t reg, uint8_t value);
  void PowerOnReset();
  void Measure();

  Bme280Calibration calibration_;
  std::array<uint8_t, 256> regs_{};
  uint8_t pointer_ = 0;
  uint8_t osrs_h_ = 0;  // ctrl_hum as latched by the last ctrl_meas write (section 5.4.3)
  double celsius_ = 25.0;
  double pascal_ = 101325.0;
  double rel_humidity_ = 50.0;
  uint64_t measurements_ = 0;
};

}  // namespace edgeforge
