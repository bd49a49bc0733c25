// An OPS243-A Doppler radar as a sensor source:
//   radar_speed  km/h  kMean  one reading per speed report in the sample period
// One reading per report (not per vehicle): the module reports once per FFT
// buffer while a target is in the beam, so the window's n counts reports,
// its max is the fastest target seen and its mean the report-weighted speed.
// Vehicles are counted by the loop detector, not here. No traffic: no
// readings (not a fault). Bad lines in the period: the good reports are kept
// and one faulted reading says how many lines were bad (DATA_LOSS). A module
// that lost its settings (power cycle) or a failed Init() faults the channel
// and re-runs Init() on the next sample.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "firmware/app/sensor_source.h"
#include "firmware/drivers/ops243/ops243.h"
#include "firmware/telemetry/telemetry.h"
#include "hal/status.h"

namespace edgeforge::app {

class RadarSource final : public pipeline::SensorSource {
 public:
  RadarSource(std::string name, Ops243& radar) : pipeline::SensorSource(std::move(name)), radar_(radar) {}

 private:
  Status DoInit() override;
  Status DoSample(std::vector<telemetry::Reading>& out) override;
  void AppendFaulted(const Status& s, std::vector<telemetry::Reading>& out) const;

  Ops243& radar_;
  bool ready_ = false;
};

}  // namespace edgeforge::app
