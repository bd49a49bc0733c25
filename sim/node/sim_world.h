// The world around one simulated node: a register model at each board
// part's place on the SimBuses, and the physics that turns their knobs. Each
// part's model comes from its registry entry (part_model.h); the world builds
// the physics of the board's kind and hands every part a Stimulus.
//
//   board kind "factory": MachineModel. BME280s read the machine's room, the
//     ADXL345 its housing vibration, the ADS1115 the current transformer and
//     the 4-20 mA pressure transducer its channel params describe.
//   board kind "traffic": RoadSegmentModel. The k-th loop pair watches lane k,
//     radars watch lane 0; BME280s read a cabinet EnvironmentModel.
//   any other kind: EnvironmentModel for BME280s.
// A part whose physics the kind does not have gets a neutral knob: an
// ADXL345 at rest (1 g on z, sensor noise), an ADS1115 with 0 A in its
// transformers and 4 mA in its loops, no vehicles.
//
// Time: physics time (seconds after local midnight of day 0) =
// start_seconds + monotonic seconds * time_scale. time_scale compresses the
// machine's schedule (shifts, wear, faults) and the room climate. The road
// always runs at real time (RoadSeconds): compressing arrivals would put
// vehicles closer together than their lengths and speeds allow, and every
// loop pulse and radar report would be physically wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firmware/board/board.h"
#include "hal/clock.h"
#include "hal/sim/fault.h"
#include "hal/status.h"
#include "sim/node/ads1115_part_model.h"
#include "sim/node/adxl345_part_model.h"
#include "sim/node/bme280_part_model.h"
#include "sim/node/loop_detector_part_model.h"
#include "sim/node/ops243_part_model.h"
#include "sim/node/part_model.h"
#include "sim/node/sim_buses.h"
#include "sim/node/vehicle_feed.h"
#include "sim/node/world_options.h"
#include "sim/physics/environment.h"
#include "sim/physics/machine.h"
#include "sim/physics/road.h"

namespace edgeforge::sim {

class SimWorld {
 public:
  /// Vehicles are generated (a road slot at a time) this far ahead.
  static constexpr Micros kFetchAhead = VehicleFeed::kFetchAhead;
  /// After a gap in Advance() calls longer than this, the vehicles of the gap
  /// before its last kMaxCatchUp are skipped (bounded work per call).
  static constexpr Micros kMaxCatchUp = VehicleFeed::kMaxCatchUp;

  /// Attaches a model at every device of `board` on `buses` and sets the
  /// knobs for the clock's current time. INVALID_ARGUMENT for bad options or
  /// params (naming the board file and field), UNIMPLEMENTED naming the board
  /// and device for a part the simulator has no model of, ALREADY_EXISTS when
  /// a place on `buses` is taken. `buses` must outlive the world; the world
  /// keeps its own copy of `board`.
  static Result<std::unique_ptr<SimWorld>> Create(const board::Board& board, SimBuses& buses, const Clock& clock,
                                                  WorldOptions options);
  ~SimWorld();
  SimWorld(const SimWorld&) = delete;
  SimWorld& operator=(const SimWorld&) = delete;

  /// Brings every knob to physics time PhysicsSeconds(now) (`now` on the
  /// device clock's monotonic base; earlier than a previous call: ignored).
  /// Cost: one MachineModel::At (factory), or an EnvironmentModel::At, a
  /// RoadSegmentModel::At and the new vehicles (traffic, amortised).
  void Advance(Micros now);

  /// Makes the device's bus place(s) misbehave (its address, chip select,
  /// both of a loop pair's lines, its UART); a kNone spec clears. NOT_FOUND
  /// naming the device.
  Status InjectFault(const std::string& device_name, const FaultSpec& fault);
  Status ClearFault(const std::string& device_name);

  double PhysicsSeconds(Micros now) const;
  /// Road time: start_seconds + monotonic seconds (never scaled).
  double RoadSeconds(Micros now) const;
  /// The monotonic instant of road time `seconds` (rounded to the µs).
  Micros MonotonicAt(double seconds) const;

  const board::Board& board() const { return board_; }
  const WorldOptions& options() const { return options_; }
  /// Physics of the board kind; null when the kind does not have it.
  const MachineModel* machine() const { return machine_ ? &*machine_ : nullptr; }
  const RoadSegmentModel* road() const { return road_ ? &*road_ : nullptr; }
  const EnvironmentModel* environment() const { return environment_ ? &*environment_ : nullptr; }
  /// As of the last Advance(): the machine (factory boards), the traffic
  /// (traffic boards), what BME280s measure (every board).
  const MachineSample& machine_sample() const { return machine_sample_; }
  const TrafficState& traffic() const { return traffic_; }
  const EnvironmentModel::Ambient& ambient() const { return ambient_; }

  /// The part model of a board device as a `P` (Bme280Part, ...); null for
  /// another name or part.
  template <typename P>
  P* part(std::string_view device) const {
    return dynamic_cast<P*>(FindPart(device));
  }
  /// The register model of a board device; null for another name or part.
  Bme280Model* bme280(std::string_view device) const;
  Adxl345Model* adxl345(std::string_view device) const;
  Ads1115Model* ads1115(std::string_view device) const;
  LoopDetectorModel* loop_detector(std::string_view device) const;
  Ops243Model* ops243(std::string_view device) const;
  /// The lane a loop pair watches (-1: none, more pairs than lanes).
  int loop_lane(std::string_view device) const;

  using TrafficCounters = sim::TrafficCounters;
  const TrafficCounters& traffic_counters() const { return vehicles_.counters(); }

 private:
  struct Placed {
    const board::Device* device;
    std::unique_ptr<PartModel> model;
  };

  SimWorld(const board::Board& board, SimBuses& buses, const Clock& clock, WorldOptions options);
  Status Build();
  Status BuildPhysics();
  std::string Where(const board::Device& d) const;
  PartModel* FindPart(std::string_view device) const;

  board::Board board_;
  SimBuses& buses_;
  const Clock& clock_;
  WorldOptions options_;
  RoadSpec road_spec_;  // options_.road with what the parts fix (the first loop pair's length)

  std::optional<MachineModel> machine_;
  std::optional<RoadSegmentModel> road_;
  std::optional<EnvironmentModel> environment_;
  MachineSample machine_sample_;
  TrafficState traffic_;
  EnvironmentModel::Ambient ambient_;

  VehicleFeed vehicles_;  // before parts_: traffic parts hold a reference to it
  std::vector<Placed> parts_;
  Micros last_now_{-1};
};

}  // namespace edgeforge::sim
