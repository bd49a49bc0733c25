// A dual-loop detector in the simulator (sim/node/part_model.h): a
// LoopDetectorModel on the device's two lines, fed the vehicles of its lane
// (the k-th loop pair of a board watches lane k). The first pair's geometry
// is the road's (its occupancy then matches what the loops measure).
#pragma once

#include <cstddef>
#include <memory>

#include "sim/models/loop_detector_model.h"
#include "sim/node/part_model.h"

namespace edgeforge::sim {

const PartModelEntry& LoopDetectorPartModel();

class LoopDetectorPart final : public PartModel {
 public:
  /// Vehicles are handed to the model this far ahead of the clock, so
  /// every edge is scheduled before the firmware could read past it.
  static constexpr Micros kLookahead{2'000'000};

  LoopDetectorPart(SimGpioLine& upstream, SimGpioLine& downstream, LoopGeometry geometry, VehicleFeed& feed, int lane);
  static Result<std::unique_ptr<PartModel>> Attach(ModelContext& c);
  LoopDetectorModel& model() { return model_; }
  /// The lane it watches; -1: none (more pairs than the road has lanes).
  int lane() const { return feed_.lane(reader_); }
  void Measure(const Stimulus& s) override;

 private:
  LoopDetectorModel model_;
  VehicleFeed& feed_;
  size_t reader_;
  // The latest pulses whose end the model has not scheduled yet (see Flush()).
  bool open_ = false;
  Micros up_end_{0};
  Micros down_end_{0};
};

}  // namespace edgeforge::sim
