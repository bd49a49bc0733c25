#include "sim/physics/machine.h"

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

constexpr double kDay = 86400.0;
constexpr double kHour = 3600.0;
// The slow load is piecewise linear between nodes this far apart, so the heat
// input k * I^2 is exactly quadratic between them (see HousingRise).
constexpr double kLoadNode = 900.0;
// The housing temperature integrates this many thermal time constants back;
// older history weighs exp(-8) = 3.4e-4 and is replaced by a steady state.
constexpr double kThermalWindowTaus = 8.0;
// Two schedule events are never closer than this (they are minutes apart).
constexpr double kEventEpsilon = 1e-3;

double Pow4(double x) { return (x * x) * (x * x); }

enum Channel : uint64_t {
  kParams = 1,
  kPlan,
  kLoadHours,
  kLoadQuarter,
  kLoadRipple,
  kVibX,
  kVibY,
  kVibZ,
  kIdleVib,
  kPressureRipple,
  kRoom,
};

bool Spinning(MachineState s) { return s == MachineState::kRunning || s == MachineState::kDegrading; }

// First-order lag tau * y' = P(x) - y over [0, d] for a quadratic input
// P(x) = c0 + c1 x + c2 x^2 given by its values at 0, d/2 and d. Closed form:
// y(d) = y0 E + c0 G + c1 (d - tau G) + c2 (d^2 - 2 tau d + 2 tau^2 G),
// E = exp(-d / tau), G = 1 - E.
double LagStep(double y0, double p0, double pm, double p1, double d, double tau) {
  if (!(d > 0)) return y0;
  const double c2 = 2 * (p0 - 2 * pm + p1) / (d * d);
  const double c1 = (p1 - p0) / d - c2 * d;
  const double g = -std::expm1(-d / tau);
  return y0 * (1 - g) + p0 * g + c1 * (d - tau * g) + c2 * (d * d - 2 * tau * d + 2 * tau * tau * g);
}

// A day's shift at its shortest: the latest start to the earliest end.
double ShortestShift(const MachineSpec& m) { return m.shift_end_h - m.shift_start_h - 2 * m.shift_jitter_h; }

// The longest stop an episode ends in: maintenance or a fault.
double LongestStop(const MachineSpec& m) { return std::max(m.maintenance_max_h, m.fault_downtime_max_h); }

}  // namespace

const char* MachineStateName(MachineState state) {
  switch (state) {
    case MachineState::kIdle:
      return "idle";
    case MachineState::kRunning:
      return "running";
    case MachineState::kDegrading:
      return "degrading";
    case MachineState::kFault:
      return "fault";
  }
  return "?";
}

MachineSpec MachineSpec::Demo() {
  MachineSpec s;
  s.time_scale = 24.0;
  s.mean_running_hours_between_episodes = 24.0;
  s.degrade_min_h = 2.0;
  s.degrade_max_h = 5.0;
  return s;
}

