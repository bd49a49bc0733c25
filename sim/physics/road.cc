#include "sim/physics/road.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "sim/physics/random.h"
#include "sim/physics/spec_rules.h"

namespace edgeforge {
namespace {

using physics::Fade;
using physics::kGolden;
using physics::Lerp;
using physics::Mix;
using physics::Unit;

constexpr double kPi = 3.14159265358979323846;
constexpr double kDay = 86400.0;
constexpr double kHour = 3600.0;
constexpr int kMaxIncidentsPerDay = 12;
constexpr size_t kMaxPerSlot = 1024;
// Slack left at the end of every slot so rounding can never put a vehicle
// inside the previous slot's last headway.
constexpr double kSlotMargin = 1e-6;

// Share of the day's traffic in each hour (percent, sums to 100): a weekday
// with a morning peak at 07-08 h, a broader evening peak at 16-18 h and a
// night trough near 0.5 %. The busiest hour carries 8.5 %, within the 8-10 %
// "K-factor" range HCM 2010 gives for urban roads.
constexpr std::array<double, 24> kHourlyPercent = {0.9, 0.6, 0.5, 0.5, 0.8, 2.0, 5.0, 8.3, 7.8, 5.6, 4.9, 5.0,
                                                   5.3, 5.2, 5.5, 6.6, 8.0, 8.5, 6.2, 4.2, 3.1, 2.5, 1.9, 1.1};
// Smooth demand noise stays within these factors (see Demand()).
constexpr double kDemandNoise = 0.06;
constexpr double kDayLevelNoise = 0.05;

struct ClassRange {
  VehicleClass cls;
  double min_m;
  double max_m;
};
// Car and van bands as in the brief; trucks from a 10 m rigid to an 18 m
// drawbar combination, buses from a midi to the 13.5 m two-axle limit
// (Directive 96/53/EC Annex I: 12 m rigid, 16.5 m articulated, 18.75 m road
// train, 13.5 m two-axle bus).
constexpr std::array<ClassRange, 4> kClasses = {{{VehicleClass::kCar, 4.0, 5.0},
                                                 {VehicleClass::kVan, 5.0, 7.0},
                                                 {VehicleClass::kTruck, 10.0, 18.0},
                                                 {VehicleClass::kBus, 11.0, 13.5}}};
constexpr double kLongestVehicle = 18.0;

enum Channel : uint64_t {
  kDemand = 1,
  kDayLevel,
  kIncidents,
  kCount,
  kVehicle,
  kPlacement,
};

/// Smallest n with P(N <= n) > u for N ~ Poisson(lambda), by inversion; a
/// normal approximation above lambda = 500 (where exp(-lambda) underflows).
size_t Poisson(double lambda, double u, double u2) {
  if (!(lambda > 0)) return 0;
  if (lambda > 500) {
    const double z = std::sqrt(-2 * std::log(1 - u)) * std::cos(2 * kPi * u2);
    return static_cast<size_t>(std::max(0.0, std::round(lambda + std::sqrt(lambda) * z)));
  }
  double p = std::exp(-lambda);
  double cdf = p;
  size_t n = 0;
  while (cdf <= u && n < kMaxPerSlot) {
    ++n;
    p *= lambda / static_cast<double>(n);
    cdf += p;
    if (p == 0) break;
  }
  return n;
}

// Greenshields, uncongested branch: the lane speed at lane flow q.
double FreeBranchSpeed(double q, double capacity, double free_flow_kmh) {
  const double x = std::clamp(q / capacity, 0.0, 1.0);
  return free_flow_kmh * (1 + std::sqrt(1 - x)) / 2;
}

// Greenshields, congested branch (in a queue): the lane speed at lane flow q.
double QueueSpeed(double q, double capacity, double free_flow_kmh) {
  const double x = std::clamp(q / capacity, 0.0, 1.0);
  return free_flow_kmh * (1 - std::sqrt(1 - x)) / 2;
}

double HourlyShare(int hour) { return kHourlyPercent[static_cast<size_t>(hour)] / 100.0; }

// In kClasses order.
std::array<double, 4> Shares(const RoadSpec& spec) {
  return {spec.car_share, spec.van_share, spec.truck_share, spec.bus_share};
}

double MixMeanLength(const RoadSpec& spec) {
  const std::array<double, 4> shares = Shares(spec);
  double mean = 0;
  for (size_t i = 0; i < shares.size(); ++i) mean += shares[i] * (kClasses[i].min_m + kClasses[i].max_m) / 2;
  return mean;
}

constexpr double Sum(const std::array<double, 24>& a) {
  double s = 0;
  for (double x : a) s += x;
  return s;
}
static_assert(Sum(kHourlyPercent) > 99.999 && Sum(kHourlyPercent) < 100.001, "hourly shares must sum to 100 %");

double ShareSum(const RoadSpec& spec) {
  double sum = 0;
  for (double share : Shares(spec)) sum += share;
  return sum;
}

// Greenshields: the most a lane carries, v_f k_j / 4 (veh/h).
double LaneCapacity(const RoadSpec& spec) { return spec.free_flow_kmh * spec.jam_density_veh_per_km / 4; }

// The busiest hour's flow per lane with both demand noises at their maximum.
double PeakLaneFlow(const RoadSpec& spec) {
  const double busiest = *std::max_element(kHourlyPercent.begin(), kHourlyPercent.end()) / 100.0;
  return spec.daily_volume_veh * busiest * (1 + kDemandNoise) * (1 + kDayLevelNoise) / spec.lanes;
}

// The longest headway anywhere: the longest vehicle, 3 sigma slow, in an
// incident queue or passing an incident at the incident capacity.
double LongestHeadway(const RoadSpec& spec) {
  const double capacity = LaneCapacity(spec);
  const double inc_flow = spec.incident_capacity_fraction * capacity;
  const double slowest_kmh =
      std::min(QueueSpeed(inc_flow, capacity, spec.free_flow_kmh),
               spec.incident_speed_factor * FreeBranchSpeed(inc_flow, capacity, spec.free_flow_kmh)) *
      (1 - 3 * spec.speed_cv);
  return (kLongestVehicle + spec.min_gap_m) / (slowest_kmh / 3.6) + spec.min_time_gap_s;
}

}  // namespace

const char* VehicleClassName(VehicleClass cls) {
  switch (cls) {
    case VehicleClass::kCar:
      return "car";
    case VehicleClass::kVan:
      return "van";
    case VehicleClass::kTruck:
      return "truck";
    case VehicleClass::kBus:
      return "bus";
  }
  return "?";
}

Status RoadSpec::Validate() const {
  using R = RoadSpec;
  // The error names the first rule that fails; a rule relating fields comes
  // after the rules that bound each of them alone.
  static constexpr physics::SpecRule<R> kRules[] = {
      {"car/van/truck/bus_share", [](const R& r) { return r.car_share; }, [](const R& r) { return r.car_share >= 0; },
       "want >= 0"},
      {"car/van/truck/bus_share", [](const R& r) { return r.van_share; }, [](const R& r) { return r.van_share >= 0; },
       "want >= 0"},
      {"car/van/truck/bus_share", [](const R& r) { return r.truck_share; },
       [](const R& r) { return r.truck_share >= 0; }, "want >= 0"},
      {"car/van/truck/bus_share", [](const R& r) { return r.bus_share; }, [](const R& r) { return r.bus_share >= 0; },
       "want >= 0"},
      {"car+van+truck+bus_share", ShareSum, [](const R& r) { return std::fabs(ShareSum(r) - 1) < 1e-6; }, "want 1"},
      {"lanes", [](const R& r) -> double { return r.lanes; }, [](const R& r) { return r.lanes >= 1 && r.lanes <= 8; },
       "want 1..8"},
      {"free_flow_kmh", [](const R& r) { return r.free_flow_kmh; },
       [](const R& r) { return r.free_flow_kmh >= 20 && r.free_flow_kmh <= 200; }, "want 20..200"},
      {"min_gap_m", [](const R& r) { return r.min_gap_m; }, [](const R& r) { return r.min_gap_m >= 0; }, "want >= 0"},
      {"min_time_gap_s", [](const R& r) { return r.min_time_gap_s; }, [](const R& r) { return r.min_time_gap_s >= 0; },
       "want >= 0"},
      {"jam_density_veh_per_km", [](const R& r) { return r.jam_density_veh_per_km; },
       [](const R& r) {
         return r.jam_density_veh_per_km > 0 && r.jam_density_veh_per_km * (MixMeanLength(r) + r.min_gap_m) <= 1000;
       },
       "want > 0 and a jam spacing (1000 / k_j m) of at least mean length + min_gap_m"},
      {"daily_volume_veh", [](const R& r) { return r.daily_volume_veh; },
       [](const R& r) { return r.daily_volume_veh >= 0 && PeakLaneFlow(r) <= 0.95 * LaneCapacity(r); },
       "want >= 0 and the busiest hour below the capacity v_f k_j / 4 per lane"},
      {"incidents_per_day", [](const R& r) { return r.incidents_per_day; },
       [](const R& r) { return r.incidents_per_day >= 0 && r.incidents_per_day <= 6; }, "want 0..6"},
      {"incident_min_min", [](const R& r) { return r.incident_min_min; },
       [](const R& r) { return r.incident_min_min > 0 && r.incident_min_min <= r.incident_max_min; },
       "want 0 < incident_min_min <= incident_max_min"},
      {"incident_max_min", [](const R& r) { return r.incident_max_min; },
       [](const R& r) { return r.incident_max_min <= 600; }, "want <= 600"},
      {"incident_capacity_fraction", [](const R& r) { return r.incident_capacity_fraction; },
       [](const R& r) { return r.incident_capacity_fraction > 0 && r.incident_capacity_fraction < 1; }, "want 0..1"},
      {"incident_speed_factor", [](const R& r) { return r.incident_speed_factor; },
       [](const R& r) { return r.incident_speed_factor > 0 && r.incident_speed_factor <= 1; }, "want 0..1"},
      {"loop_length_m", [](const R& r) { return r.loop_length_m; }, [](const R& r) { return r.loop_length_m > 0; },
       "want > 0"},
      {"speed_cv", [](const R& r) { return r.speed_cv; },
       [](const R& r) { return r.speed_cv >= 0 && r.speed_cv <= 0.25; }, "want 0..0.25"},
      {"slot_s", [](const R& r) { return r.slot_s; }, [](const R& r) { return r.slot_s >= 5 && r.slot_s <= 300; },
       "want 5..300"},
      {"slot_s", [](const R& r) { return r.slot_s; }, [](const R& r) { return 4 * LongestHeadway(r) <= r.slot_s; },
       "want room for 4 of the slowest trucks (raise slot_s or incident_capacity_fraction)"},
  };
  return physics::CheckRules("road spec", *this, kRules);
}

RoadSegmentModel::RoadSegmentModel(uint64_t seed) : RoadSegmentModel(seed, RoadSpec{}) {}

Result<RoadSegmentModel> RoadSegmentModel::Create(uint64_t seed, const RoadSpec& spec) {
  EF_RETURN_IF_ERROR(spec.Validate());
  return RoadSegmentModel(seed, spec);
}

RoadSegmentModel::RoadSegmentModel(uint64_t seed, const RoadSpec& spec)
    : seed_(seed), spec_(spec), mean_length_m_(MixMeanLength(spec)), capacity_per_lane_(LaneCapacity(spec)) {}

uint64_t RoadSegmentModel::Hash(uint64_t channel, uint64_t a, uint64_t b) const {
  return Mix(seed_ ^ Mix(channel * kGolden ^ Mix(a * kGolden ^ Mix(b))));
}

double RoadSegmentModel::Noise(uint64_t channel, double x) const {
  const double cell = std::floor(x);
  const auto i = static_cast<int64_t>(cell);
  const double a = 2 * Unit(Hash(channel, 0, static_cast<uint64_t>(i))) - 1;
  const double b = 2 * Unit(Hash(channel, 0, static_cast<uint64_t>(i + 1))) - 1;
  return Lerp(a, b, Fade(x - cell));
}

double RoadSegmentModel::Demand(double s) const {
  // Linear between hour centres, so the profile has no steps.
  const double hour = s / kHour - 0.5;
  const double cell = std::floor(hour);
  const auto i = static_cast<int64_t>(cell);
  const int h0 = static_cast<int>(((i % 24) + 24) % 24);
  const double share = Lerp(HourlyShare(h0), HourlyShare((h0 + 1) % 24), hour - cell);
  return spec_.daily_volume_veh * share * (1 + kDemandNoise * Noise(kDemand, s / 1200.0)) *
         (1 + kDayLevelNoise * Noise(kDayLevel, s / kDay));
}

bool RoadSegmentModel::IncidentAt(double s) const {
  const auto today = static_cast<int64_t>(std::floor(s / kDay));
  for (int64_t day = today - 1; day <= today; ++day) {
    const auto d = static_cast<uint64_t>(day);
    const size_t count =
        std::min<size_t>(Poisson(spec_.incidents_per_day, Unit(Hash(kIncidents, d, 0)), 0.5), kMaxIncidentsPerDay);
    for (size_t j = 0; j < count; ++j) {
      const uint64_t h = Hash(kIncidents, d, j + 1);
      // More traffic, more incidents: the start hour follows the hourly volume.
      double u = Unit(Mix(h ^ 1));
      int hour = 0;
      while (hour < 23 && u >= HourlyShare(hour)) u -= HourlyShare(hour++);
      const double start = static_cast<double>(day) * kDay + (hour + Unit(Mix(h ^ 2))) * kHour;
      const double duration = Lerp(spec_.incident_min_min, spec_.incident_max_min, Unit(Mix(h ^ 3))) * 60.0;
      if (s >= start && s < start + duration) return true;
    }
  }
  return false;
}

TrafficState RoadSegmentModel::At(double seconds) const {
  const double lane_demand = Demand(seconds) / spec_.lanes;
  const double cap = capacity_per_lane_;
  TrafficState st;
  st.incident = IncidentAt(seconds);
  double q = std::min(lane_demand, 0.95 * cap);
  double v = FreeBranchSpeed(q, cap, spec_.free_flow_kmh);
  if (st.incident) {
    const double incident_cap = spec_.incident_capacity_fraction * cap;
    if (lane_demand > incident_cap) {
      // Demand above what gets past: a queue reaches back over the loops,
      // which then see the discharge flow at the congested-branch speed.
      q = incident_cap;
      v = QueueSpeed(q, cap, spec_.free_flow_kmh);
    } else {
      v *= spec_.incident_speed_factor;
    }
  }
  st.flow_veh_per_h = q * spec_.lanes;
  st.mean_speed_kmh = v;
  st.density_veh_per_km = q / v;
  // Fraction of time a loop is covered: each vehicle covers it for
  // (length + loop length) / speed.
  st.occupancy_pct = std::min(100.0, 100.0 * q * (mean_length_m_ + spec_.loop_length_m) / (v * 1000.0));
  return st;
}

double RoadSegmentModel::Headway(const Vehicle& leader) const {
  return (leader.length_m + spec_.min_gap_m) / leader.speed_mps + spec_.min_time_gap_s;
}

void RoadSegmentModel::Slot(int lane, int64_t slot, std::vector<Vehicle>& out) const {
  // The slot's vehicles are laid out as hard rods: each one followed by its
  // Headway() as an exclusion zone, the zones packed into the slot in order
  // and the free time spread between them by sorted uniform draws (the
  // spacing of a Poisson process conditioned on its count). Zones never
  // leave the slot, so no vehicle depends on another slot.
  const double dt = spec_.slot_s;
  const double start = static_cast<double>(slot) * dt;
  const TrafficState st = At(start + dt / 2);
  const double mean_mps = st.mean_speed_kmh / 3.6;
  const auto l = static_cast<uint64_t>(lane);
  const auto k = static_cast<uint64_t>(slot);
  const uint64_t count_bits = Hash(kCount, l, k);
  const size_t wanted = std::min(
      Poisson(st.flow_veh_per_h / spec_.lanes / kHour * dt, Unit(count_bits), Unit(Mix(count_bits))), kMaxPerSlot);

  const size_t first = out.size();
  const uint64_t base = Hash(kVehicle, l, k);
  double zones = 0;
  for (size_t i = 0; i < wanted; ++i) {
    auto uniform = [&](uint64_t which) { return Unit(Mix(base ^ Mix(i * 8 + which))); };
    double pick = uniform(0);
    const std::array<double, 4> shares = {spec_.car_share, spec_.van_share, spec_.truck_share, spec_.bus_share};
    size_t c = 0;
    while (c < 3 && pick >= shares[c]) pick -= shares[c++];
    Vehicle v;
    v.cls = kClasses[c].cls;
    v.length_m = Lerp(kClasses[c].min_m, kClasses[c].max_m, uniform(1));
    const double z = std::sqrt(-2 * std::log(1 - uniform(2))) * std::cos(2 * kPi * uniform(3));
    v.speed_mps = mean_mps * (1 + spec_.speed_cv * std::clamp(z, -3.0, 3.0));
    v.lane = static_cast<uint8_t>(lane);
    const double zone = Headway(v);
    // More than fits: the rest does not get through in this slot.
    if (zones + zone > dt - kSlotMargin) break;
    zones += zone;
    out.push_back(v);
  }

  const size_t n = out.size() - first;
  std::array<double, kMaxPerSlot> spread;
  const uint64_t place = Hash(kPlacement, l, k);
  for (size_t j = 0; j < n; ++j) spread[j] = Unit(Mix(place ^ Mix(j)));
  std::sort(spread.begin(), spread.begin() + static_cast<std::ptrdiff_t>(n));
  const double free_time = dt - kSlotMargin - zones;
  double occupied = 0;
  for (size_t j = 0; j < n; ++j) {
    Vehicle& v = out[first + j];
    v.at_s = start + (spread[j] * free_time + occupied);
    occupied += Headway(v);
  }
}

void RoadSegmentModel::Vehicles(double t0, double t1, std::vector<Vehicle>& out) const {
  if (!(t1 > t0)) return;
  const double dt = spec_.slot_s;
  for (auto slot = static_cast<int64_t>(std::floor(t0 / dt)); static_cast<double>(slot) * dt < t1; ++slot) {
    const size_t first = out.size();
    for (int lane = 0; lane < spec_.lanes; ++lane) Slot(lane, slot, out);
    const auto begin = out.begin() + static_cast<std::ptrdiff_t>(first);
    out.erase(std::remove_if(begin, out.end(), [t0, t1](const Vehicle& v) { return v.at_s < t0 || v.at_s >= t1; }),
              out.end());
    std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(), [](const Vehicle& a, const Vehicle& b) {
      return a.at_s < b.at_s || (a.at_s == b.at_s && a.lane < b.lane);
    });
  }
}

}  // namespace edgeforge
