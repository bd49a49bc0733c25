#include "sim/node/part_model.h"

namespace edgeforge::sim {

BusPlacement::~BusPlacement() {
  if (i2c_ != nullptr) i2c_->Detach(at_);
  if (spi_ != nullptr) spi_->Detach(at_);
}

Status BusPlacement::Attach(const ModelContext& c, I2cPeripheral& model) {
  SimI2cBus& bus = c.buses.I2cSim(c.device.bus);
  EF_RETURN_IF_ERROR(bus.Attach(*c.device.address, model).WithContext(c.where));
  i2c_ = &bus;
  at_ = *c.device.address;
  return Status::Ok();
}

Status BusPlacement::Attach(const ModelContext& c, SpiPeripheral& model) {
  SimSpiBus& bus = c.buses.SpiSim(c.device.bus);
  EF_RETURN_IF_ERROR(bus.Attach(*c.device.cs, model).WithContext(c.where));
  spi_ = &bus;
  at_ = *c.device.cs;
  return Status::Ok();
}

}  // namespace edgeforge::sim
