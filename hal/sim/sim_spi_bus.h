// Simulated SPI bus: routes each transaction by chip select to a peripheral
// model that answers at register level (DESIGN.md principle 3).
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "hal/bytes.h"
#include "hal/spi.h"
#include "hal/status.h"

namespace edgeforge {

/// A chip on a simulated SPI bus. Gets one whole chip-select-low transaction:
/// `mosi` and `miso` have the same length (the bus pads), byte i of miso is
/// what the chip shifts out while it receives byte i of mosi.
class SpiPeripheral {
 public:
  virtual ~SpiPeripheral();
  Status Transfer(ConstBytes mosi, MutBytes miso) { return OnTransfer(mosi, miso); }

 private:
  virtual Status OnTransfer(ConstBytes mosi, MutBytes miso) = 0;
};

/// An SPI bus with kChipSelects chip-select lines. A select with nothing
/// attached reads 0xFF (idle MISO with a pull-up) and is not an error: SPI
/// has no acknowledge. Used from one device's thread (not synchronized).
/// Peripherals are borrowed: they must outlive their attachment.
class SimSpiBus {
 public:
  static constexpr uint8_t kChipSelects = 4;
  SimSpiBus();
  ~SimSpiBus();
  SimSpiBus(const SimSpiBus&) = delete;
  SimSpiBus& operator=(const SimSpiBus&) = delete;

  /// INVALID_ARGUMENT for cs >= kChipSelects; ALREADY_EXISTS if taken.
  Status Attach(uint8_t cs, SpiPeripheral& peripheral);
  void Detach(uint8_t cs);
  /// The chip at `cs` as the firmware sees it; INVALID_ARGUMENT for a bad cs.
  /// The pointer lives as long as the bus.
  Result<SpiDevice*> Device(uint8_t cs);

 private:
  class Select;
  Status Route(uint8_t cs, ConstBytes tx, MutBytes rx);

  std::array<SpiPeripheral*, kChipSelects> peripherals_{};
  std::array<std::unique_ptr<Select>, kChipSelects> selects_;
};

}  // namespace edgeforge
