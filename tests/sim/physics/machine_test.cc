#include "sim/physics/machine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

namespace edgeforge {
namespace {

constexpr double kHour = 3600.0;
constexpr double kDay = 24 * kHour;
constexpr double kPi = 3.14159265358979323846;

struct Transition {
  double at;  // first instant of `to`, to 1 ms
  MachineState from;
  MachineState to;
};

// Scans StateAt() every `step` and bisects each change down to 1 ms.
std::vector<Transition> Transitions(const MachineModel& m, double t0, double t1, double step) {
  std::vector<Transition> out;
  MachineState prev = m.StateAt(t0);
  for (double t = t0 + step; t < t1; t += step) {
    const MachineState now = m.StateAt(t);
    if (now == prev) continue;
    double lo = t - step, hi = t;
    while (hi - lo > 1e-3) {
      const double mid = 0.5 * (lo + hi);
      (m.StateAt(mid) == prev ? lo : hi) = mid;
    }
    out.push_back({hi, prev, now});
    prev = now;
  }
  return out;
}

double Norm(const Vec3& v) { return std::sqrt(v.x * v.x + v.y * v.y + v.z * v.z); }

// The current a sound motor draws at `load` (header: magnetising and torque
// currents in quadrature).
double HealthyCurrent(const MachineSpec& s, double load) {
  const double i0 = s.no_load_current_fraction;
  return s.rated_current_a * std::sqrt(i0 * i0 + (1 - i0 * i0) * load * load);
}

MachineModel FaultProne(uint64_t seed) {
  MachineSpec spec;
  spec.mean_running_hours_between_episodes = 16;  // an episode every day
  spec.repair_probability = 0;                    // and each one ends in a fault
  return MachineModel::Create(seed, spec).value();
}

TEST(MachineModel, SameSeedSameMachineInAnyQueryOrder) {
  const MachineModel a(42), b(42);
  const std::vector<double> times = {-5 * kDay, 0.0, 7 * kHour + 0.25, 13 * kHour, 2 * kDay + 21.9 * kHour, 1e7};
  std::vector<MachineSample> forward;
  for (double t : times) forward.push_back(a.At(t));
  for (size_t i = times.size(); i-- > 0;) {  // backwards, on another instance
    const MachineSample x = forward[i], y = b.At(times[i]);
    EXPECT_EQ(x.state, y.state) << times[i];
    EXPECT_EQ(x.motor_current_a, y.motor_current_a) << times[i];
    EXPECT_EQ(x.housing_celsius, y.housing_celsius) << times[i];
    EXPECT_EQ(x.outlet_bar, y.outlet_bar) << times[i];
    EXPECT_EQ(x.vibration_rms_g.x, y.vibration_rms_g.x) << times[i];
    EXPECT_EQ(x.ambient.pascal, y.ambient.pascal) << times[i];
    EXPECT_EQ(a.At(times[i]).housing_celsius, x.housing_celsius) << times[i];  // no hidden state
  }
}

TEST(MachineModel, DifferentSeedsDiffer) {
  const MachineModel a(1), b(2);
  int differing = 0;
  for (int day = 0; day < 10; ++day) {
    const double noon = day * kDay + 12 * kHour;
    differing += a.At(noon).motor_current_a != b.At(noon).motor_current_a;
  }
  EXPECT_GE(differing, 9);
  // Shift starts differ too (jitter per seed and day).
  const std::vector<Transition> ta = Transitions(a, 0, kDay, 60), tb = Transitions(b, 0, kDay, 60);
  ASSERT_FALSE(ta.empty());
  ASSERT_FALSE(tb.empty());
  EXPECT_NE(ta.front().at, tb.front().at);
}

TEST(MachineModel, RunsByDayAndIdlesAtNight) {
  const MachineModel m(7);
  int running_at_noon = 0;
  for (int day = 0; day < 60; ++day) {
    const MachineState night = m.StateAt(day * kDay + 3 * kHour);
    EXPECT_TRUE(night == MachineState::kIdle || night == MachineState::kFault) << "day " << day;
    running_at_noon += m.StateAt(day * kDay + 12 * kHour) == MachineState::kRunning;
    // Shift edges within 06:00 +- 30 min and 22:00 +- 30 min.
    EXPECT_EQ(m.StateAt(day * kDay + 5.49 * kHour), MachineState::kIdle);
  }
  EXPECT_GE(running_at_noon, 50);
}

TEST(MachineModel, DemoSpecShowsAllFourStates) {
  const MachineSpec demo = MachineSpec::Demo();
  ASSERT_TRUE(demo.Validate().ok()) << demo.Validate().ToString();
  int seeds_with_all = 0, varied_first_hour = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const MachineModel m = MachineModel::Create(seed, demo).value();
    std::set<MachineState> seen, first_hour;
    for (double t = 0; t < 10 * kHour; t += 20) {  // ten schedule days
      seen.insert(m.StateAt(t));
      if (t < kHour) first_hour.insert(m.StateAt(t));
    }
    seeds_with_all += seen.size() == 4;
    varied_first_hour += first_hour.size() >= 3;
  }
  EXPECT_GE(seeds_with_all, 10);
  EXPECT_GE(varied_first_hour, 8);  // a one-hour demo: idle, running and a developing fault
}

TEST(MachineModel, StoppedMeansNoCurrentAndNoShaftSpeed) {
  const MachineModel m = MachineModel::Create(3, MachineSpec::Demo()).value();
  int idle = 0, fault = 0;
  for (double t = 0; t < 10 * kHour; t += 37) {
    const MachineSample s = m.At(t);
    if (s.state == MachineState::kIdle) {
      ++idle;
      EXPECT_EQ(s.motor_current_a, 0.0) << t;
      EXPECT_EQ(s.load, 0.0) << t;
      EXPECT_EQ(s.vibration_hz, 0.0) << t;
      EXPECT_LE(Norm(s.vibration_rms_g), 0.015) << t;  // floor vibration only
      EXPECT_GT(Norm(s.vibration_rms_g), 0.0) << t;
    } else if (s.state == MachineState::kFault) {
      ++fault;
      EXPECT_EQ(s.motor_current_a, 0.0) << t;
      EXPECT_EQ(Norm(s.vibration_rms_g), 0.0) << t;
      EXPECT_EQ(s.health, 0.0) << t;
    } else {
      EXPECT_GT(s.motor_current_a, 4.0) << t;
      EXPECT_GT(s.vibration_hz, 24.0) << t;
    }
  }
  EXPECT_GT(idle, 100);
  EXPECT_GT(fault, 5);
}

TEST(MachineModel, VibrationRisesThroughDegradationBeforeEveryFault) {
  int faults = 0;
  for (uint64_t seed : {11ull, 12ull}) {
    const MachineModel m = FaultProne(seed);
    const std::vector<Transition> all = Transitions(m, 0, 20 * kDay, 60);
    for (size_t i = 1; i < all.size(); ++i) {
      if (all[i].to != MachineState::kFault) continue;
      ++faults;
      ASSERT_EQ(all[i].from, MachineState::kDegrading) << "a fault comes only out of degradation";
      ASSERT_EQ(all[i - 1].to, MachineState::kDegrading);
      const double onset = all[i - 1].at, fault = all[i].at, span = fault - onset;
      EXPECT_GE(span, 3 * kHour - 1);  // "over hours"
      double prev_vib = Norm(m.At(onset + 1).vibration_rms_g), prev_health = 1.0;
      const double healthy_vib = prev_vib;
      for (double f : {0.25, 0.5, 0.75, 0.999}) {
        const MachineSample s = m.At(onset + f * span);
        EXPECT_EQ(s.state, MachineState::kDegrading);
        EXPECT_GT(Norm(s.vibration_rms_g), prev_vib) << "seed " << seed << " at " << f;
        EXPECT_LT(s.health, prev_health);
        prev_vib = Norm(s.vibration_rms_g);
        prev_health = s.health;
        const double current_excess = s.motor_current_a / HealthyCurrent(m.spec(), s.load) - 1;
        if (f == 0.5) {
          // Vibration leads: clearly up while the current is not.
          EXPECT_GT(prev_vib, healthy_vib + 0.2 * (m.spec().fault_vibration_g - healthy_vib));
          EXPECT_LT(current_excess, 0.01);
        }
        if (f == 0.999) {
          EXPECT_GT(current_excess, 0.06);
        }
      }
      EXPECT_GT(prev_vib, 1.0);  // ~1-2 g just before the fault
      EXPECT_LT(prev_vib, 2.5);
      // The trip: the pressure collapses within minutes.
      EXPECT_GT(m.At(fault - 1).outlet_bar, 3.0);
      EXPECT_LT(m.At(fault + 300).outlet_bar, 0.01);
    }
  }
  EXPECT_GE(faults, 20);
}

TEST(MachineModel, RepairReturnsToRunningAtFullHealth) {
  MachineSpec spec;
  spec.mean_running_hours_between_episodes = 16;
  spec.repair_probability = 1;  // every episode caught in time
  const MachineModel m = MachineModel::Create(5, spec).value();
  int repairs = 0;
  for (const Transition& t : Transitions(m, 0, 20 * kDay, 60)) {
    EXPECT_NE(t.to, MachineState::kFault);
    if (t.from == MachineState::kDegrading) {
      EXPECT_EQ(t.to, MachineState::kIdle);  // stopped for maintenance
      ++repairs;
    }
    if (t.to == MachineState::kRunning) {
      EXPECT_EQ(m.At(t.at + 1).health, 1.0);
    }
  }
  EXPECT_GE(repairs, 15);
}

TEST(MachineModel, HousingTemperatureLagsTheCurrent) {
  const MachineModel m(21);
  const std::vector<Transition> all = Transitions(m, kDay, 3 * kDay, 60);
  auto start = std::find_if(all.begin(), all.end(), [](const Transition& t) {
    return t.from == MachineState::kIdle && t.to == MachineState::kRunning;
  });
  ASSERT_NE(start, all.end());
  auto rise = [&](double t) {
    const MachineSample s = m.At(t);
    return s.housing_celsius - s.ambient.celsius;
  };
  const double t0 = start->at;
  EXPECT_GT(m.At(t0 + 10).motor_current_a, 5.0);  // current at once...
  EXPECT_LT(rise(t0 + 10), 0.5);                  // ...the housing after a night still at ambient
  EXPECT_LT(rise(t0 + 300), rise(t0 + 1800));
  EXPECT_GT(rise(t0 + 1800), 5.0);
  // Inrush: several times the running current while the motor runs up.
  EXPECT_GT(m.At(t0 + 0.5).motor_current_a, 3 * m.At(t0 + 60).motor_current_a);
  // Cooling after the shift: still warm a while after the stop, not a step.
  auto stop = std::find_if(start, all.end(), [](const Transition& t) {
    return t.from == MachineState::kRunning && t.to == MachineState::kIdle;  // the shift's end
  });
  ASSERT_NE(stop, all.end());
  EXPECT_GT(rise(stop->at + 60), 0.9 * rise(stop->at - 1));
  EXPECT_LT(rise(stop->at + 2 * kHour), 0.1 * rise(stop->at - 1));
}

TEST(MachineModel, HousingTemperatureSolvesTheThermalLag) {
  // Integrate tau * y' = k * I^2 - y numerically from the model's own current
  // and compare with its closed form over two hours of a shift.
  const MachineModel m(8);
  const MachineSpec& spec = m.spec();
  const double k = spec.rated_housing_rise_c / (spec.rated_current_a * spec.rated_current_a);
  const double t0 = 10 * kHour;
  ASSERT_EQ(m.StateAt(t0), MachineState::kRunning);
  double y = m.At(t0).housing_celsius - m.At(t0).ambient.celsius;
  const double dt = 2.0;
  double worst = 0;
  for (double t = t0; t < t0 + 2 * kHour; t += dt) {
    const double i_now = m.At(t).motor_current_a, i_next = m.At(t + dt).motor_current_a;
    const double heat = 0.5 * k * (i_now * i_now + i_next * i_next);  // trapezoid
    y += (heat - y) * -std::expm1(-dt / spec.thermal_tau_s);
    const MachineSample s = m.At(t + dt);
    ASSERT_EQ(s.state, MachineState::kRunning);
    worst = std::max(worst, std::fabs(s.housing_celsius - s.ambient.celsius - y));
  }
  EXPECT_LT(worst, 0.1);
}

TEST(MachineModel, CurrentAndPressureFollowTheLoad) {
  const MachineModel m(4);
  std::vector<double> load, current, pressure;
  for (double t = 9 * kHour; t < 18 * kHour; t += 60) {
    const MachineSample s = m.At(t);
    ASSERT_EQ(s.state, MachineState::kRunning);
    load.push_back(s.load);
    current.push_back(s.motor_current_a);
    pressure.push_back(s.outlet_bar);
  }
  auto corr = [](const std::vector<double>& a, const std::vector<double>& b) {
    const double n = static_cast<double>(a.size());
    double ma = 0, mb = 0;
    for (size_t i = 0; i < a.size(); ++i) ma += a[i] / n, mb += b[i] / n;
    double c = 0, va = 0, vb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      c += (a[i] - ma) * (b[i] - mb);
      va += (a[i] - ma) * (a[i] - ma);
      vb += (b[i] - mb) * (b[i] - mb);
    }
    return c / std::sqrt(va * vb);
  };
  EXPECT_GT(corr(load, current), 0.99);
  EXPECT_GT(corr(load, pressure), 0.99);
  const auto [lo, hi] = std::minmax_element(load.begin(), load.end());
  EXPECT_GT(*hi - *lo, 0.1);  // the load does move
}

