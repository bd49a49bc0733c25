#include "firmware/board/compatible.h"

namespace edgeforge::board {

const char* BusTypeName(BusType type) {
  switch (type) {
    case BusType::kI2c:
      return "i2c";
    case BusType::kSpi:
      return "spi";
    case BusType::kGpio:
      return "gpio";
    case BusType::kUart:
      return "uart";
  }
  return "?";
}

std::optional<BusType> ParseBusType(std::string_view name) {
  for (BusType t : {BusType::kI2c, BusType::kSpi, BusType::kGpio, BusType::kUart}) {
    if (name == BusTypeName(t)) return t;
  }
  return std::nullopt;
}

const Compatible* FindCompatible(std::string_view name) {
  for (const Compatible* c : Compatibles()) {
    if (c->name == name) return c;
  }
  return nullptr;
}

std::string CompatibleNames() {
  std::string out;
  for (const Compatible* c : Compatibles()) {
    if (!out.empty()) out += ", ";
    out += c->name;
  }
  return out;
}

std::string BusMaskNames(BusMask mask) {
  std::string out;
  for (BusType t : {BusType::kI2c, BusType::kSpi, BusType::kGpio, BusType::kUart}) {
    if ((mask & BusBit(t)) == 0) continue;
    if (!out.empty()) out += " or ";
    out += BusTypeName(t);
  }
  return out;
}

}  // namespace edgeforge::board
