// Texas Instruments ADS1115 16-bit delta-sigma ADC over I2C.
// Reference: datasheet SBAS444D (May 2009, revised January 2018). Split the
// Zephyr way: pure config encode/decode and code conversion (shared with the
// simulator's register model), and a thin stateful class doing single-shot
// conversions on an I2cBus.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hal/clock.h"
#include "hal/i2c.h"
#include "hal/status.h"

namespace edgeforge {

/// Section 9.6: the address pointer register selects one of four 16-bit
/// registers, all transferred MSB first.
namespace ads1115_reg {
inline constexpr uint8_t kConversion = 0x00;  // read-only, two's complement result
inline constexpr uint8_t kConfig = 0x01;
inline constexpr uint8_t kLoThresh = 0x02;
inline constexpr uint8_t kHiThresh = 0x03;
inline constexpr uint8_t kPointerMask = 0x03;  // P[1:0]; bits 7:2 reserved, written 0

// Reset values (9.6.2 .. 9.6.4).
inline constexpr uint16_t kConversionReset = 0x0000;
inline constexpr uint16_t kConfigReset = 0x8583;
inline constexpr uint16_t kLoThreshReset = 0x8000;
inline constexpr uint16_t kHiThreshReset = 0x7FFF;

// Config register fields (9.6.3).
inline constexpr uint16_t kOs = 1u << 15;  // write 1: start single-shot; read 1: not converting
inline constexpr int kMuxShift = 12;       // MUX[2:0] at 14:12
inline constexpr int kPgaShift = 9;        // PGA[2:0] at 11:9
inline constexpr uint16_t kModeSingleShot = 1u << 8;
inline constexpr int kDrShift = 5;  // DR[2:0] at 7:5
inline constexpr uint16_t kCompMode = 1u << 4;
inline constexpr uint16_t kCompPol = 1u << 3;
inline constexpr uint16_t kCompLat = 1u << 2;
inline constexpr uint16_t kCompQueMask = 0x03;
inline constexpr uint16_t kCompQueDisable = 0x03;  // comparator off, ALERT/RDY high-Z
}  // namespace ads1115_reg

/// MUX[2:0] (9.6.3): AINP / AINN.
enum class Ads1115Mux : uint8_t {
  kAin0Ain1 = 0,  // differential AIN0 - AIN1 (power-on default)
  kAin0Ain3 = 1,  // differential AIN0 - AIN3
  kAin1Ain3 = 2,  // differential AIN1 - AIN3
  kAin2Ain3 = 3,  // differential AIN2 - AIN3
  kAin0 = 4,      // single-ended AIN0 - GND
  kAin1 = 5,      // single-ended AIN1 - GND
  kAin2 = 6,      // single-ended AIN2 - GND
  kAin3 = 7,      // single-ended AIN3 - GND
};

/// PGA[2:0] (9.6.3): full-scale range. Codes 6 and 7 are also +-0.256 V; they
/// decode to their raw value so an encode/decode round trip is exact.
enum class Ads1115Pga : uint8_t {
  kFsr6144mV = 0,  // +-6.144 V (the input is still limited to VDD + 0.3 V)
  kFsr4096mV = 1,  // +-4.096 V
  kFsr2048mV = 2,  // +-2.048 V (power-on default)
  kFsr1024mV = 3,  // +-1.024 V
  kFsr512mV = 4,   // +-0.512 V
  kFsr256mV = 5,   // +-0.256 V
};

/// DR[2:0] (9.6.3): output data rate.
enum class Ads1115DataRate : uint8_t {
  kSps8 = 0,
  kSps16 = 1,
  kSps32 = 2,
  kSps64 = 3,
  kSps128 = 4,  // power-on default
  kSps250 = 5,
  kSps475 = 6,
  kSps860 = 7,
};

/// The config register as fields. Defaults are the power-on values (0x8583).
struct Ads1115Config {
  bool os = true;  // write: start a single-shot conversion; read: true = not converting
  Ads1115Mux mux = Ads1115Mux::kAin0Ain1;
  Ads1115Pga pga = Ads1115Pga::kFsr2048mV;
  bool single_shot = true;  // MODE: single-shot / power-down (false: continuous)
  Ads1115DataRate data_rate = Ads1115DataRate::kSps128;
  bool comp_window = false;                           // COMP_MODE
  bool comp_active_high = false;                      // COMP_POL
  bool comp_latching = false;                         // COMP_LAT
  uint8_t comp_queue = ads1115_reg::kCompQueDisable;  // COMP_QUE[1:0]
};

/// Section 9.6.3 field layout; bits of comp_queue above 1:0 are dropped.
uint16_t EncodeConfig(const Ads1115Config& config);
Ads1115Config DecodeConfig(uint16_t value);
bool operator==(const Ads1115Config& a, const Ads1115Config& b);
inline bool operator!=(const Ads1115Config& a, const Ads1115Config& b) { return !(a == b); }

/// Section 9.3.3: the positive full scale of a PGA setting, in volts (4.096).
double FullScaleVolts(Ads1115Pga pga);
/// Section 9.3.3: one LSB = FSR / 2^15 (125 uV at +-4.096 V).
double LsbVolts(Ads1115Pga pga);
/// Section 9.5.4: two's complement code to volts (0x7FFF at 4.096 V: 4.095875 V).
double CodeToVolts(int16_t code, Ads1115Pga pga);
/// Section 9.5.4: 0x7FFF is returned for inputs at or above +FS (2^15-1)/2^15,
/// 0x8000 at or below -FS: the input is clipped and the value is unusable.
bool IsSaturated(int16_t code);
/// OUT_OF_RANGE naming the input, the full scale and the next larger PGA
/// range when `code` is saturated; OK otherwise. `part` prefixes the message.
Status CheckSaturation(int16_t code, Ads1115Mux mux, Ads1115Pga pga, const std::string& part);

/// "AIN0-AIN1", "AIN2-GND".
const char* MuxName(Ads1115Mux mux);

/// Samples per second for a DR setting (8..860).
int SamplesPerSecond(Ads1115DataRate rate);
/// Section 9.3.6: a conversion settles in one cycle, so it takes 1 / DR at the
/// nominal 1 MHz oscillator; section 9.4.2.1 adds ~25 us of power-up in
/// single-shot mode. Rounded up to the microsecond.
Micros NominalConversionTime(Ads1115DataRate rate);
/// The longest a single-shot conversion can take: section 7.5 specifies a
/// data-rate variation of -10%..+10% (the oscillator, 9.3.5), so the slowest
/// part converts at 0.9 * DR: 25 us + 1 / (0.9 * DR).
Micros WorstCaseConversionTime(Ads1115DataRate rate);
/// The shortest: a part 10% fast converts in 1 / (1.1 * DR) (the power-up
/// time is only "approximately" 25 us, so it is not counted).
Micros FastestConversionTime(Ads1115DataRate rate);

/// One measurement setup: which input, at which range and rate.
struct Ads1115Input {
  Ads1115Mux mux = Ads1115Mux::kAin0;
  Ads1115Pga pga = Ads1115Pga::kFsr4096mV;
  Ads1115DataRate data_rate = Ads1115DataRate::kSps128;
};

/// The config word that starts one single-shot conversion of `input`,
/// comparator disabled (COMP_QUE = 11).
uint16_t SingleShotConfig(const Ads1115Input& input);

/// An ADS1115 on an I2C bus, used in single-shot mode (9.4.2.1) only.
class Ads1115 {
 public:
  /// Section 9.5.1.1: the ADDR pin tied to GND, VDD, SDA or SCL.
  static constexpr uint8_t kAddressGnd = 0x48;
  static constexpr uint8_t kAddressVdd = 0x49;
  static constexpr uint8_t kAddressSda = 0x4A;
  static constexpr uint8_t kAddressScl = 0x4B;

