#include "firmware/drivers/ads1115/analog_inputs.h"

#include <cmath>
#include <cstdio>

namespace edgeforge {
namespace {

std::string Fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

bool Finite(double v) { return std::isfinite(v); }

}  // namespace

Status Validate(const CurrentTransformer& ct) {
  if (!Finite(ct.turns_ratio) || ct.turns_ratio <= 0) {
    return InvalidArgument("current transformer: turns_ratio must be > 0, got " + Fixed(ct.turns_ratio, 3));
  }
  if (!Finite(ct.burden_ohm) || ct.burden_ohm <= 0) {
    return InvalidArgument("current transformer: burden_ohm must be > 0, got " + Fixed(ct.burden_ohm, 3));
  }
  if (!Finite(ct.mains_hz) || ct.mains_hz < 40 || ct.mains_hz > 70) {
    return InvalidArgument("current transformer: mains_hz must be 40..70 (50 or 60), got " + Fixed(ct.mains_hz, 3));
  }
  if (ct.cycles < 1) {
    return InvalidArgument("current transformer: cycles must be >= 1, got " + std::to_string(ct.cycles));
  }
  return Status::Ok();
}

Micros BurstSpan(const CurrentTransformer& ct) { return Micros(std::llround(ct.cycles * 1e6 / ct.mains_hz)); }

Result<double> AcRmsVolts(const std::vector<double>& volts) {
  if (volts.size() < 2) {
    return InvalidArgument("ac rms: need at least 2 samples, got " + std::to_string(volts.size()));
  }
  double sum = 0;
  for (size_t i = 0; i < volts.size(); ++i) {
    if (!Finite(volts[i])) return InvalidArgument("ac rms: sample " + std::to_string(i) + " is not finite");
    sum += volts[i];
  }
  const double n = static_cast<double>(volts.size());
  const double mean = sum / n;
  // Two passes (mean, then squares about it) rather than E[v^2] - E[v]^2,
  // which cancels catastrophically when the offset dwarfs the AC part.
  double squares = 0;
  for (double v : volts) squares += (v - mean) * (v - mean);
  return std::sqrt(squares / n);
}

Result<double> CtRmsAmps(const std::vector<double>& volts, const CurrentTransformer& ct) {
  EF_RETURN_IF_ERROR(Validate(ct));
  Result<double> v_rms = AcRmsVolts(volts);
  if (!v_rms.ok()) return v_rms.status();
  return *v_rms * ct.turns_ratio / ct.burden_ohm;
}

Status Validate(const Loop4To20mA& loop) {
  if (!Finite(loop.shunt_ohm) || loop.shunt_ohm <= 0) {
    return InvalidArgument("4-20 mA loop: shunt_ohm must be > 0, got " + Fixed(loop.shunt_ohm, 3));
  }
  if (!Finite(loop.range_min) || !Finite(loop.range_max) || loop.range_min == loop.range_max) {
    return InvalidArgument("4-20 mA loop: range_min and range_max must be finite and differ, got " +
                           Fixed(loop.range_min, 3) + " and " + Fixed(loop.range_max, 3));
  }
  if (loop.unit.empty()) return InvalidArgument("4-20 mA loop: unit is empty");
  return Status::Ok();
}

Result<LoopReading> LoopToValue(double volts, const Loop4To20mA& loop) {
  EF_RETURN_IF_ERROR(Validate(loop));
  if (!Finite(volts)) return InvalidArgument("4-20 mA loop: shunt voltage is not finite");
  LoopReading r;
  r.milliamps = volts / loop.shunt_ohm * 1000.0;
  const std::string ma = Fixed(r.milliamps, 2) + " mA";
  if (r.milliamps <= kNe43FailureLowMa) {
    return Unavailable("4-20 mA loop: " + ma + " <= 3.6 mA: open loop or transmitter failure (NAMUR NE 43)");
  }
  if (r.milliamps >= kNe43FailureHighMa) {
    return Unavailable("4-20 mA loop: " + ma + " >= 21 mA: short circuit or transmitter alarm (NAMUR NE 43)");
  }
  if (r.milliamps < kNe43MeasureLowMa || r.milliamps > kNe43MeasureHighMa) {
    return OutOfRange("4-20 mA loop: " + ma + " outside the 3.8..20.5 mA measuring range (NAMUR NE 43)");
  }
  r.value = loop.range_min + (r.milliamps - 4.0) / 16.0 * (loop.range_max - loop.range_min);
  return r;
}

}  // namespace edgeforge
