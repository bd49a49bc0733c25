// Dual inductive-loop speed trap: two presence-mode channels of a loop
// detector card (the upstream and the downstream loop of one lane) wired to two
// GPIO inputs. A channel's output is active while any part of a vehicle is over
// its loop (presence mode, as NEMA TS 2 detector cards provide; an active-low
// opto output is the GPIO backend's active_low flag).
//
// Split the Zephyr way like the other drivers: pure functions and a pure state
// machine (LoopPairTracker: no I/O, fed edge events) plus a thin class that
// reads the two lines (LoopDetector).
//
// Formulas:
//  - speed trap: speed = loop spacing (leading edge to leading edge) / (t_on_down
//    - t_on_up); a second estimate from the trailing edges (t_off_down - t_off_up)
//    (FHWA Traffic Detector Handbook 3rd ed., FHWA-HRT-06-108, vol. I ch. 2;
//    NPTEL 105101008 lecture 9 "Dual-loop detectors" eq. 1).
//  - a loop is occupied while any part of the vehicle is over it:
//    on_time = (vehicle length + loop length) / speed, so the effective vehicle
//    length is speed * on_time - loop length (NPTEL 105101008 lecture 9, "Speed
//    estimation by single loop" eq. 1: EVL = l_v + l_d).
//  - at free flow both loops see the same on-time, so the leading- and
//    trailing-edge speeds agree; a large mismatch means a detector error or a
//    wrong pairing (Coifman, "Using dual loop speed traps to identify detector
//    errors", TRR 1683, 1999).
//  - length classes: the four-bin scheme of Weinblatt et al., "Length-Based
//    Vehicle Classification Schemes and Length Bin Boundaries", TRR 2339 (2013)
//    without the motorcycle bin; 12.2 m (40 ft) is the WSDOT bin 2/3 boundary
//    between single-unit and combination vehicles. The 5.6 m short/medium
//    boundary is configurable (LoopConfig::short_max_m).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "hal/clock.h"
#include "hal/gpio.h"
#include "hal/status.h"

namespace edgeforge {

enum class LoopLine : uint8_t {
  kUpstream,    // the loop a vehicle reaches first
  kDownstream,  // the loop spacing_m further along the lane
};

const char* LoopLineName(LoopLine line);

struct LoopConfig {
  /// Prefix of every error message ("loop0@gpio0").
  std::string name = "loop";
  /// Upstream loop leading edge to downstream loop leading edge, along the lane.
  double spacing_m = 4.0;
  /// Effective length of one loop along the lane (the detection zone).
  double loop_length_m = 2.0;
  /// A loop occupied longer than this is a stuck detector (UNAVAILABLE).
  Micros max_presence{120'000'000};
  /// Speeds outside [min, max] are implausible pairs (no speed for the vehicle).
  double min_speed_kmh = 3.0;
  double max_speed_kmh = 250.0;
  /// Leading- and trailing-edge speeds further apart than this fraction of the
  /// larger one are inconsistent (Coifman 1999: on-times must match).
  double max_estimate_mismatch = 0.2;
  /// Length class boundaries (metres): short < short_max_m <= medium <= medium_max_m < long.
  double short_max_m = 5.6;
  double medium_max_m = 12.2;
};

/// INVALID_ARGUMENT naming the field when a value is not usable.
Status ValidateLoopConfig(const LoopConfig& config);

enum class LengthClass : uint8_t {
  kUnknown,  // no plausible speed, so no length
  kShort,    // cars, vans, motorcycles
  kMedium,   // single-unit trucks, buses, cars with trailers
  kLong,     // combination trucks
};

const char* LengthClassName(LengthClass c);
LengthClass ClassifyLength(double length_m, const LoopConfig& config);

/// Speed from one pair of edges `dt` apart over `spacing_m`; nullopt when dt <= 0.
std::optional<double> TrapSpeedMps(double spacing_m, Micros dt);
/// Effective vehicle length (m): speed * on_time - loop length, never negative.
double EffectiveLengthM(double speed_mps, Micros on_time, double loop_length_m);

/// Why a vehicle has no speed (kOk: it has one).
enum class VehicleFlag : uint8_t {
  kOk,                // speed, length and class are set
  kImplausibleSpeed,  // neither edge pair gives a speed within [min, max]
  kInconsistent,      // leading- and trailing-edge speeds disagree
  kNoDownstream,      // upstream only: no downstream presence within spacing / min_speed
  kNoUpstream,        // downstream only: no upstream vehicle waiting for it
  kOverlong,          // a presence longer than max_presence (stuck detector cleared)
  kEventsLost,        // edges were lost while it was being paired
};

const char* VehicleFlagName(VehicleFlag f);

struct LoopVehicle {
  Micros detected{0};  // upstream on-edge (downstream on-edge for kNoUpstream)
  Micros on_time{0};   // upstream presence time; 0 when not measured
  std::optional<double> speed_mps;
  std::optional<double> length_m;
  LengthClass length_class = LengthClass::kUnknown;
  VehicleFlag flag = VehicleFlag::kOk;
};

/// What a sample period saw.
struct LoopPeriod {
  Micros start{0};
  Micros end{0};
  /// Vehicles whose record completed in the period (the downstream loop
  /// cleared, or pairing gave up), in detection order.
  std::vector<LoopVehicle> vehicles;
  /// Share of [start, end) during which the upstream loop was occupied (0..100).
  double occupancy_pct = 0;
  /// Implausible pairs (vehicles without speed) and edge-sequence errors (an
  /// on-edge on an occupied loop, an off-edge on a free one).
  uint32_t errors = 0;
  /// Edges lost by the GPIO backend (line_seqno gaps), both lines.
  uint64_t lost_events = 0;
  /// OK; DATA_LOSS when edges were lost; UNAVAILABLE while a detector is stuck.
  Status status;

