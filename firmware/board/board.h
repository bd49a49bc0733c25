// A board file says, as data, which part sits on which bus, address, chip
// select or GPIO line (docs/boards.md). The device binary opens the Linux
// nodes it names; the simulator attaches register-level models at the same
// places. Parsing is strict: unknown keys, wrong types, clashes and parts on
// the wrong bus are errors naming the file and the field path
// ("boards/x.json: devices[1].address: 0x76 already used on i2c1 by env0").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firmware/board/compatible.h"
#include "firmware/board/param_reader.h"
#include "hal/status.h"

namespace edgeforge::board {

/// Limits of the format (docs/boards.md "Limits").
inline constexpr size_t kMaxBoardBytes = 256 * 1024;
inline constexpr int kMaxNesting = 32;
inline constexpr uint32_t kMinSampleMs = 10;
inline constexpr uint32_t kMinReportMs = 1000;
inline constexpr uint32_t kMaxPeriodMs = 3'600'000;
/// I2C-bus specification UM10204 section 3.1.12: 0000xxx and 1111xxx are reserved.
inline constexpr uint8_t kMinI2cAddress = 0x08;
inline constexpr uint8_t kMaxI2cAddress = 0x77;
inline constexpr uint8_t kMaxSpiChipSelect = 3;
/// Baud rates every Linux tty driver offers as a termios Bxxx constant.
inline constexpr std::array<uint32_t, 11> kStandardBauds = {1200,  2400,   4800,   9600,   19200, 38400,
                                                            57600, 115200, 230400, 460800, 921600};

struct Bus {
  std::string name;  // "i2c1": the key in "buses"
  BusType type = BusType::kI2c;
  std::string linux_device;   // "/dev/i2c-1"; spi: contains "{cs}" ("/dev/spidev0.{cs}")
  uint32_t max_speed_hz = 0;  // spi only
  uint8_t mode = 0;           // spi only: CPOL << 1 | CPHA
  uint32_t baud = 0;          // uart only

  /// The Linux node for a device on this bus: linux_device with "{cs}" replaced
  /// by the device's chip select on spi, linux_device as is otherwise.
  std::string LinuxDevicePath(std::optional<uint8_t> cs) const;
};

struct Device {
  std::string name;                       // unique on the board; prefixes the device's faults ("env0: ...")
  std::string compatible;                 // a registered part (Compatibles())
  std::string bus;                        // a key of Board::buses
  std::optional<uint8_t> address;         // i2c parts: 7-bit address
  std::optional<uint8_t> cs;              // spi parts: chip select 0..3
  std::map<std::string, uint32_t> lines;  // gpio parts: role -> line offset on the chip
  bool active_low = false;                // gpio parts: line is asserted when low
  uint32_t sample_ms = 0;                 // sampling period
  Json params = Json::object();           // driver-specific; read with ReadParams()
  std::string path;                       // "devices[2]", to name this device in errors
  std::string params_path;                // "devices[2].params"
};

enum class AlarmCondition : uint8_t {
  kAbove,  // raised when the value goes above threshold, cleared below threshold - hysteresis
  kBelow,  // raised when the value goes below threshold, cleared above threshold + hysteresis
};

enum class Severity : uint8_t {
  kInfo,      // worth a look
  kWarning,   // needs attention soon
  kCritical,  // act now
};

const char* AlarmConditionName(AlarmCondition c);  // "above", "below"
const char* SeverityName(Severity s);              // "info", "warning", "critical"

/// An alarm rule as written in the board. Whether `channel` exists is checked
/// by whoever knows the channel names (the node builder), using `path`.
struct AlarmSpec {
  std::string channel;  // telemetry reading name ("temperature", "vibration_rms_z")
  AlarmCondition condition = AlarmCondition::kAbove;
  double threshold = 0;
  double hysteresis = 0;  // >= 0
  Severity severity = Severity::kWarning;
  std::string path;  // "alarms[1]"
};

struct Board {
  std::string source;       // the file it came from (error prefix)
  std::string name;         // [a-z0-9-]+
  std::string kind;         // node kind for telemetry: [a-z0-9_-]+
  std::string description;  // free text, may be empty
  std::map<std::string, Bus> buses;
  std::vector<Device> devices;  // in file order
  uint32_t report_ms = 0;       // telemetry reporting period
  std::vector<AlarmSpec> alarms;

  const Bus* FindBus(std::string_view bus_name) const;
  const Device* FindDevice(std::string_view device_name) const;
  /// The bus a parsed device sits on (always present in a parsed board).
  const Bus& BusOf(const Device& device) const;
};

/// Parses and validates a board. `source_name` prefixes every error
/// ("boards/factory-node.json: devices[0].bus: no bus \"i2c9\" (buses: i2c1, spi0)").
Result<Board> ParseBoard(std::string_view json, const std::string& source_name);

/// Reads `path` and parses it; errors are prefixed with the path.
Result<Board> LoadBoard(const std::string& path);

/// Why `device` cannot be sampled every `sample_ms` (an ADXL345 whose FIFO
/// would overfill between two drains: its part's Compatible says), or "" if
/// it can. The board parser and the shadow configuration both check periods
/// with it.
std::string SamplePeriodProblem(const Device& device, uint32_t sample_ms);

/// A reader over a device's params whose errors name the board file and
/// "devices[i].params....". `board` must outlive the reader.
ParamReader ReadParams(const Board& board, const Device& device);

}  // namespace edgeforge::board