Status MachineSpec::Validate() const {
  using M = MachineSpec;
  // The error names the first rule that fails; a rule relating fields comes
  // after the rules that bound each of them alone.
  static constexpr physics::SpecRule<M> kRules[] = {
      {"time_scale", [](const M& m) { return m.time_scale; },
       [](const M& m) { return std::isfinite(m.time_scale) && m.time_scale > 0; }, "want > 0"},
      {"shift_jitter_h", [](const M& m) { return m.shift_jitter_h; }, [](const M& m) { return m.shift_jitter_h >= 0; },
       "want >= 0"},
      {"shift_start_h", [](const M& m) { return m.shift_start_h; },
       [](const M& m) { return m.shift_start_h - m.shift_jitter_h >= 0; },
       "want >= shift_jitter_h (the shift starts after midnight)"},
      {"shift_end_h", [](const M& m) { return m.shift_end_h; },
       [](const M& m) { return m.shift_end_h + m.shift_jitter_h <= 24; },
       "want <= 24 - shift_jitter_h (the shift ends before midnight)"},
      {"shift_end_h", [](const M& m) { return m.shift_end_h; }, [](const M& m) { return ShortestShift(m) > 0; },
       "want > shift_start_h + 2 * jitter"},
      {"mean_running_hours_between_episodes", [](const M& m) { return m.mean_running_hours_between_episodes; },
       [](const M& m) { return m.mean_running_hours_between_episodes > 0; }, "want > 0"},
      {"degrade_min_h", [](const M& m) { return m.degrade_min_h; },
       [](const M& m) { return m.degrade_min_h > 0 && m.degrade_min_h <= m.degrade_max_h; },
       "want 0 < degrade_min_h <= degrade_max_h"},
      {"degrade_max_h", [](const M& m) { return m.degrade_max_h; },
       [](const M& m) { return m.degrade_max_h <= ShortestShift(m); },
       "want <= the shortest shift (an episode fits in one shift)"},
      {"repair_probability", [](const M& m) { return m.repair_probability; },
       [](const M& m) { return m.repair_probability >= 0 && m.repair_probability <= 1; }, "want 0..1"},
      {"maintenance_min_h", [](const M& m) { return m.maintenance_min_h; },
       [](const M& m) { return m.maintenance_min_h > 0 && m.maintenance_min_h <= m.maintenance_max_h; },
       "want 0 < maintenance_min_h <= maintenance_max_h"},
      {"fault_downtime_min_h", [](const M& m) { return m.fault_downtime_min_h; },
       [](const M& m) { return m.fault_downtime_min_h > 0 && m.fault_downtime_min_h <= m.fault_downtime_max_h; },
       "want 0 < fault_downtime_min_h <= fault_downtime_max_h"},
      // The value shown is the longer stop, maintenance or fault downtime.
      {"fault_downtime_max_h", LongestStop,
       [](const M& m) {
         return m.shift_end_h + m.shift_jitter_h + LongestStop(m) <= 24 + m.shift_start_h - m.shift_jitter_h;
       },
       "want the longest stop to end before the next shift can start"},
      {"mains_hz", [](const M& m) { return m.mains_hz; }, [](const M& m) { return m.mains_hz > 0; }, "want > 0"},
      {"pole_pairs", [](const M& m) -> double { return m.pole_pairs; }, [](const M& m) { return m.pole_pairs >= 1; },
       "want >= 1"},
      {"rated_slip", [](const M& m) { return m.rated_slip; },
       [](const M& m) { return m.rated_slip >= 0 && m.rated_slip < 0.2; }, "want 0..0.2"},
      {"rated_current_a", [](const M& m) { return m.rated_current_a; },
       [](const M& m) { return m.rated_current_a > 0; }, "want > 0"},
      {"no_load_current_fraction", [](const M& m) { return m.no_load_current_fraction; },
       [](const M& m) { return m.no_load_current_fraction >= 0 && m.no_load_current_fraction < 1; }, "want 0..1"},
      {"start_current_multiple", [](const M& m) { return m.start_current_multiple; },
       [](const M& m) { return m.start_current_multiple >= 1; }, "want >= 1"},
      {"run_up_s", [](const M& m) { return m.run_up_s; }, [](const M& m) { return m.run_up_s > 0; }, "want > 0"},
      {"nominal_load", [](const M& m) { return m.nominal_load; },
       [](const M& m) { return m.nominal_load >= 0.4 && m.nominal_load <= 0.85; }, "want 0.4..0.85"},
      {"rated_pressure_bar", [](const M& m) { return m.rated_pressure_bar; },
       [](const M& m) { return m.rated_pressure_bar >= 0; }, "want >= 0"},
      {"pressure_rise_s", [](const M& m) { return m.pressure_rise_s; },
       [](const M& m) { return m.pressure_rise_s > 0; }, "want > 0"},
      {"pressure_decay_s", [](const M& m) { return m.pressure_decay_s; },
       [](const M& m) { return m.pressure_decay_s > 0; }, "want > 0"},
      {"thermal_tau_s", [](const M& m) { return m.thermal_tau_s; }, [](const M& m) { return m.thermal_tau_s >= 60; },
       "want >= 60"},
      {"rated_housing_rise_c", [](const M& m) { return m.rated_housing_rise_c; },
       [](const M& m) { return m.rated_housing_rise_c >= 0; }, "want >= 0"},
      {"fault_friction_rise_c", [](const M& m) { return m.fault_friction_rise_c; },
       [](const M& m) { return m.fault_friction_rise_c >= 0; }, "want >= 0"},
      {"fault_current_rise", [](const M& m) { return m.fault_current_rise; },
       [](const M& m) { return m.fault_current_rise >= 0; }, "want >= 0"},
      {"running_vibration_g", [](const M& m) { return m.running_vibration_g; },
       [](const M& m) { return m.running_vibration_g >= 0; }, "want >= 0"},
      {"fault_vibration_g", [](const M& m) { return m.fault_vibration_g; },
       [](const M& m) { return m.fault_vibration_g >= 1.4 * m.running_vibration_g; },
       "want >= 1.4 * running_vibration_g (the most a seed scales it)"},
      {"idle_vibration_g", [](const M& m) { return m.idle_vibration_g; },
       [](const M& m) { return m.idle_vibration_g >= 0; }, "want >= 0"},
  };
  return physics::CheckRules("machine spec", *this, kRules);
}

