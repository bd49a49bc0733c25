#include "hal/sim/sim_i2c_bus.h"

#include <cstdio>
#include <string>

namespace edgeforge {
namespace {

std::string Hex(uint8_t address) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", address);
  return buf;
}

}  // namespace

I2cPeripheral::~I2cPeripheral() = default;

Status SimI2cBus::Attach(uint8_t address, I2cPeripheral& peripheral) {
  if (address < kMinAddress || address > kMaxAddress) {
    return InvalidArgument("i2c: address " + Hex(address) + " is reserved (usable 7-bit addresses are 0x08..0x77)");
  }
  if (peripherals_[address] != nullptr) {
    return AlreadyExists("i2c: a peripheral is already attached at " + Hex(address));
  }
  peripherals_[address] = &peripheral;
  return Status::Ok();
}

void SimI2cBus::Detach(uint8_t address) {
  if (address < peripherals_.size()) peripherals_[address] = nullptr;
}

void SimI2cBus::InjectFault(uint8_t address, const FaultSpec& fault) {
  FaultInjector* existing = FindFault(address);
  if (existing == nullptr) existing = &faults_.emplace_back(address, FaultInjector()).second;
  existing->Inject(fault);
}

void SimI2cBus::ClearFault(uint8_t address) {
  if (FaultInjector* fault = FindFault(address)) fault->Clear();
}

uint64_t SimI2cBus::faults_hit(uint8_t address) const {
  for (const auto& [a, fault] : faults_) {
    if (a == address) return fault.hits();
  }
  return 0;
}

FaultInjector* SimI2cBus::FindFault(uint8_t address) {
  for (auto& [a, fault] : faults_) {
    if (a == address) return &fault;
  }
  return nullptr;
}

Status SimI2cBus::DoWriteRead(uint8_t address, ConstBytes tx, MutBytes rx, Millis timeout) {
  if (address >= peripherals_.size()) {
    return InvalidArgument("i2c: address " + Hex(address) + " is not a 7-bit address");
  }
  if (!faults_.empty()) {
    FaultInjector* fault = FindFault(address);
    if (fault != nullptr && fault->armed()) return Faulted(*fault, address, tx, rx, timeout);
  }
  I2cPeripheral* peripheral = peripherals_[address];
  if (peripheral == nullptr) return Unavailable("i2c: no ACK from " + Hex(address));
  return peripheral->Transfer(tx, rx);
}

Status SimI2cBus::Faulted(FaultInjector& fault, uint8_t address, ConstBytes tx, MutBytes rx, Millis timeout) {
  const FaultKind kind = fault.Next();
  switch (kind) {
    case FaultKind::kNack:
    case FaultKind::kDisconnect:
      return Unavailable("i2c: no ACK from " + Hex(address) + " (injected " + FaultKindName(kind) + ")");
    case FaultKind::kTimeout:
      return DeadlineExceeded("i2c: " + Hex(address) + ": no completion within " + std::to_string(timeout.count()) +
                              " ms (injected timeout)");
    default:
      break;
  }
  I2cPeripheral* peripheral = peripherals_[address];
  if (peripheral == nullptr) return Unavailable("i2c: no ACK from " + Hex(address));
  EF_RETURN_IF_ERROR(peripheral->Transfer(tx, rx));
  if (kind == FaultKind::kStuck && !rx.empty()) fault.Freeze(tx, rx);
  if (kind == FaultKind::kNoise) fault.AddNoise(rx);
  return Status::Ok();
}

}  // namespace edgeforge
