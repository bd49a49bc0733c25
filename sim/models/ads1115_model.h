// Register-level model of a TI ADS1115 (datasheet SBAS444D), attached under a
// SimI2cBus at 0x48..0x4B. The firmware's Ads1115 driver talks to it with the
// same bytes as to the real chip; SetInput() is the "physics" knob.
//
// Time comes from the device's own Clock (a ManualClock in the simulator): a
// conversion started at t completes at t + 25 us + 1 / DR, and the result is
// the input sampled at that instant. Nothing runs between accesses; each
// access works out what has happened since, in constant time.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <utility>

#include "firmware/drivers/ads1115/ads1115.h"
#include "hal/bytes.h"
#include "hal/clock.h"
#include "hal/sim/sim_i2c_bus.h"
#include "hal/status.h"

namespace edgeforge {

class Ads1115Model final : public I2cPeripheral {
 public:
  /// Voltage at a pin vs GND as a function of the clock's monotonic seconds.
  using Signal = std::function<double(double seconds)>;

  explicit Ads1115Model(const Clock& clock);

  /// What pin AIN0..AIN3 carries from now on (all pins start at 0 V).
  /// INVALID_ARGUMENT for a pin outside 0..3 or an empty function.
  Status SetInput(int ain, Signal volts);
  /// Oscillator error as a fraction: +0.05 converts 5% faster than nominal.
  /// Section 7.5 allows -0.10..+0.10; the model takes any value > -1.
  void SetDataRateError(double fraction);
  /// Power cycle: registers to their reset values, any conversion dropped.
  void PowerOnReset();

  /// What a read of register `pointer` (0..3) returns now.
  uint16_t Register(uint8_t pointer) const;
  /// Conversions completed since construction (continuous ones included).
  uint64_t conversions() const { return Now().conversions; }
  /// Differential input the mux selects at `seconds`, before clipping.
  double InputVolts(Ads1115Mux mux, double seconds) const;
  /// The pins `mux` connects (section 9.6.3 MUX[2:0]): {AINP, AINN}, AINN
  /// -1 for GND (single-ended).
  static std::pair<int, int> MuxPins(Ads1115Mux mux);

 private:
  // Section 9.5.3: [pointer] sets the pointer; [pointer, msb, lsb] writes a
  // register; reads return the pointed register MSB first (repeating).
  Status OnWriteRead(ConstBytes tx, MutBytes rx) override;
  void WriteRegister(uint8_t pointer, uint16_t value);

  struct State {
    uint16_t conversion = 0;
    bool converting = false;
    uint64_t conversions = 0;
  };
  /// The conversion register and status as of the clock's now.
  State Now() const;
  /// Commits Now() before anything that changes what later conversions see.
  void Settle();
  int16_t Sample(Ads1115Mux mux, Ads1115Pga pga, double seconds) const;
  /// 1 / DR at this part's oscillator, microseconds.
  double PeriodMicros(Ads1115DataRate rate) const;

  const Clock& clock_;
  std::array<Signal, 4> inputs_;
  double rate_error_ = 0;
  uint8_t pointer_ = 0;
  // Without OS, which is derived from the conversion state.
  uint16_t config_ = static_cast<uint16_t>(ads1115_reg::kConfigReset & ~ads1115_reg::kOs);
  uint16_t lo_thresh_ = 0;
  uint16_t hi_thresh_ = 0;
  State state_;
  // Single-shot conversion in flight: the input latched at its start.
  Micros done_at_{0};
  Ads1115Mux pending_mux_ = Ads1115Mux::kAin0Ain1;
  Ads1115Pga pending_pga_ = Ads1115Pga::kFsr2048mV;
  // Continuous mode: conversions complete every period from this instant.
  Micros continuous_since_{0};
  uint64_t continuous_base_ = 0;  // conversions completed before continuous mode began
};

}  // namespace edgeforge