// One day's schedule, in absolute schedule seconds.
struct MachineModel::DayPlan {
  int64_t day = INT64_MIN;
  double on = 0;   // shift start
  double off = 0;  // shift end
  bool episode = false;
  bool faults = false;   // the episode ends in a fault (else it is caught and repaired)
  double onset = 0;      // degradation starts
  double degrade_s = 1;  // onset to (would-be) fault: health falls linearly 1 -> 0
  double stop = 0;       // fault, or the stop for maintenance
  double resume = 0;     // repaired; running again if within the shift
};

// A stretch of constant state; wear (1 - health) is linear in time within it.
struct MachineModel::Regime {
  MachineState state = MachineState::kIdle;
  double end = 0;  // first instant of the next regime (or a day boundary)
  double onset = 0;
  double degrade_s = 1;
  double wear = 0;  // outside kDegrading

  double Wear(double s) const {
    if (state != MachineState::kDegrading) return wear;
    return std::clamp((s - onset) / degrade_s, 0.0, 1.0);
  }
};

// Day plans computed during one query (a query touches at most 3-4 days).
class MachineModel::PlanCache {
 public:
  explicit PlanCache(const MachineModel& model) : model_(model) {}
  DayPlan Get(int64_t day) {
    for (const DayPlan& p : plans_) {
      if (p.day == day) return p;
    }
    plans_[next_] = model_.Plan(day);
    const DayPlan& p = plans_[next_];
    next_ = (next_ + 1) % plans_.size();
    return p;
  }

 private:
  const MachineModel& model_;
  std::array<DayPlan, 4> plans_{};
  size_t next_ = 0;
};

MachineModel::MachineModel(uint64_t seed) : MachineModel(seed, MachineSpec{}) {}

Result<MachineModel> MachineModel::Create(uint64_t seed, const MachineSpec& spec) {
  EF_RETURN_IF_ERROR(spec.Validate());
  return MachineModel(seed, spec);
}

MachineModel::MachineModel(uint64_t seed, const MachineSpec& spec)
    : seed_(seed), spec_(spec), room_(Mix(seed ^ Mix(kRoom * kGolden))) {
  auto param = [seed](uint64_t i) { return Unit(Mix(seed ^ Mix(kParams * kGolden + i))); };
  load_mean_ = spec_.nominal_load + 0.05 * (2 * param(0) - 1);
  // Mounting tilt up to 4 degrees in a random direction: z carries ~1 g.
  const double tilt = 4.0 * 3.14159265358979323846 / 180.0 * param(1);
  const double azimuth = 2 * 3.14159265358979323846 * param(2);
  gravity_ = {std::sin(tilt) * std::cos(azimuth), std::sin(tilt) * std::sin(azimuth), std::cos(tilt)};
  // Radial axes (x, y) carry more 1x vibration than the axial one (z).
  const double y_share = Lerp(0.6, 0.9, param(3));
  const double z_share = Lerp(0.35, 0.6, param(4));
  const double healthy = spec_.running_vibration_g * Lerp(0.6, 1.4, param(5));
  running_rms_ = {healthy, healthy * y_share, healthy * z_share};
  fault_rms_ = {spec_.fault_vibration_g, spec_.fault_vibration_g * y_share, spec_.fault_vibration_g * z_share};
}

