// A dual-loop speed trap as a sensor source. Per sample period:
//   vehicle_count    {vehicle}  kSum   vehicles whose record completed
//   occupancy        %          kMean  share of the period the upstream loop was occupied
//   speed            km/h       kMean  one reading per vehicle with a plausible speed (none: no reading)
//   vehicles_short   {vehicle}  kSum   length classes of the vehicles with a speed
//   vehicles_medium  {vehicle}  kSum
//   vehicles_long    {vehicle}  kSum
// ("{vehicle}" is a UCUM annotation of the unity unit.) Lost edges (DATA_LOSS)
// or a stuck detector (UNAVAILABLE) fault every channel of that period.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "firmware/app/sensor_source.h"
#include "firmware/drivers/loop_detector/loop_detector.h"
#include "firmware/telemetry/telemetry.h"
#include "hal/status.h"

namespace edgeforge::app {

class LoopDetectorSource final : public pipeline::SensorSource {
 public:
  LoopDetectorSource(std::string name, LoopDetector& detector) : pipeline::SensorSource(std::move(name)), detector_(detector) {}

 private:
  Status DoInit() override;
  Status DoSample(std::vector<telemetry::Reading>& out) override;
  void AppendFaulted(const Status& s, std::vector<telemetry::Reading>& out) const;

  LoopDetector& detector_;
  bool ready_ = false;
};

}  // namespace edgeforge::app
