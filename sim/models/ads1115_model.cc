#include "sim/models/ads1115_model.h"

#include <algorithm>
#include <cmath>

namespace edgeforge {
namespace {

namespace reg = ads1115_reg;

// Section 9.4.2.1: single-shot power-up before the conversion starts.
constexpr double kPowerUpMicros = 25.0;

// Section 9.6.3 MUX[2:0]: AINP and AINN pins; -1 is GND.
constexpr int kPositivePin[] = {0, 0, 1, 2, 0, 1, 2, 3};
constexpr int kNegativePin[] = {1, 3, 3, 3, -1, -1, -1, -1};

double Seconds(Micros t) { return static_cast<double>(t.count()) * 1e-6; }

}  // namespace

Ads1115Model::Ads1115Model(const Clock& clock) : clock_(clock) {
  for (Signal& s : inputs_) s = [](double) { return 0.0; };
  PowerOnReset();
}

Status Ads1115Model::SetInput(int ain, Signal volts) {
  if (ain < 0 || ain > 3) return InvalidArgument("ads1115 model: no pin AIN" + std::to_string(ain) + " (AIN0..AIN3)");
  if (!volts) return InvalidArgument("ads1115 model: empty signal for AIN" + std::to_string(ain));
  Settle();  // a conversion already completed keeps the value it sampled then
  inputs_[static_cast<size_t>(ain)] = std::move(volts);
  return Status::Ok();
}

void Ads1115Model::SetDataRateError(double fraction) {
  Settle();
  rate_error_ = std::max(fraction, -0.99);
}

void Ads1115Model::PowerOnReset() {
  // Section 9.6: reset values; the power-down state, nothing converting.
  pointer_ = reg::kConversion;
  config_ = static_cast<uint16_t>(reg::kConfigReset & ~reg::kOs);
  lo_thresh_ = reg::kLoThreshReset;
  hi_thresh_ = reg::kHiThreshReset;
  const uint64_t conversions = Now().conversions;
  state_ = State{};
  state_.conversion = reg::kConversionReset;
  state_.conversions = conversions;
}

uint16_t Ads1115Model::Register(uint8_t pointer) const {
  switch (pointer & reg::kPointerMask) {
    case reg::kConversion:
      return Now().conversion;
    case reg::kConfig:
      return static_cast<uint16_t>(config_ | (Now().converting ? 0u : reg::kOs));
    case reg::kLoThresh:
      return lo_thresh_;
    default:
      return hi_thresh_;
  }
}

std::pair<int, int> Ads1115Model::MuxPins(Ads1115Mux mux) {
  const auto m = static_cast<size_t>(mux) & 0x07u;
  return {kPositivePin[m], kNegativePin[m]};
}

double Ads1115Model::InputVolts(Ads1115Mux mux, double seconds) const {
  const auto [pos, neg] = MuxPins(mux);
  const double p = inputs_[static_cast<size_t>(pos)](seconds);
  const double n = neg < 0 ? 0.0 : inputs_[static_cast<size_t>(neg)](seconds);
  return p - n;
}

Status Ads1115Model::OnWriteRead(ConstBytes tx, MutBytes rx) {
  if (!tx.empty()) pointer_ = tx[0] & reg::kPointerMask;
  // A write needs both data bytes; a partial one changes no register.
  if (tx.size() >= 3) WriteRegister(pointer_, static_cast<uint16_t>((tx[1] << 8) | tx[2]));
  if (rx.empty()) return Status::Ok();
  const uint16_t value = Register(pointer_);
  for (size_t i = 0; i < rx.size(); ++i) {
    rx[i] = static_cast<uint8_t>(i % 2 == 0 ? value >> 8 : value & 0xFFu);
  }
  return Status::Ok();
}

void Ads1115Model::WriteRegister(uint8_t pointer, uint16_t value) {
  switch (pointer) {
    case reg::kConversion:
      return;  // read-only
    case reg::kLoThresh:
      lo_thresh_ = value;
      return;
    case reg::kHiThresh:
      hi_thresh_ = value;
      return;
    default:
      break;
  }
  Settle();  // conversions completed so far used the old configuration
  const Micros now = clock_.Monotonic();
  const Ads1115Config old = DecodeConfig(config_);
  config_ = static_cast<uint16_t>(value & ~reg::kOs);
  const Ads1115Config c = DecodeConfig(value);
  if (!c.single_shot) {
    if (old.single_shot) {
      continuous_since_ = now;
      continuous_base_ = state_.conversions;
    }
    return;
  }
  if (!old.single_shot) state_.converting = false;  // back to power-down
  // Section 9.6.3: OS = 1 starts a conversion only in the power-down state.
  if (!c.os || state_.converting) return;
  state_.converting = true;
  pending_mux_ = c.mux;
  pending_pga_ = c.pga;
  done_at_ = now + Micros(static_cast<int64_t>(std::ceil(kPowerUpMicros + PeriodMicros(c.data_rate))));
}

Ads1115Model::State Ads1115Model::Now() const {
  State s = state_;
  const Micros now = clock_.Monotonic();
  const Ads1115Config c = DecodeConfig(config_);
  if (!c.single_shot) {
    // Section 9.4.2.2: back-to-back conversions at DR; the register holds
    // the latest. In this mode OS is modelled as always reading 0 (busy).
    const double period = PeriodMicros(c.data_rate);
    const double k = std::floor(static_cast<double>((now - continuous_since_).count()) / period);
    s.converting = true;
    s.conversions = continuous_base_ + static_cast<uint64_t>(k);
    if (k >= 1) {
      const double at = Seconds(continuous_since_) + k * period * 1e-6;
      s.conversion = static_cast<uint16_t>(Sample(c.mux, c.pga, at));
    }
    return s;
  }
  if (s.converting && now >= done_at_) {
    s.conversion = static_cast<uint16_t>(Sample(pending_mux_, pending_pga_, Seconds(done_at_)));
    s.converting = false;
    ++s.conversions;
  }
  return s;
}

void Ads1115Model::Settle() {
  state_ = Now();
  const Ads1115Config c = DecodeConfig(config_);
  if (c.single_shot) return;
  // Continuous: count the next conversion from the last completed one, so a
  // change made now (settings, inputs, oscillator) applies from then on and
  // the conversions already done keep what they sampled.
  const double period = PeriodMicros(c.data_rate);
  const double k = std::floor(static_cast<double>((clock_.Monotonic() - continuous_since_).count()) / period);
  continuous_since_ += Micros(static_cast<int64_t>(std::ceil(k * period)));  // never counts one twice
  continuous_base_ = state_.conversions;
}

int16_t Ads1115Model::Sample(Ads1115Mux mux, Ads1115Pga pga, double seconds) const {
  // PGA clipping and quantisation (sections 9.3.3, 9.5.4): round to the
  // nearest LSB, codes beyond full scale stick at 0x7FFF / 0x8000. A
  // non-finite signal (a broken model) reads as 0 V.
  const double v = InputVolts(mux, seconds);
  const double code = std::isfinite(v) ? std::clamp(std::round(v / LsbVolts(pga)), -32768.0, 32767.0) : 0.0;
  return static_cast<int16_t>(code);
}

double Ads1115Model::PeriodMicros(Ads1115DataRate rate) const {
  return 1e6 / (SamplesPerSecond(rate) * (1.0 + rate_error_));
}

}  // namespace edgeforge
