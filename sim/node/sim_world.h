// The world around one simulated node: a register model at each board
// part's place on the SimBuses, and the physics that turns their knobs.
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
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firmware/board/board.h"
#include "hal/clock.h"
#include "hal/sim/fault.h"
#include "hal/status.h"
#include "sim/models/ads1115_model.h"
#include "sim/models/adxl345_model.h"
#include "sim/models/bme280_model.h"
#include "sim/models/loop_detector_model.h"
#include "sim/models/ops243_model.h"
#include "sim/node/sim_buses.h"
#include "sim/physics/environment.h"
#include "sim/physics/machine.h"
#include "sim/physics/road.h"

namespace edgeforge::sim {

struct WorldOptions {
  uint64_t seed = 1;
  /// Physics time at monotonic 0, e.g. seconds since local midnight, so that
  /// diurnal patterns line up with the wall clock.
  double start_seconds = 0;
  /// Physics seconds per monotonic second (> 0), for the machine and the
  /// room climate; traffic stays at real time.
  double time_scale = 1;
  MachineSpec machine = MachineSpec::Demo();
  /// loop_length_m is replaced by the board's first loop pair's loop_length_m
  /// (the occupancy the road reports then matches what the loops measure).
  RoadSpec road;
  /// ADXL345 output noise per axis and sample. Data sheet Rev. G, Table 1
  /// "Noise": 0.75 LSB rms (x, y) and 1.1 LSB rms (z) at 100 Hz ODR, full
  /// resolution 3.9 mg/LSB, i.e. ~3..4 mg; the model takes one figure for all axes.
  double adxl345_noise_g = 0.003;
  /// The stretch of road the radar beam covers, ending at the upstream loop's
  /// leading edge (a cabinet radar aimed at the trap, traffic approaching it).
  double radar_beam_m = 15.0;
};

class SimWorld {
 public:
  /// Loop vehicles are handed to the model this far ahead of the clock, so
  /// every edge is scheduled before the firmware could read past it.
  static constexpr Micros kLoopLookahead{2'000'000};
  /// Radar reports are fed only this far ahead: an OPS243 answers a command
  /// after the reports already on the wire, and the driver waits 500 ms for
  /// an answer, so a long queue would make every re-Init time out.
  static constexpr Micros kRadarLookahead{100'000};
  /// Vehicles are generated (a road slot at a time) this far ahead.
  static constexpr Micros kFetchAhead{30'000'000};
  /// After a gap in Advance() calls longer than this, the vehicles of the gap
  /// before its last kMaxCatchUp are skipped (bounded work per call).
  static constexpr Micros kMaxCatchUp{60'000'000};
  /// Current-transformer bias: mid-supply of a 3.3 V ADS1115
  /// (firmware/drivers/ads1115/analog_inputs.h, "Wiring assumed").
  static constexpr double kCtBiasVolts = 1.65;

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

  /// The model of a board device; null for another name or part.
  Bme280Model* bme280(std::string_view device) const;
  Adxl345Model* adxl345(std::string_view device) const;
  Ads1115Model* ads1115(std::string_view device) const;
  LoopDetectorModel* loop_detector(std::string_view device) const;
  Ops243Model* ops243(std::string_view device) const;
  /// The lane a loop pair watches (-1: none, more pairs than lanes).
  int loop_lane(std::string_view device) const;

  /// Vehicles handed to loop models / radar models, vehicles a model refused
  /// (overtaking between the loops, possible only with time_scale != 1) and
  /// vehicles skipped after a gap in Advance() calls (kMaxCatchUp).
  struct TrafficCounters {
    uint64_t loop_vehicles = 0;
    uint64_t radar_vehicles = 0;
    uint64_t rejected = 0;
    uint64_t skipped = 0;
  };
  const TrafficCounters& traffic_counters() const { return counters_; }

 private:
  /// What one ADS1115 pin carries: dc + amplitude * sin(omega t).
  struct PinDrive {
    double dc = 0;
    double amplitude = 0;
    double omega = 0;  // rad/s
  };
  struct AdcChannel;
  struct AdcPart;
  struct LoopPart;
  struct RadarPart;
  template <typename M>
  struct Owned {
    const board::Device* device;
    std::unique_ptr<M> model;
  };
  /// A lane vehicle on the monotonic base.
  struct Arrival {
    Micros at{0};  // front at the upstream loop's leading edge
    double speed_mps = 0;
    double length_m = 0;
    uint8_t lane = 0;
  };

  SimWorld(const board::Board& board, SimBuses& buses, const Clock& clock, WorldOptions options);
  Status Build();
  Status AddPart(const board::Device& d, size_t index);
  Status AddAds1115(const board::Device& d);
  Status AddLoopDetector(const board::Device& d);
  Status BuildPhysics();
  std::string Where(const board::Device& d) const;

  void AdvanceFactory(double t);
  void SetAdcKnobs(double current_a, double pressure_bar, bool have_pressure);
  void AdvanceTraffic(Micros now);
  void Fetch(Micros until);
  const Arrival* NextFor(int lane, uint64_t& cursor) const;
  void FeedLoops(Micros now);
  void FeedRadars(Micros now);
  void FeedRadar(RadarPart& r, Micros now);
  void Trim();

  board::Board board_;
  SimBuses& buses_;
  const Clock& clock_;
  WorldOptions options_;

  std::optional<MachineModel> machine_;
  std::optional<RoadSegmentModel> road_;
  std::optional<EnvironmentModel> environment_;
  MachineSample machine_sample_;
  TrafficState traffic_;
  EnvironmentModel::Ambient ambient_;

  std::vector<Owned<Bme280Model>> bme280_;
  std::vector<Owned<Adxl345Model>> adxl345_;
  std::vector<std::unique_ptr<AdcPart>> ads1115_;
  std::vector<std::unique_ptr<LoopPart>> loops_;
  std::vector<std::unique_ptr<RadarPart>> radars_;

  // Vehicles generated and not yet consumed by every loop pair and radar:
  // arrivals_[i] has absolute index arrivals_base_ + i.
  std::deque<Arrival> arrivals_;
  uint64_t arrivals_base_ = 0;
  double fetched_until_ = 0;  // physics seconds
  std::vector<Vehicle> scratch_;
  TrafficCounters counters_;
  Micros last_now_{-1};
};

}  // namespace edgeforge::sim
