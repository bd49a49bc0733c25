// A BME280 as a sensor source: temperature (Cel), pressure (Pa) and humidity (%).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "firmware/app/sensor_source.h"
#include "firmware/drivers/bme280/bme280.h"
#include "firmware/telemetry/telemetry.h"
#include "hal/status.h"

namespace edgeforge::app {

class Bme280Source final : public pipeline::SensorSource {
 public:
  Bme280Source(std::string name, Bme280& sensor) : pipeline::SensorSource(std::move(name)), sensor_(sensor) {}

 private:
  Status DoInit() override;
  Status DoSample(std::vector<telemetry::Reading>& out) override;
  Bme280& sensor_;
  bool ready_ = false;
};

}  // namespace edgeforge::app
