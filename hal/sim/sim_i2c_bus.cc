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
    return InvalidArgument("i2c: address " + Hex(address) +
                           " is reserved (usable 7-bit addresses are 0x08..0x77)");
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

Status SimI2cBus::DoWriteRead(uint8_t address, ConstBytes tx, MutBytes rx, Millis /*timeout*/) {
  if (address >= peripherals_.size()) {
    return InvalidArgument("i2c: address " + Hex(address) + " is not a 7-bit address");
  }
  // Fault injection (a later issue) hooks in here, before routing: NACKs,
  // timeouts, corrupted or short reads, per address and per transaction.
  I2cPeripheral* peripheral = peripherals_[address];
  if (peripheral == nullptr) return Unavailable("i2c: no ACK from " + Hex(address));
  return peripheral->Transfer(tx, rx);
}

}  // namespace edgeforge
