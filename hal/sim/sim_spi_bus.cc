#include "hal/sim/sim_spi_bus.h"

#include <algorithm>
#include <string>
#include <vector>

namespace edgeforge {

SpiPeripheral::~SpiPeripheral() = default;

class SimSpiBus::Select final : public SpiDevice {
 public:
  Select(SimSpiBus& bus, uint8_t cs) : bus_(bus), cs_(cs) {}

 private:
  Status DoTransfer(ConstBytes tx, MutBytes rx, Millis /*timeout*/) override { return bus_.Route(cs_, tx, rx); }
  SimSpiBus& bus_;
  uint8_t cs_;
};

SimSpiBus::SimSpiBus() {
  for (uint8_t cs = 0; cs < kChipSelects; ++cs) selects_[cs] = std::make_unique<Select>(*this, cs);
}

SimSpiBus::~SimSpiBus() = default;

Status SimSpiBus::Attach(uint8_t cs, SpiPeripheral& peripheral) {
  if (cs >= kChipSelects) {
    return InvalidArgument("spi: chip select " + std::to_string(cs) + " out of range (0.." +
                           std::to_string(kChipSelects - 1) + ")");
  }
  if (peripherals_[cs] != nullptr) {
    return AlreadyExists("spi: a peripheral is already attached at chip select " + std::to_string(cs));
  }
  peripherals_[cs] = &peripheral;
  return Status::Ok();
}

void SimSpiBus::Detach(uint8_t cs) {
  if (cs < kChipSelects) peripherals_[cs] = nullptr;
}

Result<SpiDevice*> SimSpiBus::Device(uint8_t cs) {
  if (cs >= kChipSelects) return InvalidArgument("spi: chip select " + std::to_string(cs) + " out of range");
  return static_cast<SpiDevice*>(selects_[cs].get());
}

Status SimSpiBus::Route(uint8_t cs, ConstBytes tx, MutBytes rx) {
  const size_t n = std::max(tx.size(), rx.size());
  std::vector<uint8_t> mosi(n, 0x00);
  std::vector<uint8_t> miso(n, 0xFF);  // idle MISO, pulled up
  std::copy(tx.begin(), tx.end(), mosi.begin());
  SpiPeripheral* peripheral = peripherals_[cs];
  if (peripheral != nullptr) {
    EF_RETURN_IF_ERROR(peripheral->Transfer(ConstBytes(mosi.data(), n), MutBytes(miso.data(), n)));
  }
  std::copy(miso.begin(), miso.begin() + static_cast<long>(rx.size()), rx.begin());
  return Status::Ok();
}

}  // namespace edgeforge
