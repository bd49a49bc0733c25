// The simulator's BusProvider: what app::BuildNode opens on a simulated node.
// Each board bus becomes a simulated one (hal/sim), created on first request
// from either side (the firmware through the BusProvider interface, the
// SimWorld through the Sim* accessors) and owned here, so a world and a node
// can be built in either order and meet on the same objects.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "firmware/app/node.h"
#include "firmware/board/board.h"
#include "hal/clock.h"
#include "hal/gpio.h"
#include "hal/i2c.h"
#include "hal/sim/sim_gpio.h"
#include "hal/sim/sim_i2c_bus.h"
#include "hal/sim/sim_spi_bus.h"
#include "hal/sim/sim_uart.h"
#include "hal/spi.h"
#include "hal/status.h"
#include "hal/uart.h"

namespace edgeforge::sim {

/// One simulated device's buses. Must outlive the Node built on it and the
/// SimWorld whose models are attached to it. Used from the device's thread.
class SimBuses final : public app::BusProvider {
 public:
  /// `clock` is the device's clock (GPIO edges and UART bytes arrive on it).
  explicit SimBuses(const Clock& clock);
  ~SimBuses() override;
  SimBuses(const SimBuses&) = delete;
  SimBuses& operator=(const SimBuses&) = delete;

  /// INVALID_ARGUMENT naming the bus when its type does not match the request
  /// (and, for Spi, when cs is outside 0..3).
  Result<edgeforge::I2cBus*> I2c(const board::Bus& bus) override;
  Result<edgeforge::SpiDevice*> Spi(const board::Bus& bus, uint8_t cs) override;
  /// An input line. The simulated line carries logical levels (what the
  /// model drives is "active"), so `active_low` needs no inversion here.
  /// Sizes the line's event buffer as a Linux line request would.
  Result<edgeforge::GpioLine*> GpioInput(const board::Bus& bus, uint32_t offset, bool active_low,
                                         const std::string& consumer, uint32_t event_buffer) override;
  Result<edgeforge::Uart*> UartPort(const board::Bus& bus) override;

  /// Model side: the bus named `bus` (a key of the board's "buses"), created
  /// on first use. References stay valid as long as this object.
  SimI2cBus& I2cSim(const std::string& bus);
  SimSpiBus& SpiSim(const std::string& bus);
  SimGpioLine& GpioSim(const std::string& bus, uint32_t offset);
  SimUart& UartSim(const std::string& bus);

  const Clock& clock() const { return clock_; }

 private:
  const Clock& clock_;
  std::map<std::string, std::unique_ptr<SimI2cBus>> i2c_;
  std::map<std::string, std::unique_ptr<SimSpiBus>> spi_;
  std::map<std::pair<std::string, uint32_t>, std::unique_ptr<SimGpioLine>> gpio_;
  std::map<std::string, std::unique_ptr<SimUart>> uart_;
};

}  // namespace edgeforge::sim
