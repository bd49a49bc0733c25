#include "firmware/drivers/adxl345/adxl345_source.h"

#include <cmath>

namespace edgeforge::app {
namespace {

constexpr const char* kRmsNames[3] = {"vibration_rms_x", "vibration_rms_y", "vibration_rms_z"};
constexpr const char* kPeak = "vibration_peak";
constexpr const char* kCrest = "vibration_crest";
constexpr const char* kG = "[g]";  // UCUM: standard acceleration of free fall
constexpr const char* kOne = "1";  // UCUM: dimensionless

// One LSB is 3.9 mg (256 LSB/g): 3 decimals is the first decimal place finer
// than that. The crest factor is a ratio of two such values: 2 decimals.
constexpr int kGDecimals = 3;
constexpr int kCrestDecimals = 2;

}  // namespace

Status Adxl345Source::DoInit() {
  Status s = sensor_.Init();
  ready_ = s.ok();
  return s;
}

Status Adxl345Source::DoSample(std::vector<telemetry::Reading>& out) {
  if (!ready_) {
    Status s = DoInit();
    if (!s.ok()) return Fault(s, out);
  }
  Result<Adxl345Batch> batch = sensor_.Read();
  if (!batch.ok()) {
    ready_ = false;
    return Fault(batch.status(), out);
  }
  if (batch->count == 0) {
    // Sampled within about one sample period of Init(): nothing to report yet,
    // but the chip is fine (the driver flags a FIFO that stays empty).
    return Fault(Unavailable("adxl345: FIFO empty, no samples since the last read (just initialised?)"), out);
  }
  Result<VibrationFeatures> f = ComputeVibrationFeatures(batch->view());
  if (!f.ok()) return Fault(f.status(), out);
  for (size_t k = 0; k < 3; ++k) {
    out.push_back({kRmsNames[k], RoundTo(f->rms_g[k], kGDecimals), kG, "", telemetry::Aggregation::kRms});
  }
  out.push_back({kPeak, RoundTo(f->peak_g, kGDecimals), kG, "", telemetry::Aggregation::kMean});
  out.push_back({kCrest, RoundTo(f->crest, kCrestDecimals), kOne, "", telemetry::Aggregation::kMean});
  return Status::Ok();
}

Status Adxl345Source::Fault(const Status& s, std::vector<telemetry::Reading>& out) const {
  const std::string why = name() + ": " + s.ToString();
  for (const char* rms : kRmsNames) out.push_back({rms, 0, kG, why, telemetry::Aggregation::kRms});
  out.push_back({kPeak, 0, kG, why, telemetry::Aggregation::kMean});
  out.push_back({kCrest, 0, kOne, why, telemetry::Aggregation::kMean});
  return s;
}

}  // namespace edgeforge::app