TEST(MachineModel, StaysInPhysicalRanges) {
  for (uint64_t seed : {0ull, 1ull, 99ull, ~0ull}) {
    const MachineModel m = FaultProne(seed);
    double prev_temp = m.At(-1).housing_celsius;
    for (double t = 0; t < 4 * kDay; t += 13) {
      const MachineSample s = m.At(t);
      ASSERT_GE(s.health, 0.0);
      ASSERT_LE(s.health, 1.0);
      ASSERT_GE(s.motor_current_a, 0.0);
      ASSERT_LE(s.motor_current_a, 6 * 12 * 1.1) << t;
      ASSERT_NEAR(Norm(s.gravity_g), 1.0, 1e-12);
      ASSERT_GT(s.gravity_g.z, std::cos(4.01 * kPi / 180));
      ASSERT_LE(std::max({s.vibration_rms_g.x, s.vibration_rms_g.y, s.vibration_rms_g.z}), 2.0) << t;
      ASSERT_GE(std::min({s.vibration_rms_g.x, s.vibration_rms_g.y, s.vibration_rms_g.z}), 0.0) << t;
      ASSERT_TRUE(s.vibration_hz == 0.0 || (s.vibration_hz > 24.4 && s.vibration_hz < 25.0)) << s.vibration_hz;
      ASSERT_GE(s.outlet_bar, 0.0);
      ASSERT_LE(s.outlet_bar, 6.5);
      ASSERT_GE(s.housing_celsius, s.ambient.celsius - 1e-9);
      ASSERT_LE(s.housing_celsius, s.ambient.celsius + 50) << t;
      ASSERT_EQ(s.mains_hz, 50.0);
      // Continuous: the housing temperature moves slowly even across starts,
      // stops and faults (13 s steps, tau = 30 min).
      ASSERT_LT(std::fabs(s.housing_celsius - prev_temp), 0.5) << t;
      prev_temp = s.housing_celsius;
      if (s.state == MachineState::kRunning) {
        // ~6 bar, once the pump has built up pressure after a start.
        if (m.StateAt(t - 30) == MachineState::kRunning) {
          ASSERT_GT(s.outlet_bar, 4.0) << t;
        }
        ASSERT_GT(Norm(s.vibration_rms_g), 0.02) << t;
        ASSERT_LT(Norm(s.vibration_rms_g), 0.35) << t;
      }
    }
  }
}