  Ads1115(I2cBus& bus, uint8_t address, Clock& clock);

  /// Puts the chip in power-down single-shot mode with the comparator off and
  /// checks the config reads back (the part has no ID register: a chip that
  /// ignores the write is FAILED_PRECONDITION). Safe to call again to recover.
  Status Init();
  /// One single-shot conversion: writes the config with OS = 1, polls OS
  /// (sleeping on the clock) until it reads 1, reads the conversion register.
  /// DEADLINE_EXCEEDED when OS is still 0 `timeout` after the start;
  /// DATA_LOSS when the config does not read back as written or OS reads 1
  /// sooner than any conversion can finish (the chip did not start one).
  /// Saturated codes are returned as is.
  Result<int16_t> Convert(const Ads1115Input& input, Micros timeout);
  /// Convert() in volts; OUT_OF_RANGE when the code is saturated.
  Result<double> ReadVolts(const Ads1115Input& input, Micros timeout);
  /// Back-to-back single-shot conversions until `span` of clock time has passed
  /// since the burst started (at least one). Each conversion gets
  /// WorstCaseConversionTime x 2 to finish. OUT_OF_RANGE if any sample saturates.
  Result<std::vector<double>> ReadBurst(const Ads1115Input& input, Micros span);

  uint8_t address() const { return address_; }
  /// "ads1115@0x48", the prefix of every error message.
  std::string Part() const;

 private:
  Status WriteRegister(uint8_t reg, uint16_t value, const char* what);
  Result<uint16_t> ReadRegister(uint8_t reg, const char* what);
  Status WaitForConversion(const Ads1115Input& input, uint16_t written, Micros start, Micros timeout);
  /// "ads1115@0x48: <what>", prefixed to every error.
  std::string Context(const std::string& what) const;

  I2cBus& bus_;
  uint8_t address_;
  Clock& clock_;
  bool initialized_ = false;
};

}  // namespace edgeforge
