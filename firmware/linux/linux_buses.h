// The BusProvider of a flashed gateway: the Linux device nodes a board file
// names (/dev/i2c-1, /dev/spidev0.0, /dev/gpiochip0, /dev/ttyAMA0), each
// opened once and shared by the parts on it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "firmware/app/node.h"
#include "hal/linux/gpio_cdev.h"
#include "hal/linux/i2c_dev.h"
#include "hal/linux/spidev.h"
#include "hal/linux/termios_uart.h"

namespace edgeforge::app {

class LinuxBuses final : public BusProvider {
 public:
  Result<I2cBus*> I2c(const board::Bus& bus) override;
  Result<SpiDevice*> Spi(const board::Bus& bus, uint8_t cs) override;
  Result<GpioLine*> GpioInput(const board::Bus& bus, uint32_t offset, bool active_low, const std::string& consumer,
                              uint32_t event_buffer) override;
  Result<Uart*> UartPort(const board::Bus& bus) override;

 private:
  std::map<std::string, std::unique_ptr<LinuxI2cBus>> i2c_;
  std::map<std::string, std::unique_ptr<LinuxSpiDevice>> spi_;  // by node path
  std::map<std::pair<std::string, uint32_t>, std::unique_ptr<LinuxGpioLine>> gpio_;
  std::map<std::string, std::unique_ptr<LinuxUart>> uart_;
};

}  // namespace edgeforge::app