TEST(MachineModel, TimeScaleCompressesTheWholeSchedule) {
  MachineSpec fast;
  fast.time_scale = 24;
  const MachineModel slow_m = MachineModel::Create(9, MachineSpec{}).value();
  const MachineModel fast_m = MachineModel::Create(9, fast).value();
  for (double t : {1000.0, 20000.0, 50000.0, 3 * kDay + 1234.0}) {
    const MachineSample a = slow_m.At(t), b = fast_m.At(t / 24);
    EXPECT_EQ(a.state, b.state);
    EXPECT_NEAR(a.housing_celsius, b.housing_celsius, 1e-9);
    EXPECT_NEAR(a.motor_current_a, b.motor_current_a, 1e-9);
    EXPECT_NEAR(a.vibration_hz, b.vibration_hz, 1e-9);  // shaft speed is not scaled
  }
}

TEST(MachineModel, CreateNamesTheBadField) {
  MachineSpec spec;
  spec.shift_end_h = 23.8;
  Result<MachineModel> r = MachineModel::Create(1, spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("shift_end_h"), std::string::npos) << r.status().message();

  spec = MachineSpec{};
  spec.fault_downtime_max_h = 9;  // would still be down when the next shift starts
  r = MachineModel::Create(1, spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("fault_downtime_max_h"), std::string::npos) << r.status().message();

  spec = MachineSpec{};
  spec.time_scale = 0;
  EXPECT_FALSE(MachineModel::Create(1, spec).ok());
}

