#include "firmware/drivers/ops243/radar_source.h"

#include <cmath>

namespace edgeforge::app {

Status RadarSource::DoInit() {
  Status s = radar_.Init();
  ready_ = s.ok();
  return s;
}

void RadarSource::AppendFaulted(const Status& s, std::vector<telemetry::Reading>& out) const {
  out.push_back({"radar_speed", 0, "km/h", name() + ": " + s.ToString(), telemetry::Aggregation::kMean});
}

Status RadarSource::DoSample(std::vector<telemetry::Reading>& out) {
  Status s = ready_ ? Status::Ok() : DoInit();
  if (s.ok()) s = radar_.Poll();
  if (!s.ok()) {
    ready_ = false;  // the port or the module failed: configure it again next time
    AppendFaulted(s, out);
    return s;
  }
  Ops243Period period = radar_.TakePeriod();
  // The configured decimals are the report's resolution; km/h to 0.1 at most
  // (the FFT bin at 20 kS/s is 0.44 km/h).
  const int decimals = radar_.config().decimals < 1 ? radar_.config().decimals : 1;
  for (const RadarReport& r : period.reports) {
    out.push_back({"radar_speed", RoundTo(r.speed_mps() * 3.6, decimals), "km/h", "", telemetry::Aggregation::kMean});
  }
  if (period.settings_lost) ready_ = false;
  if (!period.status.ok()) {
    AppendFaulted(period.status, out);
    return period.status;
  }
  return Status::Ok();
}

}  // namespace edgeforge::app
