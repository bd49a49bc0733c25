// The OPS243-A radar in the simulator (sim/node/part_model.h): an
// Ops243Model on the device's UART, reporting the vehicles of lane 0 while
// they cross its beam (WorldOptions::radar_beam_m).
#pragma once

#include <cstddef>
#include <limits>
#include <memory>

#include "sim/models/ops243_model.h"
#include "sim/node/part_model.h"

namespace edgeforge::sim {

const PartModelEntry& Ops243PartModel();

class Ops243Part final : public PartModel {
 public:
  /// Reports are fed only this far ahead: an OPS243 answers a command after
  /// the reports already on the wire, and the driver waits 500 ms for an
  /// answer, so a long queue would make every re-Init time out.
  static constexpr Micros kLookahead{100'000};

  Ops243Part(SimUart& uart, const Clock& clock, double beam_m, VehicleFeed& feed);
  static Result<std::unique_ptr<PartModel>> Attach(ModelContext& c);
  Ops243Model& model() { return model_; }
  void Measure(const Stimulus& s) override;

 private:
  Ops243Model model_;
  const Clock& clock_;
  double beam_m_;
  size_t reader_;
  // The vehicle being reported: one report per FFT buffer from `next_` while
  // it is in the beam.
  bool in_beam_ = false;
  Micros next_{0};
  Micros leaves_{0};
  double speed_mps_ = 0;
  Micros last_fed_{std::numeric_limits<int64_t>::min() / 2};
};

}  // namespace edgeforge::sim
