// OmniPreSense OPS243-A 24 GHz Doppler radar speed sensor on a UART.
//
// References (the module's serial API; commands are ASCII, two characters,
// those with a number end with a carriage return):
//  [UM] UM-003-A OPS243-A User Manual, "API Commands":
//       ?? module information -> {"Product":"OPS243"} {"Version":...}
//          {"SamplingRate":10000, "resolution":0.0607} ...
//       ?P -> {"Product":"OPS243 Doppler"}; ?V -> {"Version":"1.3.1"}
//       U? -> {"Units":"m-per-sec"}; UC/UF/UK/UM/US set cm/s, ft/s, km/h, m/s
//          (the default), mph and answer {"Units":"cm-per-sec" | "ft-per-sec" |
//          "km-per-hr" | "m-per-sec" | "mph"}; mph uses the international mile.
//       SI/SV/SX(S1)/S2/SL/SC: 1/5/10/20/50/100 k samples/s; S> S< S{: buffer
//          1024/512/256 samples.
//       Fn: n (0..5) decimal places of reported values.
//  [UM2] OPS-UM-001-C OPS242-A User Manual (same API family):
//       OJ / Oj: JSON output on / off, e.g. {"speed":0.58, "direction":"inbound",
//          "time":105, "tick":135}; R>n / R<n: speed filter (needs a carriage
//          return); R+ inbound only, R- outbound only, R| both directions.
//  [AN] AN-010 "API Interface Specification" (OPS241/242/243): the same
//       commands across the family.
// Not found in the documents above, so ASSUMED here (marked where used):
//  - plain (non-JSON) reports are one signed number per line, positive =
//    inbound (towards the sensor), negative = outbound, as public OPS243
//    drivers parse them;
//  - JSON reports of an outbound target carry a positive speed with
//    "direction":"outbound" (a negative speed is accepted when consistent);
//  - a JSON report may carry a "unit" key with the U? labels above.
//
// Maximum speed: the module samples I and Q, so Doppler shifts up to fs/2
// are unambiguous: v_max = fs * lambda / 4 with lambda = c / 24.125 GHz
// (31.1 m/s at 10 kS/s); one FFT bin of a 1024-sample buffer is
// fs / 1024 * lambda / 2 = 0.0607 m/s at 10 kS/s, the "resolution" [UM] shows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hal/clock.h"
#include "hal/status.h"
#include "hal/uart.h"

namespace edgeforge {

enum class Ops243Unit : uint8_t {
  kMetersPerSecond,       // UM (power-on default)
  kCentimetersPerSecond,  // UC
  kFeetPerSecond,         // UF
  kKilometersPerHour,     // UK
  kMilesPerHour,          // US
};

/// The command that selects the unit ("UK").
const char* Ops243UnitCommand(Ops243Unit unit);
/// The module's name of the unit in {"Units":...} answers ("km-per-hr").
const char* Ops243UnitLabel(Ops243Unit unit);
/// The unit as UCUM ("km/h", "[mi_i]/h").
const char* Ops243UnitUcum(Ops243Unit unit);
/// Metres per second in one `unit`.
double Ops243UnitToMps(Ops243Unit unit);
std::optional<Ops243Unit> Ops243UnitFromLabel(std::string_view label);

enum class Ops243SampleRate : uint8_t {
  k1k,    // SI
  k5k,    // SV
  k10k,   // SX (power-on default)
  k20k,   // S2
  k50k,   // SL
  k100k,  // SC
};
const char* Ops243SampleRateCommand(Ops243SampleRate rate);
int Ops243SampleRateHz(Ops243SampleRate rate);
/// Carrier wavelength (m) at the 24.125 GHz default transmit frequency.
inline constexpr double kOps243WavelengthM = 299'792'458.0 / 24.125e9;
/// Samples per FFT buffer (power-on default, S>).
inline constexpr int kOps243BufferSamples = 1024;
/// The fastest unambiguous speed at `rate` (fs * lambda / 4).
double Ops243MaxSpeedMps(Ops243SampleRate rate);
/// One FFT bin (fs / 1024 * lambda / 2): the speed resolution.
double Ops243ResolutionMps(Ops243SampleRate rate);
/// Time to fill one buffer: the module reports at most once per buffer.
Micros Ops243ReportInterval(Ops243SampleRate rate);

enum class RadarDirection : uint8_t {
  kInbound,   // towards the sensor (positive in plain reports)
  kOutbound,  // away from the sensor (negative in plain reports)
};
const char* RadarDirectionName(RadarDirection d);

enum class Ops243Format : uint8_t {
  kPlain,  // Oj: one number per line
  kJson,   // OJ: one JSON object per line
};

/// One speed report.
struct RadarReport {
  double speed = 0;  // magnitude, >= 0, in `unit`
  Ops243Unit unit = Ops243Unit::kMetersPerSecond;
  bool unit_in_line = false;  // the line named its unit (else: ParseOptions::unit)
  RadarDirection direction = RadarDirection::kInbound;
  Ops243Format format = Ops243Format::kPlain;

