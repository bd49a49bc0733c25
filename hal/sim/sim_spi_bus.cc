#include "hal/sim/sim_spi_bus.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace edgeforge {

SpiPeripheral::~SpiPeripheral() = default;

class SimSpiBus::Select final : public SpiDevice {
 public:
  Select(SimSpiBus& bus, uint8_t cs) : bus_(bus), cs_(cs) {}

 private:
  Status DoTransfer(ConstBytes tx, MutBytes rx, Millis timeout) override { return bus_.Route(cs_, tx, rx, timeout); }
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

void SimSpiBus::InjectFault(uint8_t cs, const FaultSpec& fault) {
  if (cs < kChipSelects) faults_[cs].Inject(fault);
}

void SimSpiBus::ClearFault(uint8_t cs) {
  if (cs < kChipSelects) faults_[cs].Clear();
}

uint64_t SimSpiBus::faults_hit(uint8_t cs) const { return cs < kChipSelects ? faults_[cs].hits() : 0; }

Status SimSpiBus::Route(uint8_t cs, ConstBytes tx, MutBytes rx, Millis timeout) {
  FaultKind kind = FaultKind::kNone;
  if (faults_[cs].armed()) {
    kind = faults_[cs].Next();
    if (kind == FaultKind::kTimeout) {
      return DeadlineExceeded("spi: chip select " + std::to_string(cs) + ": no completion within " +
                              std::to_string(timeout.count()) + " ms (injected timeout)");
    }
  }
  const bool cut = kind == FaultKind::kNack || kind == FaultKind::kDisconnect;
  SpiPeripheral* peripheral = cut ? nullptr : peripherals_[cs];
  if (peripheral == nullptr) {
    std::fill(rx.begin(), rx.end(), uint8_t{0xFF});  // idle MISO, pulled up
    return Status::Ok();
  }
  const size_t n = std::max(tx.size(), rx.size());
  mosi_.assign(n, 0x00);
  miso_.assign(n, 0xFF);
  std::copy(tx.begin(), tx.end(), mosi_.begin());
  EF_RETURN_IF_ERROR(peripheral->Transfer(ConstBytes(mosi_.data(), n), MutBytes(miso_.data(), n)));
  if (kind == FaultKind::kStuck) faults_[cs].Freeze(ConstBytes(mosi_.data(), n), MutBytes(miso_.data(), n));
  if (kind == FaultKind::kNoise) faults_[cs].AddNoise(MutBytes(miso_.data(), rx.size()));
  std::copy(miso_.begin(), miso_.begin() + static_cast<std::ptrdiff_t>(rx.size()), rx.begin());
  return Status::Ok();
}

}  // namespace edgeforge
