#include "sim/physics/road.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

namespace edgeforge {
namespace {

constexpr double kHour = 3600.0;
constexpr double kDay = 24 * kHour;

std::vector<Vehicle> VehiclesIn(const RoadSegmentModel& road, double t0, double t1) {
  std::vector<Vehicle> out;
  road.Vehicles(t0, t1, out);
  return out;
}

// What a loop in `lane` (or all lanes, lane < 0) would measure from the
// vehicles of [t0, t1), next to the time average of At() over the same span.
struct Comparison {
  double flow_from_vehicles = 0, flow_from_state = 0;            // veh/h, all lanes
  double speed_from_vehicles = 0, speed_from_state = 0;          // km/h, flow-weighted
  double occupancy_from_vehicles = 0, occupancy_from_state = 0;  // % of one lane
};

Comparison Compare(const RoadSegmentModel& road, double t0, double t1) {
  Comparison c;
  const std::vector<Vehicle> vs = VehiclesIn(road, t0, t1);
  const double hours = (t1 - t0) / kHour;
  double on_loop_s = 0;
  for (const Vehicle& v : vs) {
    c.speed_from_vehicles += v.speed_mps * 3.6 / static_cast<double>(vs.size());
    on_loop_s += (v.length_m + road.spec().loop_length_m) / v.speed_mps;
  }
  c.flow_from_vehicles = static_cast<double>(vs.size()) / hours;
  c.occupancy_from_vehicles = 100 * on_loop_s / (t1 - t0) / road.spec().lanes;
  double flow_sum = 0, weighted_speed = 0, occ = 0;
  int n = 0;
  for (double t = t0 + 5; t < t1; t += 10, ++n) {
    const TrafficState s = road.At(t);
    flow_sum += s.flow_veh_per_h;
    weighted_speed += s.flow_veh_per_h * s.mean_speed_kmh;
    occ += s.occupancy_pct;
  }
  c.flow_from_state = flow_sum / n;
  c.speed_from_state = weighted_speed / flow_sum;
  c.occupancy_from_state = occ / n;
  return c;
}

bool QuietHour(const RoadSegmentModel& road, double t0) {
  for (double t = t0; t < t0 + kHour; t += 30) {
    if (road.At(t).incident) return false;
  }
  return true;
}

TEST(RoadSegmentModel, SameSeedSameTraffic) {
  const RoadSegmentModel a(42), b(42);
  for (double t : {-kDay + 5.0, 0.0, 8 * kHour + 0.5, 17.25 * kHour, 9 * kDay + 1.0}) {
    const TrafficState x = a.At(t), y = b.At(t);
    EXPECT_EQ(x.flow_veh_per_h, y.flow_veh_per_h) << t;
    EXPECT_EQ(x.mean_speed_kmh, y.mean_speed_kmh) << t;
    EXPECT_EQ(x.occupancy_pct, y.occupancy_pct) << t;
    EXPECT_EQ(x.incident, y.incident) << t;
  }
  EXPECT_EQ(VehiclesIn(a, 7 * kHour, 7.5 * kHour), VehiclesIn(b, 7 * kHour, 7.5 * kHour));
  EXPECT_EQ(VehiclesIn(a, -300, 300), VehiclesIn(a, -300, 300));  // no hidden state
}

TEST(RoadSegmentModel, DifferentSeedsDiffer) {
  const RoadSegmentModel a(1), b(2);
  int differing = 0;
  for (int i = 0; i < 48; ++i) differing += a.At(i * 1800.0).flow_veh_per_h != b.At(i * 1800.0).flow_veh_per_h;
  EXPECT_GE(differing, 45);
  const std::vector<Vehicle> va = VehiclesIn(a, 8 * kHour, 8 * kHour + 600),
                             vb = VehiclesIn(b, 8 * kHour, 8 * kHour + 600);
  ASSERT_FALSE(va.empty());
  ASSERT_FALSE(vb.empty());
  EXPECT_NE(va.front().at_s, vb.front().at_s);
}

TEST(RoadSegmentModel, PeaksMorningAndEveningLowAtNight) {
  const RoadSegmentModel road(3);
  for (int day = 0; day < 3; ++day) {
    auto mean_flow = [&](double h0, double h1) {
      double sum = 0;
      int n = 0;
      for (double h = h0; h < h1; h += 0.05, ++n) sum += road.At(day * kDay + h * kHour).flow_veh_per_h;
      return sum / n;
    };
    const double night = mean_flow(1, 4), morning = mean_flow(7, 9), midday = mean_flow(11, 14),
                 evening = mean_flow(16, 18);
    EXPECT_GT(morning, 8 * night) << "day " << day;
    EXPECT_GT(evening, 8 * night) << "day " << day;
    EXPECT_GT(morning, 1.2 * midday) << "day " << day;
    EXPECT_GT(evening, 1.2 * midday) << "day " << day;
    EXPECT_LT(night, 200);
  }
  // Free flow at night, slower (Greenshields) at the peak.
  EXPECT_GT(road.At(3 * kHour).mean_speed_kmh, 88);
  double peak_speed = 1e9;
  for (double h = 7; h < 9; h += 0.1) {
    const TrafficState s = road.At(h * kHour);
    if (!s.incident) peak_speed = std::min(peak_speed, s.mean_speed_kmh);
  }
  EXPECT_LT(peak_speed, 84);
  EXPECT_GT(peak_speed, 60);
}

TEST(RoadSegmentModel, OccupancyFollowsFlowSpeedAndLength) {
  const RoadSegmentModel road(5);
  for (double t = 0; t < kDay; t += 600) {
    const TrafficState s = road.At(t);
    const double lane_flow = s.flow_veh_per_h / road.spec().lanes;
    const double expected =
        100 * lane_flow * (road.MeanLength() + road.spec().loop_length_m) / (s.mean_speed_kmh * 1000);
    EXPECT_NEAR(s.occupancy_pct, expected, 1e-9) << t;
    EXPECT_NEAR(s.density_veh_per_km, lane_flow / s.mean_speed_kmh, 1e-9) << t;
  }
}

TEST(RoadSegmentModel, VehiclesDoNotDependOnHowTheIntervalIsSplit) {
  const RoadSegmentModel road(7);
  const double t0 = 7 * kHour - 17.3, t1 = 7 * kHour + 900;
  const std::vector<Vehicle> whole = VehiclesIn(road, t0, t1);
  ASSERT_GT(whole.size(), 200u);
  EXPECT_TRUE(
      std::is_sorted(whole.begin(), whole.end(), [](const Vehicle& a, const Vehicle& b) { return a.at_s < b.at_s; }));
  for (double piece : {0.1, 1.0, 4.0, 59.9, 60.0, 333.3}) {
    std::vector<Vehicle> parts;
    for (double t = t0; t < t1; t += piece) road.Vehicles(t, std::min(t + piece, t1), parts);
    EXPECT_EQ(parts, whole) << "pieces of " << piece << " s";
  }
  // Vehicles(0, 10) == Vehicles(0, 4) + Vehicles(4, 10), at a slot boundary and inside one.
  for (double t : {7 * kHour, 7 * kHour + 31.7}) {
    std::vector<Vehicle> ab = VehiclesIn(road, t, t + 4);
    road.Vehicles(t + 4, t + 10, ab);
    EXPECT_EQ(ab, VehiclesIn(road, t, t + 10));
  }
  EXPECT_TRUE(VehiclesIn(road, t1, t0).empty());
}

TEST(RoadSegmentModel, HeadwaysArePhysicalAllDay) {
  for (uint64_t seed : {1ull, 2ull, 3ull}) {
    const RoadSegmentModel road(seed);
    const std::vector<Vehicle> day = VehiclesIn(road, 0, kDay);
    ASSERT_GT(day.size(), 15000u);
    std::vector<const Vehicle*> last(static_cast<size_t>(road.spec().lanes), nullptr);
    double tightest = 1e9;
    for (const Vehicle& v : day) {
      ASSERT_LT(v.lane, road.spec().lanes);
      const Vehicle*& leader = last[v.lane];
      if (leader != nullptr) {
        const double slack = (v.at_s - leader->at_s) - road.Headway(*leader);
        ASSERT_GE(slack, -1e-6) << "seed " << seed << " lane " << int{v.lane} << " at " << v.at_s;
        tightest = std::min(tightest, slack);
        // ...so the spatial gap when the follower reaches the loop is at least min_gap_m.
        const double gap_m = leader->speed_mps * (v.at_s - leader->at_s) - leader->length_m;
        ASSERT_GE(gap_m, road.spec().min_gap_m - 1e-6);
        // ...and nobody overtakes between the loops of a 4 m speed trap.
        ASSERT_GT(v.at_s + 4.0 / v.speed_mps, leader->at_s + 4.0 / leader->speed_mps);
      }
      leader = &v;
    }
    EXPECT_LT(tightest, 0.05) << "the bound is reached in dense traffic, not avoided by wide spacing";
  }
}

TEST(RoadSegmentModel, VehicleClassesLengthsAndSpeeds) {
  const RoadSegmentModel road(11);
  const std::vector<Vehicle> day = VehiclesIn(road, 0, kDay);
  std::array<double, 4> count{};
  for (const Vehicle& v : day) {
    count[static_cast<size_t>(v.cls)] += 1;
    switch (v.cls) {
      case VehicleClass::kCar:
        ASSERT_TRUE(v.length_m >= 4.0 && v.length_m <= 5.0) << v.length_m;
        break;
      case VehicleClass::kVan:
        ASSERT_TRUE(v.length_m >= 5.0 && v.length_m <= 7.0) << v.length_m;
        break;
      case VehicleClass::kTruck:
        ASSERT_TRUE(v.length_m >= 10.0 && v.length_m <= 18.0) << v.length_m;
        break;
      case VehicleClass::kBus:
        ASSERT_TRUE(v.length_m >= 11.0 && v.length_m <= 13.5) << v.length_m;
        break;
    }
    ASSERT_GT(v.speed_mps, 1.0);
    ASSERT_LT(v.speed_mps, 90 / 3.6 * 1.25);
  }
  const double n = static_cast<double>(day.size());
  EXPECT_NEAR(count[0] / n, road.spec().car_share, 0.01);
  EXPECT_NEAR(count[1] / n, road.spec().van_share, 0.01);
  EXPECT_NEAR(count[2] / n, road.spec().truck_share, 0.01);
  EXPECT_NEAR(count[3] / n, road.spec().bus_share, 0.005);
  EXPECT_STREQ(VehicleClassName(VehicleClass::kTruck), "truck");
}

TEST(RoadSegmentModel, VehiclesAgreeWithTheTrafficState) {
  int hours_checked = 0;
  for (uint64_t seed : {4ull, 5ull}) {
    const RoadSegmentModel road(seed);
    for (double h : {3.0, 8.0, 12.0, 17.0}) {
      const double t0 = kDay + h * kHour;
      if (!QuietHour(road, t0)) continue;
      ++hours_checked;
      const Comparison c = Compare(road, t0, t0 + kHour);
      // Poisson counts: +-3 sigma is ~7 % at night (~250 vehicles), ~2 % at the peak.
      const double flow_tol = 3 / std::sqrt(c.flow_from_state) + 0.01;
      EXPECT_NEAR(c.flow_from_vehicles / c.flow_from_state, 1, flow_tol) << "seed " << seed << " " << h << " h";
      EXPECT_NEAR(c.speed_from_vehicles / c.speed_from_state, 1, 0.02) << "seed " << seed << " " << h << " h";
      EXPECT_NEAR(c.occupancy_from_vehicles / c.occupancy_from_state, 1, flow_tol + 0.03)
          << "seed " << seed << " " << h << " h";
    }
  }
  EXPECT_GE(hours_checked, 6);
}

TEST(RoadSegmentModel, IncidentSlowsTrafficAndFillsTheLoops) {
  int incidents = 0, queues = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    const RoadSegmentModel road(seed);
    bool was = road.At(0).incident;
    for (double t = 60; t < 5 * kDay; t += 60) {
      const bool is = road.At(t).incident;
      if (is && !was) {
        ++incidents;
        const TrafficState before = road.At(t - 120), during = road.At(t + 300);
        if (before.incident || !during.incident) continue;  // back to back, or a short one
        EXPECT_LT(during.mean_speed_kmh, 0.6 * before.mean_speed_kmh) << "seed " << seed << " at " << t;
        EXPECT_GT(during.occupancy_pct, 1.5 * before.occupancy_pct) << "seed " << seed << " at " << t;
        const double residual = road.spec().incident_capacity_fraction * road.spec().free_flow_kmh *
                                road.spec().jam_density_veh_per_km / 4 * road.spec().lanes;
        if (before.flow_veh_per_h > 1.1 * residual) {
          // Demand above what gets past: the loops sit in the queue.
          ++queues;
          EXPECT_NEAR(during.flow_veh_per_h, residual, 1e-6);
          EXPECT_LT(during.mean_speed_kmh, 15);
          EXPECT_GT(during.occupancy_pct, 40);
          // The vehicles crossing the loops show it too (the incident lasts
          // at least 10 min from within the last minute).
          const Comparison c = Compare(road, t + 60, t + 360);
          EXPECT_LT(c.speed_from_vehicles, 15);
          EXPECT_GT(c.occupancy_from_vehicles, 40);
        }
      }
      was = is;
    }
  }
  EXPECT_GE(incidents, 50);  // about 2 a day
  EXPECT_LE(incidents, 110);
  EXPECT_GE(queues, 3);
}

TEST(RoadSegmentModel, CreateNamesTheBadField) {
  RoadSpec spec;
  spec.daily_volume_veh = 200000;  // the busiest hour above capacity
  Result<RoadSegmentModel> r = RoadSegmentModel::Create(1, spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("daily_volume_veh"), std::string::npos) << r.status().message();

  spec = RoadSpec{};
  spec.slot_s = 10;  // a queue of trucks does not fit
  r = RoadSegmentModel::Create(1, spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("slot_s"), std::string::npos) << r.status().message();

  spec = RoadSpec{};
  spec.car_share = 0.9;
  EXPECT_FALSE(RoadSegmentModel::Create(1, spec).ok());
  EXPECT_TRUE(RoadSegmentModel::Create(1, RoadSpec{}).ok());
}

// Each rule of RoadSpec::Validate, broken alone on the default spec, in the
// order they are checked: the error starts with the field that rule names.
TEST(RoadSpec, EveryRuleNamesItsField) {
  struct Case {
    const char* field;
    void (*breaks)(RoadSpec&);
  };
  const Case cases[] = {
      {"car/van/truck/bus_share", [](RoadSpec& s) { s.car_share = -0.1; }},
      {"car/van/truck/bus_share", [](RoadSpec& s) { s.van_share = -0.1; }},
      {"car/van/truck/bus_share", [](RoadSpec& s) { s.truck_share = -0.1; }},
      {"car/van/truck/bus_share", [](RoadSpec& s) { s.bus_share = -0.1; }},
      {"car+van+truck+bus_share", [](RoadSpec& s) { s.car_share = 0.9; }},
      {"lanes", [](RoadSpec& s) { s.lanes = 9; }},
      {"free_flow_kmh", [](RoadSpec& s) { s.free_flow_kmh = 19; }},
      {"min_gap_m", [](RoadSpec& s) { s.min_gap_m = -1; }},
      {"min_time_gap_s", [](RoadSpec& s) { s.min_time_gap_s = -1; }},
      {"jam_density_veh_per_km", [](RoadSpec& s) { s.jam_density_veh_per_km = 200; }},  // closer than a car's length
      {"daily_volume_veh", [](RoadSpec& s) { s.daily_volume_veh = -1; }},
      {"incidents_per_day", [](RoadSpec& s) { s.incidents_per_day = 7; }},
      {"incident_min_min", [](RoadSpec& s) { s.incident_min_min = 0; }},
      {"incident_max_min", [](RoadSpec& s) { s.incident_max_min = 601; }},
      {"incident_capacity_fraction", [](RoadSpec& s) { s.incident_capacity_fraction = 1; }},
      {"incident_speed_factor", [](RoadSpec& s) { s.incident_speed_factor = 0; }},
      {"loop_length_m", [](RoadSpec& s) { s.loop_length_m = 0; }},
      {"speed_cv", [](RoadSpec& s) { s.speed_cv = 0.3; }},
      {"slot_s", [](RoadSpec& s) { s.slot_s = 4; }},
      {"slot_s", [](RoadSpec& s) { s.slot_s = 10; }},  // 4 of the slowest trucks do not fit
  };
  ASSERT_TRUE(RoadSpec{}.Validate().ok());
  for (const Case& c : cases) {
    RoadSpec spec;
    c.breaks(spec);
    const Status s = spec.Validate();
    ASSERT_FALSE(s.ok()) << c.field;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message().rfind(std::string("road spec: ") + c.field + " = ", 0), 0u) << s.message();
  }
}

// The whole message: field, value as std::to_string prints it, and the rule.
TEST(RoadSpec, ErrorShowsTheValueAndTheRule) {
  RoadSpec spec;
  spec.lanes = 0;
  EXPECT_EQ(spec.Validate().message(), "road spec: lanes = 0.000000, want 1..8");
  spec = RoadSpec{};
  spec.car_share = 0.9;
  EXPECT_EQ(spec.Validate().message(), "road spec: car+van+truck+bus_share = 1.080000, want 1");
}

}  // namespace
}  // namespace edgeforge
