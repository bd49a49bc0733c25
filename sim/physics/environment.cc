#include "sim/physics/environment.h"

#include <algorithm>
#include <cmath>

#include "sim/physics/random.h"

namespace edgeforge {
namespace {

using physics::Fade;
using physics::kGolden;
using physics::Lerp;
using physics::Mix;
using physics::Unit;

constexpr double kPi = 3.14159265358979323846;
constexpr double kDay = 86400.0;

enum Channel : uint64_t {
  kParams = 1,
  kTempSlow,
  kTempFast,
  kPressSlow,
  kPressFast,
  kHumidity,
};

}  // namespace

EnvironmentModel::EnvironmentModel(uint64_t seed) : seed_(seed) {
  auto param = [seed](uint64_t i) { return Unit(Mix(seed ^ Mix(kParams * kGolden + i))); };
  mean_celsius_ = Lerp(21.5, 22.5, param(0));
  swing_celsius_ = Lerp(2.5, 3.0, param(1));
  peak_hour_ = Lerp(13.0, 17.0, param(2));
  humidity_mean_ = Lerp(44.0, 46.0, param(3));
  tide_phase_ = Lerp(0.0, 2 * kPi, param(4));
}

double EnvironmentModel::Noise(uint64_t channel, double x) const {
  const double cell = std::floor(x);
  const auto i = static_cast<int64_t>(cell);
  auto lattice = [this, channel](int64_t k) {
    const uint64_t h = Mix(seed_ ^ Mix(channel * kGolden ^ Mix(static_cast<uint64_t>(k))));
    return 2 * Unit(h) - 1;
  };
  return Lerp(lattice(i), lattice(i + 1), Fade(x - cell));
}

EnvironmentModel::Ambient EnvironmentModel::At(double seconds) const {
  const double hour = std::fmod(seconds / 3600.0, 24.0);
  const double diurnal = std::cos(2 * kPi * (hour - peak_hour_) / 24.0);
  // Noise amplitudes are chosen so the bands in the header hold exactly:
  // temperature |noise| <= 0.5, pressure |sum| <= 290, humidity |...| <= 14.75.
  const double temp_noise = 0.4 * Noise(kTempSlow, seconds / 1800.0) + 0.1 * Noise(kTempFast, seconds / 300.0);
  const double celsius = mean_celsius_ + swing_celsius_ * diurnal + temp_noise;

  const double pascal = 101325.0 + 200.0 * Noise(kPressSlow, seconds / (6 * 3600.0)) +
                        60.0 * Noise(kPressFast, seconds / 3600.0) +
                        30.0 * std::sin(2 * kPi * seconds / (kDay / 2) + tide_phase_);

  // Warmer air holds more water: at a constant absolute humidity the relative
  // humidity falls ~3.5 %RH per degC around 22 degC.
  const double rel_humidity =
      humidity_mean_ - 3.5 * (celsius - mean_celsius_) + 1.5 * Noise(kHumidity, seconds / 1200.0);

  Ambient a;
  a.celsius = std::clamp(celsius, -40.0, 85.0);
  a.pascal = std::clamp(pascal, 30000.0, 110000.0);
  a.rel_humidity = std::clamp(rel_humidity, 0.0, 100.0);
  return a;
}

}  // namespace edgeforge
