#include "sim/node/sim_buses.h"

namespace edgeforge::sim {
namespace {

Status CheckType(const board::Bus& bus, board::BusType want) {
  if (bus.type == want) return Status::Ok();
  return InvalidArgument("simulated bus " + bus.name + " is " + board::BusTypeName(bus.type) + ", not " +
                         board::BusTypeName(want));
}

template <typename Map, typename Key, typename Make>
auto& GetOrMake(Map& map, const Key& key, Make make) {
  auto it = map.find(key);
  if (it == map.end()) it = map.emplace(key, make()).first;
  return *it->second;
}

}  // namespace

SimBuses::SimBuses(const Clock& clock) : clock_(clock) {}

SimBuses::~SimBuses() = default;

SimI2cBus& SimBuses::I2cSim(const std::string& bus) {
  return GetOrMake(i2c_, bus, [] { return std::make_unique<SimI2cBus>(); });
}

SimSpiBus& SimBuses::SpiSim(const std::string& bus) {
  return GetOrMake(spi_, bus, [] { return std::make_unique<SimSpiBus>(); });
}

SimGpioLine& SimBuses::GpioSim(const std::string& bus, uint32_t offset) {
  return GetOrMake(gpio_, std::make_pair(bus, offset),
                   [this] { return std::make_unique<SimGpioLine>(clock_, SimGpioLine::Direction::kInput); });
}

SimUart& SimBuses::UartSim(const std::string& bus) {
  return GetOrMake(uart_, bus, [this] { return std::make_unique<SimUart>(clock_); });
}

Result<edgeforge::I2cBus*> SimBuses::I2c(const board::Bus& bus) {
  EF_RETURN_IF_ERROR(CheckType(bus, board::BusType::kI2c));
  return static_cast<edgeforge::I2cBus*>(&I2cSim(bus.name));
}

Result<edgeforge::SpiDevice*> SimBuses::Spi(const board::Bus& bus, uint8_t cs) {
  EF_RETURN_IF_ERROR(CheckType(bus, board::BusType::kSpi));
  auto device = SpiSim(bus.name).Device(cs);
  if (!device.ok()) return device.status().WithContext("simulated bus " + bus.name);
  return *device;
}

Result<edgeforge::GpioLine*> SimBuses::GpioInput(const board::Bus& bus, uint32_t offset, bool /*active_low*/,
                                                 const std::string& /*consumer*/, uint32_t event_buffer) {
  EF_RETURN_IF_ERROR(CheckType(bus, board::BusType::kGpio));
  SimGpioLine& line = GpioSim(bus.name, offset);
  line.set_event_buffer(event_buffer);
  return static_cast<edgeforge::GpioLine*>(&line);
}

Result<edgeforge::Uart*> SimBuses::UartPort(const board::Bus& bus) {
  EF_RETURN_IF_ERROR(CheckType(bus, board::BusType::kUart));
  return static_cast<edgeforge::Uart*>(&UartSim(bus.name));
}

}  // namespace edgeforge::sim