  size_t count() const { return vehicles.size(); }
};

/// The speed-trap state machine. Pure: fed the edges of both lines in
/// timestamp order and the current time; does no I/O and reads no clock.
class LoopPairTracker {
 public:
  /// Vehicles waiting for the other loop; more means a channel is dead and
  /// the oldest is given up (kNoDownstream / kNoUpstream).
  static constexpr size_t kMaxPending = 16;

  LoopPairTracker(LoopConfig config, Micros start);

  /// The lines' levels when tracking starts (a vehicle may stand on a loop).
  void SetLevels(bool upstream_active, bool downstream_active, Micros at);
  /// Edges up to `last_seqno` on `line` happened before tracking started
  /// (the level given to SetLevels includes them): not a gap.
  void SkipTo(LoopLine line, uint64_t last_seqno) { Line(line).last_seqno = last_seqno; }
  /// One edge. DATA_LOSS when its line_seqno shows lost edges (saying how
  /// many); the edge is still used and the pairing state restarts from it.
  Status OnEvent(LoopLine line, const GpioEvent& event);
  /// Closes the period [start, now), returns it and starts the next one.
  LoopPeriod TakePeriod(Micros now);
  /// UNAVAILABLE while a loop has been occupied longer than max_presence.
  Status Health(Micros now) const;

  const LoopConfig& config() const { return config_; }

 private:
  struct LineState {
    bool occupied = false;
    Micros on_since{0};
    uint64_t last_seqno = 0;  // 0: no event yet (the backend numbers from 1)
  };
  struct Pending {
    std::optional<Micros> up_on, up_off, down_on, down_off;
  };

  Status CheckSeqno(LoopLine line, const GpioEvent& event, Micros t);
  void OnRising(LoopLine line, Micros t);
  void OnFalling(LoopLine line, Micros t);
  void CloseUpstreamPresence(Micros t);
  void ExpirePending(Micros now);
  void FlushPending(VehicleFlag flag);
  void Finalize(const Pending& p, VehicleFlag flag);
  void ComputeSpeed(const Pending& p, LoopVehicle& v) const;
  Micros PairWindow() const;
  LineState& Line(LoopLine line) { return lines_[static_cast<size_t>(line)]; }

  LoopConfig config_;
  LineState lines_[2];
  std::deque<Pending> pending_;
  std::vector<LoopVehicle> done_;
  Micros period_start_;
  Micros occupied_{0};  // upstream occupancy inside the current period
  Micros last_t_{0};
  uint32_t errors_ = 0;
  uint64_t lost_ = 0;
  std::string loss_detail_;  // the first gap of the period, for the status message
};

/// The detector card's two outputs on two GPIO input lines with edge events.
class LoopDetector {
 public:
  /// Edges read per ReadEvents call, and calls per line per Poll (bounds the work).
  static constexpr size_t kReadBatch = 16;
  static constexpr int kMaxBatchesPerPoll = 64;

  LoopDetector(GpioLine& upstream, GpioLine& downstream, const Clock& clock, LoopConfig config = {});

  /// Checks the configuration, reads both levels (a line that fails names
  /// itself) and, the first time, seeds the tracker with them (edges already
  /// pending then are history the levels include: discarded). Safe to call
  /// again to recover; the tracker keeps its state (seqno continuity).
  Status Init();
  /// Drains both lines' pending edges without waiting, merges them by
  /// timestamp and feeds the tracker. Returns the lines' I/O errors; lost
  /// edges and stuck detectors are reported by TakePeriod().
  Status Poll();
  /// The aggregate since the previous call (or Init), up to `now`.
  LoopPeriod TakePeriod(Micros now);
  LoopPeriod TakePeriod() { return TakePeriod(clock_.Monotonic()); }

  const LoopConfig& config() const { return tracker_.config(); }

 private:
  struct Tagged {
    LoopLine line;
    GpioEvent event;
  };
  Status Drain(GpioLine& line, LoopLine which, std::vector<Tagged>& out);
  std::string Context(LoopLine line) const;

  GpioLine& upstream_;
  GpioLine& downstream_;
  const Clock& clock_;
  LoopPairTracker tracker_;
  bool seeded_ = false;
};

}  // namespace edgeforge
