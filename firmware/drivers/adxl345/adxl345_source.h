// An ADXL345 as a vibration source: each sample drains the chip's FIFO (the
// samples since the previous one, at most 32) and reports vibration features
// of that window.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "firmware/app/sensor_source.h"
#include "firmware/drivers/adxl345/adxl345.h"
#include "firmware/telemetry/telemetry.h"
#include "hal/status.h"

namespace edgeforge::app {

/// Channels (ComputeVibrationFeatures defines the quantities; the DC part,
/// gravity, is removed first):
///   vibration_rms_x, vibration_rms_y, vibration_rms_z  "[g]"  kRms   AC RMS per axis
///   vibration_peak                                      "[g]"  kMean  largest AC magnitude
///   vibration_crest                                     "1"    kMean  peak / RMS of the AC magnitude (0: no vibration)
/// The window is what the FIFO held: sample period x output data rate should
/// stay within 32 samples (e.g. <= 320 ms at 100 Hz), or the oldest are lost
/// (counted by Adxl345::overruns(), not a fault).
class Adxl345Source final : public pipeline::SensorSource {
 public:
  Adxl345Source(std::string name, Adxl345& sensor) : pipeline::SensorSource(std::move(name)), sensor_(sensor) {}

 private:
  Status DoInit() override;
  /// Faulted readings for all five channels when the chip cannot be read or
  /// the FIFO had no samples. A read error marks the source not ready (the
  /// next sample re-runs Init(): the chip may have been power-cycled); an
  /// empty FIFO the driver still considers normal (sampled right after Init)
  /// does not.
  Status DoSample(std::vector<telemetry::Reading>& out) override;
  Status Fault(const Status& s, std::vector<telemetry::Reading>& out) const;

  Adxl345& sensor_;
  bool ready_ = false;
};

}  // namespace edgeforge::app
