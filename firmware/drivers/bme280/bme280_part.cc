#include "firmware/drivers/bme280/bme280_part.h"

#include "firmware/drivers/bme280/bme280.h"
#include "firmware/drivers/bme280/bme280_source.h"

namespace edgeforge::app {
namespace {

Result<BuiltPart> Build(PartContext& c) {
  board::ParamReader p = board::ReadParams(c.board, c.device);
  EF_RETURN_IF_ERROR(p.Finish());
  auto bus = c.buses.I2c(c.bus);
  if (!bus.ok()) return c.Error(bus.status());
  Bme280& chip = c.Make<Bme280>(**bus, *c.device.address, c.clock);
  return BuiltPart{&c.Make<Bme280Source>(c.device.name, chip), {"temperature", "pressure", "humidity"}};
}

}  // namespace

const Part& Bme280Part() {
  static const Part kPart = {{"bosch,bme280",
                              "temperature, pressure and humidity sensor, I2C",
                              board::BusBit(board::BusType::kI2c),
                              {0x76, 0x77},
                              0,
                              -1,
                              {},
                              {},
                              "BME280 datasheet BST-BME280-DS002 section 6.2 (SDO to GND: 0x76, to VDDIO: 0x77)"},
                             Build};
  return kPart;
}

}  // namespace edgeforge::app
