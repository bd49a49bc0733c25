// Test support: a BusProvider of simulated buses with nothing attached unless
// a test attaches a model (firmware tests that build a node without the
// simulator's SimWorld).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "firmware/app/node.h"
#include "hal/sim/sim_gpio.h"
#include "hal/sim/sim_i2c_bus.h"
#include "hal/sim/sim_spi_bus.h"
#include "hal/sim/sim_uart.h"

namespace edgeforge::testing_support {

class BareBuses final : public app::BusProvider {
 public:
  explicit BareBuses(const Clock& clock) : clock_(clock) {}
  Result<I2cBus*> I2c(const board::Bus& bus) override { return &i2c_[bus.name]; }
  Result<SpiDevice*> Spi(const board::Bus& bus, uint8_t cs) override { return spi_[bus.name].Device(cs); }
  Result<GpioLine*> GpioInput(const board::Bus& bus, uint32_t offset, bool, const std::string&, uint32_t) override {
    auto& line = gpio_[bus.name + "/" + std::to_string(offset)];
    if (!line) line = std::make_unique<SimGpioLine>(clock_, SimGpioLine::Direction::kInput);
    return static_cast<GpioLine*>(line.get());
  }
  Result<Uart*> UartPort(const board::Bus& bus) override {
    auto& u = uart_[bus.name];
    if (!u) u = std::make_unique<SimUart>(clock_);
    return static_cast<Uart*>(u.get());
  }
  SimI2cBus& i2c(const std::string& name) { return i2c_[name]; }

 private:
  const Clock& clock_;
  std::map<std::string, SimI2cBus> i2c_;
  std::map<std::string, SimSpiBus> spi_;
  std::map<std::string, std::unique_ptr<SimGpioLine>> gpio_;
  std::map<std::string, std::unique_ptr<SimUart>> uart_;
};

}  // namespace edgeforge::testing_support
