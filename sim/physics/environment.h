// Indoor factory climate as a function of time: what a simulated BME280 (or
// any ambient sensor model) measures. Deterministic per seed, so a fleet run
// is reproducible and a device can be asked about any instant in any order.
#pragma once

#include <cstdint>

namespace edgeforge {

class EnvironmentModel {
 public:
  struct Ambient {
    double celsius = 0;
    double pascal = 0;
    double rel_humidity = 0;  // %RH
  };

  /// Each seed gets its own daily mean, swing and phase, and its own noise.
  explicit EnvironmentModel(uint64_t seed);

  /// The climate `seconds` after local midnight of day 0 (may be negative):
  /// a 24 h temperature cycle within 18..26 degC peaking mid-afternoon,
  /// pressure within 101325 +- 300 Pa varying over hours, humidity 30..60 %RH
  /// falling as the temperature rises, plus smooth noise (value noise over
  /// minutes, not white noise per call). Pure: equal inputs, equal outputs.
  /// Clamped to the BME280's operating range (-40..85 degC, 300..1100 hPa,
  /// 0..100 %RH).
  Ambient At(double seconds) const;

 private:
  /// Smooth noise in [-1, 1] along `x`, one independent stream per `channel`.
  double Noise(uint64_t channel, double x) const;

  uint64_t seed_;
  double mean_celsius_;   // 21.5..22.5
  double swing_celsius_;  // amplitude 2.5..3.0 (peak to peak twice that)
  double peak_hour_;      // 13..17 h
  double humidity_mean_;  // 44..46 %RH
  double tide_phase_;     // of the 12 h atmospheric pressure tide, radians
};

}  // namespace edgeforge
