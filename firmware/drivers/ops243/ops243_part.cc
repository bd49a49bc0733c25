#include "firmware/drivers/ops243/ops243_part.h"

#include <functional>
#include <map>
#include <string>

#include "firmware/drivers/ops243/radar_source.h"

namespace edgeforge::app {
namespace {

Result<BuiltPart> Build(PartContext& c) {
  auto config = ParseOps243Params(c.board, c.device);
  if (!config.ok()) return config.status();
  auto uart = c.buses.UartPort(c.bus);
  if (!uart.ok()) return c.Error(uart.status());
  Ops243& radar = c.Make<Ops243>(**uart, c.clock, *config);
  return BuiltPart{&c.Make<RadarSource>(c.device.name, radar), {"radar_speed"}};
}

}  // namespace

Result<Ops243Config> ParseOps243Params(const board::Board& board, const board::Device& device) {
  board::ParamReader p = board::ReadParams(board, device);
  Ops243Config config;
  config.name = device.name + "@" + device.bus;
  // The unit the module reports in; RadarSource converts to km/h either way.
  static const std::map<std::string, Ops243Unit, std::less<>> kUnits = {{"km/h", Ops243Unit::kKilometersPerHour},
                                                                        {"m/s", Ops243Unit::kMetersPerSecond},
                                                                        {"mph", Ops243Unit::kMilesPerHour},
                                                                        {"ft/s", Ops243Unit::kFeetPerSecond},
                                                                        {"cm/s", Ops243Unit::kCentimetersPerSecond}};
  const std::string units = p.EnumOr("units", "km/h", {"km/h", "m/s", "mph", "ft/s", "cm/s"});
  EF_RETURN_IF_ERROR(p.Finish());
  config.unit = kUnits.at(units);
  return config;
}

const Part& Ops243Part() {
  static const Part kPart = {
      {"omnipresense,ops243-a",
       "Doppler radar speed sensor, UART 8N1",
       board::BusBit(board::BusType::kUart),
       {},
       0,
       -1,
       {},
       {9600, 19200, 57600, 115200, 230400},
       "OPS243-A user manual UM-003-A 'UART Control' (I1..I5: 9600, 19200 default, 57600, 115200, 230400)"},
      Build};
  return kPart;
}

}  // namespace edgeforge::app