MachineModel::DayPlan MachineModel::Plan(int64_t day) const {
  auto r = [this, day](uint64_t i) {
    return Unit(Mix(seed_ ^ Mix(kPlan * kGolden ^ Mix(static_cast<uint64_t>(day) * 16 + i))));
  };
  const MachineSpec& m = spec_;
  const double base = static_cast<double>(day) * kDay;
  DayPlan p;
  p.day = day;
  p.on = base + (m.shift_start_h + m.shift_jitter_h * (2 * r(0) - 1)) * kHour;
  p.off = base + (m.shift_end_h + m.shift_jitter_h * (2 * r(1) - 1)) * kHour;
  const double shift = p.off - p.on;
  const double chance = std::min(1.0, shift / kHour / m.mean_running_hours_between_episodes);
  p.episode = r(2) < chance;
  if (!p.episode) return p;
  p.degrade_s = std::min(Lerp(m.degrade_min_h, m.degrade_max_h, r(3)) * kHour, shift);
  p.onset = p.on + r(4) * (shift - p.degrade_s);
  p.faults = r(5) >= m.repair_probability;
  if (p.faults) {
    p.stop = p.onset + p.degrade_s;
    p.resume = p.stop + Lerp(m.fault_downtime_min_h, m.fault_downtime_max_h, r(7)) * kHour;
  } else {
    p.stop = p.onset + Lerp(0.5, 0.9, r(6)) * p.degrade_s;
    p.resume = p.stop + Lerp(m.maintenance_min_h, m.maintenance_max_h, r(7)) * kHour;
  }
  // Validate() guarantees this; the clamp keeps days disjoint for any spec.
  p.resume = std::min(p.resume, base + kDay + (m.shift_start_h - m.shift_jitter_h) * kHour);
  return p;
}

MachineModel::Regime MachineModel::RegimeAt(double s, PlanCache& plans) const {
  const auto day = static_cast<int64_t>(std::floor(s / kDay));
  const DayPlan prev = plans.Get(day - 1);
  const DayPlan cur = plans.Get(day);
  Regime r;
  if (prev.episode && s < prev.resume) {  // yesterday's stop reaching past midnight
    r.state = prev.faults ? MachineState::kFault : MachineState::kIdle;
    r.wear = prev.faults ? 1.0 : (prev.stop - prev.onset) / prev.degrade_s;
    r.end = prev.resume;
  } else if (cur.episode && s >= cur.onset && s < cur.resume) {
    if (s < cur.stop) {
      r.state = MachineState::kDegrading;
      r.onset = cur.onset;
      r.degrade_s = cur.degrade_s;
      r.end = cur.stop;
    } else {
      r.state = cur.faults ? MachineState::kFault : MachineState::kIdle;
      r.wear = cur.faults ? 1.0 : (cur.stop - cur.onset) / cur.degrade_s;
      r.end = cur.resume;
    }
  } else if (s >= cur.on && s < cur.off) {
    r.state = MachineState::kRunning;
    r.end = (cur.episode && s < cur.onset) ? cur.onset : cur.off;
  } else {
    r.state = MachineState::kIdle;
    r.end = s < cur.on ? cur.on : plans.Get(day + 1).on;
  }
  return r;
}

bool MachineModel::LastSwitch(double s, bool stopped, double horizon, PlanCache& plans, double& at) const {
  const auto day = static_cast<int64_t>(std::floor(s / kDay));
  std::array<double, 8> events{};
  size_t n = 0;
  for (int64_t d : {day - 1, day}) {
    const DayPlan p = plans.Get(d);
    events[n++] = p.on;
    events[n++] = p.off;
    events[n++] = p.episode ? p.stop : p.on;
    events[n++] = p.episode ? p.resume : p.on;
  }
  bool found = false;
  for (size_t i = 0; i < n; ++i) {
    const double e = events[i];
    if (e > s || s - e > horizon || (found && e <= at)) continue;
    const bool before = Spinning(RegimeAt(e - kEventEpsilon, plans).state);
    const bool after = Spinning(RegimeAt(e, plans).state);
    if (before != after && after != stopped) {
      at = e;
      found = true;
    }
  }
  return found;
}

