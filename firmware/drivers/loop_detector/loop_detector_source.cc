#include "firmware/drivers/loop_detector/loop_detector_source.h"

#include <cmath>

namespace edgeforge::app {
namespace {

using telemetry::Aggregation;
using telemetry::Reading;

constexpr const char* kVehicles = "{vehicle}";

Reading Count(const char* name, double n, std::string fault = "") {
  return {name, n, kVehicles, std::move(fault), Aggregation::kSum};
}

}  // namespace

Status LoopDetectorSource::DoInit() {
  Status s = detector_.Init();
  ready_ = s.ok();
  return s;
}

void LoopDetectorSource::AppendFaulted(const Status& s, std::vector<Reading>& out) const {
  const std::string why = name() + ": " + s.ToString();
  out.push_back(Count("vehicle_count", 0, why));
  out.push_back({"occupancy", 0, "%", why, Aggregation::kMean});
  out.push_back({"speed", 0, "km/h", why, Aggregation::kMean});
  out.push_back(Count("vehicles_short", 0, why));
  out.push_back(Count("vehicles_medium", 0, why));
  out.push_back(Count("vehicles_long", 0, why));
}

Status LoopDetectorSource::DoSample(std::vector<Reading>& out) {
  Status s = ready_ ? Status::Ok() : DoInit();
  if (s.ok()) s = detector_.Poll();
  // Always close the period, so that the next one starts now whatever happened.
  LoopPeriod period = detector_.TakePeriod();
  if (!s.ok()) {
    ready_ = false;  // a line failed: re-open it on the next sample
    AppendFaulted(s, out);
    return s;
  }
  if (!period.status.ok()) {
    AppendFaulted(period.status, out);
    return period.status;
  }
  out.push_back(Count("vehicle_count", static_cast<double>(period.count())));
  // Occupancy and speed: 0.1 resolution (edges are stamped to the microsecond;
  // the loop spacing is known to a few centimetres at best).
  out.push_back({"occupancy", RoundTo(period.occupancy_pct, 1), "%", "", Aggregation::kMean});
  double by_class[4] = {0, 0, 0, 0};
  for (const LoopVehicle& v : period.vehicles) {
    if (!v.speed_mps) continue;
    out.push_back({"speed", RoundTo(*v.speed_mps * 3.6, 1), "km/h", "", Aggregation::kMean});
    by_class[static_cast<size_t>(v.length_class)] += 1;
  }
  out.push_back(Count("vehicles_short", by_class[static_cast<size_t>(LengthClass::kShort)]));
  out.push_back(Count("vehicles_medium", by_class[static_cast<size_t>(LengthClass::kMedium)]));
  out.push_back(Count("vehicles_long", by_class[static_cast<size_t>(LengthClass::kLong)]));
  return Status::Ok();
}

}  // namespace edgeforge::app
