// Model of a dual inductive-loop speed trap under two SimGpioLines (the two
// presence outputs of a detector card). AddVehicle() is the "physics" knob:
// a vehicle of a given length passing at a constant speed occupies each loop
// while any part of it is over the loop, i.e. from its front crossing the
// loop's leading edge for (length + loop_length) / speed, and reaches the
// downstream loop spacing / speed after the upstream one.
//
// Tailgating: when a vehicle's presence on a loop begins before the previous
// vehicle's presence there has ended, a real presence-mode detector reports
// one longer pulse, and so does the model (the pulses merge; the firmware then
// sees one long vehicle). Because a merge can only be known when the next
// vehicle is added, the end of each loop's latest pulse is scheduled on the
// next AddVehicle() that starts later, or on Flush().
#pragma once

#include <cstdint>

#include "hal/clock.h"
#include "hal/sim/sim_gpio.h"
#include "hal/status.h"

namespace edgeforge {

struct LoopGeometry {
  double spacing_m = 4.0;      // upstream leading edge to downstream leading edge
  double loop_length_m = 2.0;  // detection zone length along the lane
};

class LoopDetectorModel {
 public:
  LoopDetectorModel(SimGpioLine& upstream, SimGpioLine& downstream, LoopGeometry geometry);

  /// A vehicle whose front reaches the upstream loop's leading edge at
  /// `front_reaches_upstream`. Vehicles must be added in time order and may not
  /// overtake (one lane): INVALID_ARGUMENT otherwise, and for a speed or length
  /// that is not > 0. A rejected vehicle changes nothing.
  Status AddVehicle(Micros front_reaches_upstream, double speed_mps, double length_m);
  /// Schedules the end of the latest pulse on both loops (no more vehicles
  /// will merge into them). Further vehicles may still be added afterwards.
  Status Flush();

  const LoopGeometry& geometry() const { return geometry_; }
  /// Vehicles added, and how many of them merged into the previous pulse on a loop.
  uint64_t vehicles() const { return vehicles_; }
  uint64_t merged() const { return merged_; }

 private:
  struct Loop {
    SimGpioLine* line;
    bool open = false;     // a pulse started whose end is not scheduled yet
    Micros end{0};         // its end
    Micros last_start{0};  // the latest presence start added (ordering check)
  };
  Status Present(Loop& loop, Micros start, Micros end);
  static Status Close(Loop& loop);

  Loop up_;
  Loop down_;
  LoopGeometry geometry_;
  uint64_t vehicles_ = 0;
  uint64_t merged_ = 0;
};

}  // namespace edgeforge