double MachineModel::Lattice(uint64_t channel, int64_t k) const {
  return 2 * Unit(Mix(seed_ ^ Mix(channel * kGolden ^ Mix(static_cast<uint64_t>(k))))) - 1;
}

double MachineModel::Noise(uint64_t channel, double x) const {
  const double cell = std::floor(x);
  const auto i = static_cast<int64_t>(cell);
  return Lerp(Lattice(channel, i), Lattice(channel, i + 1), Fade(x - cell));
}

double MachineModel::LinearNoise(uint64_t channel, double x) const {
  const double cell = std::floor(x);
  const auto i = static_cast<int64_t>(cell);
  return Lerp(Lattice(channel, i), Lattice(channel, i + 1), x - cell);
}

double MachineModel::NodeLoad(int64_t node) const {
  // Demand wandering over hours plus a change every quarter hour.
  const double load =
      load_mean_ + 0.10 * LinearNoise(kLoadHours, static_cast<double>(node) / 8.0) + 0.06 * Lattice(kLoadQuarter, node);
  return std::clamp(load, 0.3, 1.0);
}

double MachineModel::SlowLoad(double s) const {
  const double x = s / kLoadNode;
  const double cell = std::floor(x);
  const auto node = static_cast<int64_t>(cell);
  return Lerp(NodeLoad(node), NodeLoad(node + 1), x - cell);
}

double MachineModel::Load(double s) const {
  // The slow load plus a +-2 % ripple over about a minute (process fluctuations); it is too fast
  // to matter to the housing temperature (tau = 30 min), which uses SlowLoad.
  return std::clamp(SlowLoad(s) + 0.02 * Noise(kLoadRipple, s / 60.0), 0.3, 1.0);
}

double MachineModel::RunningCurrent(double load, double wear) const {
  // Magnetising and torque-producing currents are roughly in quadrature, so
  // I = I_rated * sqrt(i0^2 + (1 - i0^2) * load^2): i0 at no load, rated at
  // load 1. A failing bearing adds friction torque late in the episode.
  const double i0 = spec_.no_load_current_fraction;
  const double ratio = std::sqrt(i0 * i0 + (1 - i0 * i0) * load * load);
  return spec_.rated_current_a * ratio * (1 + spec_.fault_current_rise * Pow4(wear));
}

double MachineModel::Heat(double s, const Regime& r, double slow_load) const {
  if (!Spinning(r.state)) return 0.0;
  const double wear = r.Wear(s);
  const double current = RunningCurrent(slow_load, wear);
  const double k = spec_.rated_housing_rise_c / (spec_.rated_current_a * spec_.rated_current_a);
  return k * current * current + spec_.fault_friction_rise_c * Pow4(wear);
}

double MachineModel::HousingRise(double s, PlanCache& plans) const {
  // Exact piecewise integration of tau * y' = P(t) - y: the pieces end at
  // load nodes and schedule events, so P is quadratic (exactly, while healthy)
  // within each piece. The state before the window is taken as the steady
  // state of the heat input at the window's start.
  const double tau = spec_.thermal_tau_s;
  double u = s - kThermalWindowTaus * tau;
  Regime r = RegimeAt(u, plans);
  auto cell = static_cast<int64_t>(std::floor(u / kLoadNode));
  double load0 = NodeLoad(cell), load1 = NodeLoad(cell + 1);
  // The slow load is linear within a cell: interpolate instead of re-hashing.
  auto slow = [&](double t) { return Lerp(load0, load1, t / kLoadNode - static_cast<double>(cell)); };
  double y = Heat(u, r, slow(u));
  while (u < s) {
    const double node = static_cast<double>(cell + 1) * kLoadNode;
    const double b = std::min({r.end, node, s});
    if (b > u) {
      const double p0 = Heat(u, r, slow(u)), pm = Heat(0.5 * (u + b), r, slow(0.5 * (u + b)));
      y = LagStep(y, p0, pm, Heat(b, r, slow(b)), b - u, tau);
      u = b;
    }
    if (u >= r.end) r = RegimeAt(u, plans);
    if (u >= node) {
      ++cell;
      load0 = load1;
      load1 = NodeLoad(cell + 1);
    }
  }
  return y;
}

