// What the device core samples: a named source of typed readings. Drivers sit
// behind it; a source never throws and never blocks past its bus timeouts.
#pragma once

#include <string>
#include <vector>

#include "firmware/drivers/bme280/bme280.h"
#include "firmware/telemetry/telemetry.h"
#include "hal/status.h"

namespace edgeforge::app {

/// Rounds to `decimals` places (the sensor's resolution) so telemetry carries
/// no noise digits. Dividing by a power of ten (not multiplying by 0.1) yields
/// the double nearest the decimal, which JSON then prints short: 101168.2.
double RoundTo(double v, int decimals);

class SensorSource {
 public:
  virtual ~SensorSource() = default;
  /// Brings the sensor up; a failure is reported, the device keeps running.
  Status Init() { return DoInit(); }
  /// Appends this source's readings. A failing sensor appends its readings with
  /// `fault` set (so telemetry shows the gap) and returns the error.
  Status Sample(std::vector<telemetry::Reading>& out) { return DoSample(out); }
  const std::string& name() const { return name_; }

 protected:
  explicit SensorSource(std::string name) : name_(std::move(name)) {}

 private:
  virtual Status DoInit() = 0;
  virtual Status DoSample(std::vector<telemetry::Reading>& out) = 0;
  std::string name_;
};

/// A BME280 as temperature (Cel), pressure (Pa) and humidity (%).
class Bme280Source final : public SensorSource {
 public:
  Bme280Source(std::string name, Bme280& sensor) : SensorSource(std::move(name)), sensor_(sensor) {}

 private:
  Status DoInit() override;
  Status DoSample(std::vector<telemetry::Reading>& out) override;
  Bme280& sensor_;
  bool ready_ = false;
};

}  // namespace edgeforge::app
