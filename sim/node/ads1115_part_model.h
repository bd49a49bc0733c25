// The ADS1115 in the simulator (sim/node/part_model.h): an Ads1115Model at
// the device's address, each channel's transducer wired to its pins as the
// part's params describe (the firmware's own parser reads them). A machine
// drives the current transformers with its motor current and the 4-20 mA
// loops with its outlet pressure; without one, transformers carry 0 A and
// loops 4 mA.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "firmware/drivers/ads1115/ads1115_source.h"
#include "sim/models/ads1115_model.h"
#include "sim/node/part_model.h"

namespace edgeforge::sim {

const PartModelEntry& Ads1115PartModel();

class Ads1115Part final : public PartModel {
 public:
  /// Current-transformer bias: mid-supply of a 3.3 V ADS1115
  /// (firmware/drivers/ads1115/analog_inputs.h, "Wiring assumed").
  static constexpr double kCtBiasVolts = 1.65;

  Ads1115Part(const Clock& clock, std::vector<app::Ads1115Channel> channels);
  static Result<std::unique_ptr<PartModel>> Attach(ModelContext& c);
  Ads1115Model& model() { return model_; }
  void Measure(const Stimulus& s) override;

 private:
  /// What one pin carries: dc + amplitude * sin(omega t).
  struct PinDrive {
    double dc = 0;
    double amplitude = 0;
    double omega = 0;  // rad/s
  };
  void Drive(double current_a, double pressure, bool have_pressure);

  Ads1115Model model_;
  std::vector<app::Ads1115Channel> channels_;
  // The pin functions read these (the part is heap-held, so their address is
  // stable): Measure() rewrites a few doubles instead of installing new functions.
  std::array<PinDrive, 4> pins_{};
  BusPlacement placement_;
};

}  // namespace edgeforge::sim