double MachineModel::TargetPressure(double load, double wear) const {
  // Pump head rises with the flow demanded of it; a failing pump loses a little.
  return spec_.rated_pressure_bar * (0.55 + 0.45 * load) * (1 - 0.1 * Pow4(wear));
}

double MachineModel::Pressure(double s, const Regime& r, PlanCache& plans) const {
  double at = 0;
  if (Spinning(r.state)) {
    const double p = TargetPressure(Load(s), r.Wear(s));
    if (LastSwitch(s, false, 20 * spec_.pressure_rise_s, plans, at)) {
      return p * -std::expm1(-(s - at) / spec_.pressure_rise_s);
    }
    return p;
  }
  if (!LastSwitch(s, true, 20 * spec_.pressure_decay_s, plans, at)) return 0.0;
  const Regime before = RegimeAt(at - kEventEpsilon, plans);
  return TargetPressure(Load(at), before.Wear(at)) * std::exp(-(s - at) / spec_.pressure_decay_s);
}

Vec3 MachineModel::Vibration(double s, const Regime& r, double load) const {
  if (r.state == MachineState::kFault) return {};
  if (!Spinning(r.state)) {
    const double floor_g = spec_.idle_vibration_g;
    return {floor_g * (1 + 0.2 * Noise(kIdleVib, s / 300.0)), floor_g * (1 + 0.2 * Noise(kIdleVib + 16, s / 300.0)),
            floor_g * (1 + 0.2 * Noise(kIdleVib + 32, s / 300.0))};
  }
  // Healthy level scales a little with load; a developing fault adds to it,
  // growing with wear^2: visible early, hours before the current and heat
  // terms (wear^4) show anything.
  const double wear2 = r.Wear(s) * r.Wear(s);
  const double scale = 0.8 + 0.25 * load;
  auto axis = [&](double healthy, double at_fault, uint64_t channel) {
    return healthy * scale * (1 + 0.05 * Noise(channel, s / 120.0)) + (at_fault - healthy) * wear2;
  };
  return {axis(running_rms_.x, fault_rms_.x, kVibX), axis(running_rms_.y, fault_rms_.y, kVibY),
          axis(running_rms_.z, fault_rms_.z, kVibZ)};
}

MachineState MachineModel::StateAt(double seconds) const {
  PlanCache plans(*this);
  return RegimeAt(seconds * spec_.time_scale, plans).state;
}

MachineSample MachineModel::At(double seconds) const {
  const double s = seconds * spec_.time_scale;
  PlanCache plans(*this);
  const Regime r = RegimeAt(s, plans);
  const double wear = r.Wear(s);
  const double load = Load(s);

  MachineSample out;
  out.state = r.state;
  out.health = 1 - wear;
  out.ambient = room_.At(s);
  out.mains_hz = spec_.mains_hz;
  out.gravity_g = gravity_;
  out.vibration_rms_g = Vibration(s, r, load);
  out.housing_celsius = out.ambient.celsius + HousingRise(s, plans);
  out.outlet_bar = Pressure(s, r, plans);
  if (Spinning(r.state)) {
    double current = RunningCurrent(load, wear);
    double start = 0;
    if (LastSwitch(s, false, 10 * spec_.run_up_s, plans, start)) {
      current *= 1 + (spec_.start_current_multiple - 1) * std::exp(-(s - start) / spec_.run_up_s);
    }
    out.load = load;
    out.motor_current_a = current;
    // Slip grows about linearly with torque below rated load.
    out.vibration_hz = spec_.mains_hz / spec_.pole_pairs * (1 - spec_.rated_slip * load);
  }
  return out;
}

}  // namespace edgeforge
