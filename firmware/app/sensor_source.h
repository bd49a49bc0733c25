// The sources the device's nodes are built from (pipeline::SensorSource, one
// per driver): the BME280's here, the others in app/*_source.h, and the
// rounding they share.
#pragma once

#include <string>
#include <vector>

#include "firmware/drivers/bme280/bme280.h"
#include "firmware/pipeline/sensor_source.h"
#include "firmware/telemetry/telemetry.h"
#include "hal/status.h"

namespace edgeforge::app {

/// Rounds to `decimals` places (the sensor's resolution) so telemetry carries
/// no noise digits. Dividing by a power of ten (not multiplying by 0.1) yields
/// the double nearest the decimal, which JSON then prints short: 101168.2.
double RoundTo(double v, int decimals);

/// A BME280 as temperature (Cel), pressure (Pa) and humidity (%).
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
