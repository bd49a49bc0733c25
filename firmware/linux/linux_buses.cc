#include "firmware/linux/linux_buses.h"

namespace edgeforge::app {
namespace {

// Opens once per key; later calls share the open object.
template <typename Map, typename Key, typename Open>
auto OpenOnce(Map& map, const Key& key, Open open) -> Result<typename Map::mapped_type::element_type*> {
  auto it = map.find(key);
  if (it != map.end()) return it->second.get();
  auto opened = open();
  if (!opened.ok()) return opened.status();
  auto* raw = opened->get();
  map.emplace(key, std::move(*opened));
  return raw;
}

}  // namespace

Result<I2cBus*> LinuxBuses::I2c(const board::Bus& bus) {
  auto r = OpenOnce(i2c_, bus.linux_device, [&] { return LinuxI2cBus::Open(bus.linux_device); });
  if (!r.ok()) return r.status().WithContext("bus " + bus.name);
  return static_cast<I2cBus*>(*r);
}

Result<SpiDevice*> LinuxBuses::Spi(const board::Bus& bus, uint8_t cs) {
  const std::string path = bus.LinuxDevicePath(cs);
  SpiConfig config;
  config.mode = bus.mode;
  config.max_speed_hz = bus.max_speed_hz;
  auto r = OpenOnce(spi_, path, [&] { return LinuxSpiDevice::Open(path, config); });
  if (!r.ok()) return r.status().WithContext("bus " + bus.name);
  return static_cast<SpiDevice*>(*r);
}

Result<GpioLine*> LinuxBuses::GpioInput(const board::Bus& bus, uint32_t offset, bool active_low,
                                        const std::string& consumer, uint32_t event_buffer) {
  auto r = OpenOnce(gpio_, std::make_pair(bus.linux_device, offset), [&] {
    return LinuxGpioLine::OpenInput(bus.linux_device, offset, consumer, active_low, GpioBias::kAsIs, event_buffer);
  });
  if (!r.ok()) return r.status().WithContext("bus " + bus.name + " line " + std::to_string(offset));
  return static_cast<GpioLine*>(*r);
}

Result<Uart*> LinuxBuses::UartPort(const board::Bus& bus) {
  auto r =
      OpenOnce(uart_, bus.linux_device, [&] { return LinuxUart::Open(bus.linux_device, static_cast<int>(bus.baud)); });
  if (!r.ok()) return r.status().WithContext("bus " + bus.name);
  return static_cast<Uart*>(*r);
}

}  // namespace edgeforge::app
