// Simulated SPI bus: routes each transaction by chip select to a peripheral
// model that answers at register level (DESIGN.md principle 3).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "hal/bytes.h"
#include "hal/clock.h"
#include "hal/sim/fault.h"
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

  /// Makes transfers on `cs` misbehave as `fault` says (hal/sim/fault.h);
  /// nothing needs to be attached there. Ignored for cs >= kChipSelects.
  void InjectFault(uint8_t cs, const FaultSpec& fault);
  void ClearFault(uint8_t cs);
  /// Transfers on `cs` the fault hit since it was injected.
  uint64_t faults_hit(uint8_t cs) const;

 private:
  class Select;
  Status Route(uint8_t cs, ConstBytes tx, MutBytes rx, Millis timeout);

  std::array<SpiPeripheral*, kChipSelects> peripherals_{};
  std::array<std::unique_ptr<Select>, kChipSelects> selects_;
  std::array<FaultInjector, kChipSelects> faults_;
  // Padded MOSI and full MISO of the transfer in progress, reused so a
  // transfer does not allocate once the bus has seen its longest one.
  std::vector<uint8_t> mosi_;
  std::vector<uint8_t> miso_;
};

}  // namespace edgeforge
