// What the pipeline samples: a named source of typed readings. Drivers sit
// behind it (firmware/drivers/<part>/*_source.h); a source never throws and
// never blocks past its bus timeouts.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "firmware/telemetry/telemetry.h"
#include "hal/status.h"

namespace edgeforge::pipeline {

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

}  // namespace edgeforge::pipeline
