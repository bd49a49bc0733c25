#include "firmware/drivers/bme280/bme280_source.h"

namespace edgeforge::app {

Status Bme280Source::DoInit() {
  Status s = sensor_.Init();
  ready_ = s.ok();
  return s;
}

Status Bme280Source::DoSample(std::vector<telemetry::Reading>& out) {
  Status s = ready_ ? Status::Ok() : DoInit();
  Result<Bme280Reading> r = s.ok() ? sensor_.Read() : Result<Bme280Reading>(s);
  if (!r.ok()) {
    ready_ = false;  // re-init on the next sample (the chip may have been power-cycled)
    const std::string why = name() + ": " + r.status().ToString();
    out.push_back({"temperature", 0, "Cel", why});
    out.push_back({"pressure", 0, "Pa", why});
    out.push_back({"humidity", 0, "%", why});
    return r.status();
  }
  // BME280 resolution: 0.01 degC, ~0.2 Pa (osrs x1: 2.62 Pa noise), 0.008 %RH.
  out.push_back({"temperature", RoundTo(r->temperature_c, 2), "Cel", ""});
  out.push_back({"pressure", RoundTo(r->pressure_pa, 1), "Pa", ""});
  out.push_back({"humidity", RoundTo(r->humidity_rh, 2), "%", ""});
  return Status::Ok();
}

}  // namespace edgeforge::app
