// The road's vehicles as the traffic parts of a node read them: generated a
// road slot at a time ahead of the clock and kept until every reader has
// passed them. Each reader (a loop pair, a radar) watches one lane with its
// own cursor.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "hal/clock.h"
#include "sim/physics/road.h"

namespace edgeforge::sim {

/// `s` seconds as a duration, rounded to the µs.
inline Micros FromSeconds(double s) { return Micros(static_cast<int64_t>(std::llround(s * 1e6))); }

/// Vehicles handed to loop models / radar models, vehicles a model refused
/// (overtaking between the loops, possible only with time_scale != 1) and
/// vehicles skipped after a gap in Advance() calls (kMaxCatchUp).
struct TrafficCounters {
  uint64_t loop_vehicles = 0;
  uint64_t radar_vehicles = 0;
  uint64_t rejected = 0;
  uint64_t skipped = 0;
};

/// A lane vehicle on the monotonic base.
struct Arrival {
  Micros at{0};  // front at the upstream loop's leading edge
  double speed_mps = 0;
  double length_m = 0;
  uint8_t lane = 0;
};

class VehicleFeed {
 public:
  /// Vehicles are generated (a road slot at a time) this far ahead.
  static constexpr Micros kFetchAhead{30'000'000};
  /// After a gap in Advance() calls longer than this, the vehicles of the gap
  /// before its last kMaxCatchUp are skipped (bounded work per call).
  static constexpr Micros kMaxCatchUp{60'000'000};

  /// Road time = start_seconds + monotonic seconds (never scaled).
  explicit VehicleFeed(double start_seconds) : start_seconds_(start_seconds) {}

  /// A reader of `lane`'s vehicles; returns its id.
  size_t AddReader(int lane);
  bool has_readers() const { return !readers_.empty(); }
  /// The lane reader `id` watches; -1 when the road has no such lane.
  int lane(size_t id) const;

  /// The road to generate from (null: none; readers then read nothing), and
  /// the monotonic instant generation starts at.
  void Start(const RoadSegmentModel* road, Micros now);
  /// Generates up to `now` + kFetchAhead (after a long gap, only from `now` -
  /// kMaxCatchUp). Before the readers read at `now`.
  void Fetch(Micros now);
  /// Reader `id`'s next vehicle, still unread; null when none is generated yet.
  const Arrival* Peek(size_t id);
  /// Marks Peek()'s vehicle read.
  void Pop(size_t id) { ++readers_[id].cursor; }
  /// Drops the vehicles every reader has passed. After the readers read.
  void Trim();

  double RoadSeconds(Micros now) const;
  Micros MonotonicAt(double seconds) const;
  TrafficCounters& counters() { return counters_; }
  const TrafficCounters& counters() const { return counters_; }

 private:
  struct Reader {
    int lane = 0;
    uint64_t cursor = 0;  // next arrival (absolute index) to look at
  };

  double start_seconds_;
  const RoadSegmentModel* road_ = nullptr;
  std::vector<Reader> readers_;
  // arrivals_[i] has absolute index arrivals_base_ + i.
  std::deque<Arrival> arrivals_;
  uint64_t arrivals_base_ = 0;
  double fetched_until_ = 0;  // road seconds
  std::vector<Vehicle> scratch_;
  TrafficCounters counters_;
};

}  // namespace edgeforge::sim
