// What a part a board file may name needs from its bus. Each part states its
// own facts in its registry entry (firmware/app/part.h), next to its driver;
// docs/boards.md lists them, and the board parser checks every device
// against them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgeforge::board {

struct Device;

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
  /// Why the part cannot be sampled every `sample_ms` with its params, or ""
  /// (null: any period). Board files and shadow configurations are checked
  /// with it before any driver exists.
  std::string (*sample_period_problem)(const Device& device, uint32_t sample_ms) = nullptr;
};

/// The known parts' entries, sorted by name: each part's own entry
/// (firmware/drivers/<part>/<part>_part.cc), listed in firmware/drivers/parts.h.
const std::vector<const Compatible*>& Compatibles();

/// The entry for `name`, or nullptr.
const Compatible* FindCompatible(std::string_view name);

/// "adi,adxl345, bosch,bme280, ..." for error messages.
std::string CompatibleNames();

/// "spi or i2c" for error messages, in BusType order of the mask's bits.
std::string BusMaskNames(BusMask mask);

}  // namespace edgeforge::board
