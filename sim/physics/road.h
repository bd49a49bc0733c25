// One direction of a road past a dual-loop speed trap and a radar: the traffic
// state as a function of time, and the individual vehicles that cross the
// upstream loop. Deterministic per seed and pure in time, like
// EnvironmentModel. Equations, assumptions and sources: docs/physics.md.
#pragma once

#include <cstdint>
#include <vector>

#include "hal/status.h"

namespace edgeforge {

enum class VehicleClass : uint8_t {
  kCar,    // 4.0..5.0 m
  kVan,    // 5.0..7.0 m
  kTruck,  // 10..18 m, rigid to articulated
  kBus,    // 11..13.5 m
};

/// "car", "van", "truck", "bus".
const char* VehicleClassName(VehicleClass cls);

struct Vehicle {
  double at_s = 0;       // the front crosses the upstream loop's leading edge
  double speed_mps = 0;  // constant while it crosses the trap
  double length_m = 0;
  VehicleClass cls = VehicleClass::kCar;
  uint8_t lane = 0;  // 0 = rightmost; a speed trap sits in one lane

  bool operator==(const Vehicle& o) const {
    return at_s == o.at_s && speed_mps == o.speed_mps && length_m == o.length_m && cls == o.cls && lane == o.lane;
  }
};

struct TrafficState {
  double flow_veh_per_h = 0;      // all lanes of the direction
  double mean_speed_kmh = 0;      // space-mean speed
  double density_veh_per_km = 0;  // per lane
  double occupancy_pct = 0;       // of one lane's loop: flow per lane * (vehicle + loop length) / speed
  bool incident = false;
};

struct RoadSpec {
  int lanes = 2;
  // Greenshields (1935): v = v_f (1 - k / k_j), capacity v_f k_j / 4 per lane.
  double free_flow_kmh = 90.0;
  double jam_density_veh_per_km = 100.0;  // per lane
  /// Weekday vehicles per day in this direction; the hour-by-hour shape is
  /// fixed (morning and evening peaks, the busiest hour ~8.5 % of the day).
  double daily_volume_veh = 22000.0;

  // Incidents: a Poisson number per day, starting more often when traffic is
  // heavy (exposure), lasting incident_min_min..incident_max_min. The section
  // keeps incident_capacity_fraction of its capacity (HCM 2010 Exhibit 10-17:
  // 0.35 for one of two lanes blocked). When demand exceeds that, the loops
  // sit in the queue (congested branch); otherwise traffic only slows past
  // the scene, by incident_speed_factor.
  double incidents_per_day = 2.0;
  double incident_min_min = 10.0;
  double incident_max_min = 40.0;
  double incident_capacity_fraction = 0.35;
  double incident_speed_factor = 0.5;

  // Vehicles.
  double loop_length_m = 1.8;   // 6 ft square loop
  double min_gap_m = 2.0;       // standstill bumper-to-bumper gap
  double min_time_gap_s = 0.5;  // plus this much at speed: the closest anyone follows
  double speed_cv = 0.08;       // spread of individual speeds around the mean
  double car_share = 0.82;      // class mix; the four shares sum to 1
  double van_share = 0.10;
  double truck_share = 0.06;
  double bus_share = 0.02;
  /// Vehicles are generated per lane per slot of this length (see Vehicles()).
  double slot_s = 60.0;

  /// OK, or INVALID_ARGUMENT naming the first field that is out of range.
  Status Validate() const;
};

class RoadSegmentModel {
 public:
  /// With the default RoadSpec.
  explicit RoadSegmentModel(uint64_t seed);
  /// INVALID_ARGUMENT if spec.Validate() fails.
  static Result<RoadSegmentModel> Create(uint64_t seed, const RoadSpec& spec);

  /// The traffic `seconds` after local midnight of day 0 (every day is a
  /// weekday). Pure: equal inputs, equal outputs; cheap (no history).
  TrafficState At(double seconds) const;

  /// Appends the vehicles whose front crosses the upstream loop in [t0, t1),
  /// sorted by time. Every vehicle is a pure function of (seed, lane, slot), so
  /// any split of an interval gives the same vehicles. In each lane, a vehicle
  /// follows its leader by at least Headway(leader). Cost: all vehicles of the
  /// slots the interval touches (about flow * slot_s); no allocation beyond
  /// `out`'s growth.
  void Vehicles(double t0, double t1, std::vector<Vehicle>& out) const;

  /// The shortest time from `leader`'s front crossing a point to its
  /// follower's: the leader's length plus min_gap_m must pass at its speed,
  /// plus min_time_gap_s.
  double Headway(const Vehicle& leader) const;
  /// Mean vehicle length of the class mix, m.
  double MeanLength() const { return mean_length_m_; }
  const RoadSpec& spec() const { return spec_; }

 private:
  RoadSegmentModel(uint64_t seed, const RoadSpec& spec);

  /// Demand in veh/h at `s` (diurnal profile + smooth noise), before incidents.
  double Demand(double s) const;
  bool IncidentAt(double s) const;
  /// Appends one lane's vehicles of one slot, in time order.
  void Slot(int lane, int64_t slot, std::vector<Vehicle>& out) const;
  double Noise(uint64_t channel, double x) const;
  uint64_t Hash(uint64_t channel, uint64_t a, uint64_t b) const;

  uint64_t seed_;
  RoadSpec spec_;
  double mean_length_m_;
  double capacity_per_lane_;  // veh/h
};

}  // namespace edgeforge
