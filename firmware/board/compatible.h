// The parts a board file may name, and what each needs from its bus. This
// table is the one place that knows them; docs/boards.md lists it, and the
// board parser checks every device against it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edgeforge::board {

enum class BusType : uint8_t {
  kI2c,   // Linux i2c-dev node; devices have a 7-bit address
  kSpi,   // Linux spidev nodes, one per chip select; devices have a cs
  kGpio,  // Linux GPIO character device; devices own named line offsets
  kUart,  // Linux tty; exactly one device per port, at the bus's baud rate
};

/// "i2c", "spi", "gpio", "uart": the spelling used in board files.
const char* BusTypeName(BusType type);
std::optional<BusType> ParseBusType(std::string_view name);

/// A set of bus types, one bit per BusType.
using BusMask = uint8_t;
constexpr BusMask BusBit(BusType type) { return static_cast<BusMask>(1u << static_cast<unsigned>(type)); }

struct Compatible {
  std::string_view name;                         // "vendor,part", as in Linux device tree bindings
  std::string_view description;                  // one line, for docs and `--check` output
  BusMask buses = 0;                             // which bus types the part (and its driver) can sit on
  std::array<uint8_t, 4> i2c_addresses{};        // strap-selectable addresses; 0 = unused slot
  uint32_t spi_max_hz = 0;                       // highest SCLK the part accepts
  int spi_mode = -1;                             // required SPI mode (CPOL << 1 | CPHA); -1 = any
  std::array<std::string_view, 4> gpio_lines{};  // line roles the part needs; empty = unused slot
  std::array<uint32_t, 6> uart_bauds{};          // rates the part can talk at; 0 = unused slot
  std::string_view reference;                    // where the facts above come from
};

/// The known parts, sorted by name.
inline constexpr std::array<Compatible, 5> kCompatibles = {{
    {"adi,adxl345",
     "3-axis accelerometer (vibration), 4-wire SPI or I2C",
     BusBit(BusType::kSpi) | BusBit(BusType::kI2c),
     {0x1D, 0x53},
     5'000'000,
     3,
     {},
     {},
     "ADXL345 datasheet rev. E: 'Serial communications' (SPI max 5 MHz, CPOL = 1, CPHA = 1; I2C 0x1D with "
     "ALT ADDRESS high, 0x53 low), table 10"},
    {"bosch,bme280",
     "temperature, pressure and humidity sensor, I2C",
     BusBit(BusType::kI2c),
     {0x76, 0x77},
     0,
     -1,
     {},
     {},
     "BME280 datasheet BST-BME280-DS002 section 6.2 (SDO to GND: 0x76, to VDDIO: 0x77)"},
    {"generic,dual-loop-detector",
     "two inductive loop detector outputs (presence), one lane: counts, speed, occupancy",
     BusBit(BusType::kGpio),
     {},
     0,
     -1,
     {"upstream", "downstream"},
     {},
     "detector card presence outputs wired to two GPIO inputs; spacing/loop length in params"},
    {"omnipresense,ops243-a",
     "Doppler radar speed sensor, UART 8N1",
     BusBit(BusType::kUart),
     {},
     0,
     -1,
     {},
     {9600, 19200, 57600, 115200, 230400},
     "OPS243-A user manual UM-003-A 'UART Control' (I1..I5: 9600, 19200 default, 57600, 115200, 230400)"},
    {"ti,ads1115",
     "16-bit 4-channel delta-sigma ADC with PGA (current transformers, 4-20 mA loops), I2C",
     BusBit(BusType::kI2c),
     {0x48, 0x49, 0x4A, 0x4B},
     0,
     -1,
     {},
     {},
     "ADS1115 datasheet SBAS444 section 9.5.1.1 (ADDR to GND 0x48, VDD 0x49, SDA 0x4A, SCL 0x4B)"},
}};

/// The table entry for `name`, or nullptr.
const Compatible* FindCompatible(std::string_view name);

/// "adi,adxl345, bosch,bme280, ..." for error messages.
std::string CompatibleNames();

/// "spi or i2c" for error messages, in BusType order of the mask's bits.
std::string BusMaskNames(BusMask mask);

}  // namespace edgeforge::board