// Each rule of MachineSpec::Validate, broken alone on the default spec, in the
// order they are checked: the error starts with the field that rule names.
TEST(MachineSpec, EveryRuleNamesItsField) {
  struct Case {
    const char* field;
    void (*breaks)(MachineSpec&);
  };
  const Case cases[] = {
      {"time_scale", [](MachineSpec& s) { s.time_scale = std::numeric_limits<double>::infinity(); }},
      {"shift_jitter_h", [](MachineSpec& s) { s.shift_jitter_h = -0.1; }},
      {"shift_start_h", [](MachineSpec& s) { s.shift_start_h = 0.2; }},  // before midnight with jitter
      {"shift_end_h", [](MachineSpec& s) { s.shift_end_h = 23.8; }},     // past midnight with jitter
      {"shift_end_h", [](MachineSpec& s) { s.shift_end_h = 6.5; }},      // shorter than 2 * jitter
      {"mean_running_hours_between_episodes", [](MachineSpec& s) { s.mean_running_hours_between_episodes = 0; }},
      {"degrade_min_h", [](MachineSpec& s) { s.degrade_min_h = 11; }},  // above degrade_max_h
      {"degrade_max_h", [](MachineSpec& s) { s.degrade_max_h = 16; }},  // longer than the shortest shift (15 h)
      {"repair_probability", [](MachineSpec& s) { s.repair_probability = 1.5; }},
      {"maintenance_min_h", [](MachineSpec& s) { s.maintenance_min_h = 4; }},
      {"fault_downtime_min_h", [](MachineSpec& s) { s.fault_downtime_min_h = 7; }},
      {"fault_downtime_max_h", [](MachineSpec& s) { s.fault_downtime_max_h = 9; }},
      {"mains_hz", [](MachineSpec& s) { s.mains_hz = 0; }},
      {"pole_pairs", [](MachineSpec& s) { s.pole_pairs = 0; }},
      {"rated_slip", [](MachineSpec& s) { s.rated_slip = 0.2; }},
      {"rated_current_a", [](MachineSpec& s) { s.rated_current_a = 0; }},
      {"no_load_current_fraction", [](MachineSpec& s) { s.no_load_current_fraction = 1; }},
      {"start_current_multiple", [](MachineSpec& s) { s.start_current_multiple = 0.5; }},
      {"run_up_s", [](MachineSpec& s) { s.run_up_s = 0; }},
      {"nominal_load", [](MachineSpec& s) { s.nominal_load = 0.9; }},
      {"rated_pressure_bar", [](MachineSpec& s) { s.rated_pressure_bar = -1; }},
      {"pressure_rise_s", [](MachineSpec& s) { s.pressure_rise_s = 0; }},
      {"pressure_decay_s", [](MachineSpec& s) { s.pressure_decay_s = 0; }},
      {"thermal_tau_s", [](MachineSpec& s) { s.thermal_tau_s = 59; }},
      {"rated_housing_rise_c", [](MachineSpec& s) { s.rated_housing_rise_c = -1; }},
      {"fault_friction_rise_c", [](MachineSpec& s) { s.fault_friction_rise_c = -1; }},
      {"fault_current_rise", [](MachineSpec& s) { s.fault_current_rise = -1; }},
      {"running_vibration_g", [](MachineSpec& s) { s.running_vibration_g = -1; }},
      {"fault_vibration_g", [](MachineSpec& s) { s.fault_vibration_g = 0.13; }},  // below 1.4 * running
      {"idle_vibration_g", [](MachineSpec& s) { s.idle_vibration_g = -1; }},
  };
  ASSERT_TRUE(MachineSpec{}.Validate().ok());
  for (const Case& c : cases) {
    MachineSpec spec;
    c.breaks(spec);
    const Status s = spec.Validate();
    ASSERT_FALSE(s.ok()) << c.field;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message().rfind(std::string("machine spec: ") + c.field + " = ", 0), 0u) << s.message();
  }
}

// The whole message: field, value as std::to_string prints it, and the rule.
TEST(MachineSpec, ErrorShowsTheValueAndTheRule) {
  MachineSpec spec;
  spec.pole_pairs = 0;
  EXPECT_EQ(spec.Validate().message(), "machine spec: pole_pairs = 0.000000, want >= 1");
  spec = MachineSpec{};
  spec.maintenance_max_h = 9;  // the longer stop is shown, under the fault downtime's name
  EXPECT_EQ(spec.Validate().message(),
            "machine spec: fault_downtime_max_h = 9.000000, want the longest stop to end before the next shift can "
            "start");
}

}  // namespace
}  // namespace edgeforge
