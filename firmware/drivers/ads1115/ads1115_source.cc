#include "firmware/drivers/ads1115/ads1115_source.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace edgeforge::app {
namespace {

bool IsSnakeCase(const std::string& s) {
  if (s.empty() || s[0] < 'a' || s[0] > 'z') return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

std::string Fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// One ADC LSB expressed in the channel's unit.
double LsbInUnit(const Ads1115Channel& ch) {
  const double lsb = LsbVolts(ch.pga);
  if (ch.kind == Ads1115Channel::Kind::kCurrentTransformer) return lsb * ch.ct.turns_ratio / ch.ct.burden_ohm;
  return lsb / ch.loop.shunt_ohm * 1000.0 / 16.0 * std::fabs(ch.loop.range_max - ch.loop.range_min);
}

// Rounds to the first decimal place finer than one LSB in the unit, so the
// JSON carries no digits below the ADC's resolution (an RMS over a burst is
// finer than one sample's LSB, so it keeps that place too).
double RoundToLsb(double v, double lsb) {
  const double places = std::ceil(-std::log10(lsb));
  const int decimals = std::isfinite(places) ? static_cast<int>(std::clamp(places, 0.0, 6.0)) : 6;
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

const char* UnitOf(const Ads1115Channel& ch) {
  return ch.kind == Ads1115Channel::Kind::kCurrentTransformer ? "A" : ch.loop.unit.c_str();
}

Status ValidateChannel(const Ads1115Channel& ch) {
  if (!IsSnakeCase(ch.name)) return InvalidArgument("name must be snake_case ([a-z][a-z0-9_]*)");
  if (ch.kind == Ads1115Channel::Kind::kCurrentTransformer) return Validate(ch.ct);
  EF_RETURN_IF_ERROR(Validate(ch.loop));
  const double full_scale_ma = FullScaleVolts(ch.pga) / ch.loop.shunt_ohm * 1000.0;
  if (full_scale_ma <= kNe43MeasureHighMa) {
    return InvalidArgument("PGA full scale " + Fixed(FullScaleVolts(ch.pga), 3) + " V is " + Fixed(full_scale_ma, 2) +
                           " mA through " + Fixed(ch.loop.shunt_ohm, 1) +
                           " ohm, below the 20.5 mA top of the measuring range: use a larger PGA range");
  }
  return Status::Ok();
}

}  // namespace

Status Validate(const std::vector<Ads1115Channel>& channels) {
  for (size_t i = 0; i < channels.size(); ++i) {
    const std::string label = "ads1115 channel " + std::to_string(i) + " (" + channels[i].name + ")";
    EF_RETURN_IF_ERROR(ValidateChannel(channels[i]).WithContext(label));
    for (size_t j = 0; j < i; ++j) {
      if (channels[j].name == channels[i].name) return InvalidArgument(label + ": duplicate channel name");
    }
  }
  return Status::Ok();
}

Ads1115Source::Ads1115Source(std::string name, Ads1115& adc, std::vector<Ads1115Channel> channels)
    : pipeline::SensorSource(std::move(name)), adc_(adc), channels_(std::move(channels)) {}

Status Ads1115Source::DoInit() {
  ready_ = false;
  EF_RETURN_IF_ERROR(Validate(channels_));
  EF_RETURN_IF_ERROR(adc_.Init());
  ready_ = true;
  return Status::Ok();
}

Status Ads1115Source::DoSample(std::vector<telemetry::Reading>& out) {
  Status first_error;
  for (const Ads1115Channel& ch : channels_) {
    Result<double> value = SampleChannel(ch);
    if (value.ok()) {
      out.push_back({ch.name, RoundToLsb(*value, LsbInUnit(ch)), UnitOf(ch), "", telemetry::Aggregation::kMean});
      continue;
    }
    const Status s(value.status().code(), ch.name + ": " + value.status().message());
    out.push_back({ch.name, 0, UnitOf(ch), name() + ": " + s.ToString(), telemetry::Aggregation::kMean});
    if (first_error.ok()) first_error = s;
  }
  return first_error;
}

Result<double> Ads1115Source::SampleChannel(const Ads1115Channel& ch) {
  // After a channel's ADC failure the next channel re-initialises first, so
  // it reports the chip's state rather than the driver's "not initialised".
  if (!ready_) EF_RETURN_IF_ERROR(DoInit());
  return ch.kind == Ads1115Channel::Kind::kCurrentTransformer ? SampleCurrent(ch) : SampleLoop(ch);
}

Result<double> Ads1115Source::SampleCurrent(const Ads1115Channel& ch) {
  Result<std::vector<double>> volts = adc_.ReadBurst({ch.mux, ch.pga, kCtDataRate}, BurstSpan(ch.ct));
  NoteAdcStatus(volts.status());
  if (!volts.ok()) return volts.status();
  return CtRmsAmps(*volts, ch.ct);
}

Result<double> Ads1115Source::SampleLoop(const Ads1115Channel& ch) {
  const Ads1115Input input{ch.mux, ch.pga, kLoopDataRate};
  Result<int16_t> code = adc_.Convert(input, 2 * WorstCaseConversionTime(kLoopDataRate));
  NoteAdcStatus(code.status());
  if (!code.ok()) return code.status();
  // Validate() guarantees full scale > 20.5 mA, so a code pinned at +full
  // scale is a loop current above the measuring range: let NE 43 classify it
  // (>= 21 mA is a failure), noting the reading is a lower bound.
  const bool pinned_high = *code == INT16_MAX;
  if (IsSaturated(*code) && !pinned_high) {
    return CheckSaturation(*code, ch.mux, ch.pga, adc_.Part());
  }
  Result<LoopReading> r = LoopToValue(CodeToVolts(*code, ch.pga), ch.loop);
  if (!r.ok() && pinned_high) {
    return Status(r.status().code(), r.status().message() + " (ADC at full scale: the current is at least this)");
  }
  if (!r.ok()) return r.status();
  return r->value;
}

void Ads1115Source::NoteAdcStatus(const Status& s) {
  // A saturated input is the signal's fault, not the chip's.
  if (!s.ok() && s.code() != StatusCode::kOutOfRange) ready_ = false;
}

}  // namespace edgeforge::app
