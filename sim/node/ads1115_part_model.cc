#include "sim/node/ads1115_part_model.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "firmware/drivers/ads1115/ads1115_part.h"

namespace edgeforge::sim {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kSqrt2 = 1.41421356237309504880;

bool IsCt(const app::Ads1115Channel& ch) { return ch.kind == app::Ads1115Channel::Kind::kCurrentTransformer; }

// One transducer per pin: a signal pin is wired once; a reference pin may be
// shared by channels that want the same level (the CT bias, or GND).
Status CheckWiring(const std::vector<app::Ads1115Channel>& channels, const std::string& where) {
  enum class Role : uint8_t { kFree, kSignal, kBias, kGround };
  std::array<Role, 4> roles{};
  std::array<const std::string*, 4> owner{};
  for (const app::Ads1115Channel& a : channels) {
    const auto clash = [&](int pin) {
      return InvalidArgument(where + ": channel " + a.name + " wires AIN" + std::to_string(pin) +
                             ", already wired by channel " + *owner[static_cast<size_t>(pin)] +
                             " (the simulator puts one transducer on a pin)");
    };
    const auto [pos_pin, neg_pin] = Ads1115Model::MuxPins(a.mux);
    const auto pos = static_cast<size_t>(pos_pin);
    if (roles[pos] != Role::kFree) return clash(pos_pin);
    roles[pos] = Role::kSignal;
    owner[pos] = &a.name;
    if (neg_pin < 0) continue;
    const auto neg = static_cast<size_t>(neg_pin);
    const Role want = IsCt(a) ? Role::kBias : Role::kGround;
    if (roles[neg] != Role::kFree && roles[neg] != want) return clash(neg_pin);
    roles[neg] = want;
    owner[neg] = &a.name;
  }
  return Status::Ok();
}

}  // namespace

const PartModelEntry& Ads1115PartModel() {
  static const PartModelEntry kEntry = {"ti,ads1115", Ads1115Part::Attach};
  return kEntry;
}

Ads1115Part::Ads1115Part(const Clock& clock, std::vector<app::Ads1115Channel> channels)
    : model_(clock), channels_(std::move(channels)) {}

Result<std::unique_ptr<PartModel>> Ads1115Part::Attach(ModelContext& c) {
  auto channels = app::ParseAds1115Params(c.board, c.device);
  if (!channels.ok()) return channels.status();
  EF_RETURN_IF_ERROR(CheckWiring(*channels, c.where));
  auto part = std::make_unique<Ads1115Part>(c.clock, std::move(*channels));
  for (int pin = 0; pin < 4; ++pin) {
    const PinDrive* drive = &part->pins_[static_cast<size_t>(pin)];
    Status s = part->model_.SetInput(
        pin, [drive](double t) { return drive->dc + drive->amplitude * std::sin(drive->omega * t); });
    if (!s.ok()) return s.WithContext(c.where);
  }
  part->Drive(0, 0, false);  // neutral until (unless) a machine drives it
  EF_RETURN_IF_ERROR(part->placement_.Attach(c, part->model_));
  return std::unique_ptr<PartModel>(std::move(part));
}

void Ads1115Part::Measure(const Stimulus& s) {
  if (s.machine != nullptr) Drive(s.machine->motor_current_a, s.machine->outlet_bar, true);
}

void Ads1115Part::Drive(double current_a, double pressure, bool have_pressure) {
  for (const app::Ads1115Channel& a : channels_) {
    const auto [pos_pin, neg_pin] = Ads1115Model::MuxPins(a.mux);
    PinDrive& pos = pins_[static_cast<size_t>(pos_pin)];
    if (IsCt(a)) {
      // Secondary current I / N through the burden; AIN1 holds the bias
      // (analog_inputs.h "Wiring assumed"). Single-ended: the sine still
      // rides on the bias, which is what the pin carries.
      pos = {kCtBiasVolts, kSqrt2 * current_a / a.ct.turns_ratio * a.ct.burden_ohm, 2 * kPi * a.ct.mains_hz};
      if (neg_pin >= 0) pins_[static_cast<size_t>(neg_pin)] = {kCtBiasVolts, 0, 0};
      continue;
    }
    // 4-20 mA proportional to the process value over the range (clamped:
    // a transmitter saturates at its range ends).
    const double lo = std::min(a.loop.range_min, a.loop.range_max);
    const double hi = std::max(a.loop.range_min, a.loop.range_max);
    const double value = have_pressure ? std::clamp(pressure, lo, hi) : a.loop.range_min;
    const double milliamps = 4.0 + 16.0 * (value - a.loop.range_min) / (a.loop.range_max - a.loop.range_min);
    pos = {milliamps * 1e-3 * a.loop.shunt_ohm, 0, 0};
    if (neg_pin >= 0) pins_[static_cast<size_t>(neg_pin)] = {0, 0, 0};
  }
}

}  // namespace edgeforge::sim