  double speed_mps() const { return speed * Ops243UnitToMps(unit); }
};

struct Ops243ParseOptions {
  /// Unit of reports that do not name one (plain reports never do).
  Ops243Unit unit = Ops243Unit::kMetersPerSecond;
  /// Faster is OUT_OF_RANGE (the module cannot measure it: a corrupt line).
  double max_speed_mps = 0;  // 0: the power-on 10 kS/s limit
};

/// Longest line the parsers accept (the longest documented answer is ~60 bytes).
inline constexpr size_t kOps243MaxLine = 256;

/// Strict parse of one speed report line (without its line ending):
/// plain `-12.3` or JSON `{"speed":12.3, "direction":"outbound"}`. DATA_LOSS
/// for anything malformed (not a number, bad JSON, a missing or duplicated
/// key, a direction that contradicts the sign, an answer line), OUT_OF_RANGE
/// above options.max_speed_mps; messages quote the offending text (truncated).
Result<RadarReport> ParseOps243Line(std::string_view line, const Ops243ParseOptions& options = {});

/// One key of an answer line; `value` is unquoted text (numbers as written).
struct Ops243Field {
  std::string key;
  std::string value;
  bool quoted = false;
};

/// True for lines that answer a command or query: a JSON object whose first
/// key starts with an upper-case letter ({"Units":...}, {"Product":...});
/// reports use lower-case keys.
bool IsOps243Answer(std::string_view line);
/// Strict parse of an answer line: one flat JSON object of string, number
/// and boolean values. DATA_LOSS quoting the text otherwise.
Result<std::vector<Ops243Field>> ParseOps243Answer(std::string_view line);

struct Ops243Config {
  /// Prefix of every error ("radar0@uart0").
  std::string name = "radar@uart0";
  Ops243Unit unit = Ops243Unit::kKilometersPerHour;
  /// 20 kS/s: up to 62.1 m/s (224 km/h) at 0.12 m/s resolution.
  Ops243SampleRate sample_rate = Ops243SampleRate::k20k;
  /// JSON output (OJ) names the direction; plain output (Oj) signs the speed.
  bool json = true;
  /// Decimal places of reported speeds (Fn, 0..5).
  int decimals = 1;
  /// How long Init() waits for each answer.
  Millis answer_timeout{500};
};

/// What the radar reported since the previous TakePeriod().
struct Ops243Period {
  std::vector<RadarReport> reports;
  uint64_t bad_lines = 0;        // lines that did not parse (noise, a corrupt byte)
  uint64_t overlong_lines = 0;   // lines longer than kOps243MaxLine, discarded
  uint64_t dropped_reports = 0;  // reports beyond Ops243::kMaxReports
  /// A report came in the wrong format or unit: the module lost the settings
  /// Init() made (it was power-cycled); Init() must run again.
  bool settings_lost = false;
  /// OK, or DATA_LOSS / OUT_OF_RANGE describing the first bad line.
  Status status;
};

class Ops243 {
 public:
  /// Reports kept between two TakePeriod() calls (~50 s of continuous
  /// reports at 20 kS/s); more are counted as dropped.
  static constexpr size_t kMaxReports = 1024;
  /// Bytes read per Uart::Read, and reads per Poll (bounds the work).
  static constexpr size_t kReadChunk = 256;
  static constexpr int kMaxReadsPerPoll = 32;
  /// Wait step while Init() waits for an answer.
  static constexpr Micros kAnswerPollStep{5'000};
  static constexpr Millis kWriteTimeout{100};

  /// `clock` is not const: Init() waits for answers with Clock::SleepFor.
  Ops243(Uart& uart, Clock& clock, Ops243Config config = {});

  /// Discards what is pending, sends the configuration (units, sample rate,
  /// decimals, both directions, output format), then checks that the module
  /// answers ?? with an OPS24x product and U? with the configured unit.
  /// DEADLINE_EXCEEDED "radar@uart0: no answer to ??" when it is silent.
  /// Safe to call again to recover.
  Status Init();
  /// Reads what has arrived (without waiting), splits lines and parses them.
  /// Returns the UART's errors; bad lines are counted in the period.
  Status Poll();
  Ops243Period TakePeriod();

  /// The product name the module gave in its last ?? answer.
  const std::string& product() const { return product_; }
  const Ops243Config& config() const { return config_; }

 private:
  Status Send(std::string_view command);
  /// Sends `command` and waits for an answer line carrying `key`.
  Result<std::string> Query(std::string_view command, const std::string& key);
  Status ReadAvailable();
  void OnByte(uint8_t b);
  void HandleLine(std::string_view line);
  void BadLine(const Status& s);
  void ResetPeriod();
  std::string Context() const { return config_.name + ": "; }

  Uart& uart_;
  Clock& clock_;
  Ops243Config config_;
  Ops243ParseOptions parse_;
  std::string line_;
  bool discarding_ = false;                     // inside an over-long line
  std::map<std::string, std::string> answers_;  // latest value per answer key
  std::string product_;
  std::vector<RadarReport> reports_;
  uint64_t bad_lines_ = 0;
  uint64_t overlong_lines_ = 0;
  uint64_t dropped_reports_ = 0;
  bool settings_lost_ = false;
  Status first_error_;
};

}  // namespace edgeforge
