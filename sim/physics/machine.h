// An electric-motor-driven machine (pump / compressor class) on a factory
// floor, as the sensors on and around it see it: a BME280 in the room, an
// ADXL345 on the housing, an ADS1115 reading a current transformer on one
// motor phase and a 4-20 mA outlet-pressure transducer. Deterministic per
// seed and pure in time, like EnvironmentModel: a device can ask about any
// instant in any order, and equal inputs give equal outputs. Equations,
// assumptions and sources: docs/physics.md.
#pragma once

#include <cstdint>

#include "hal/status.h"
#include "sim/physics/environment.h"

namespace edgeforge {

enum class MachineState : uint8_t {
  kIdle,       // stopped and sound: outside the shift, or held for a repair caught in time
  kRunning,    // running and healthy
  kDegrading,  // running with a developing fault (bearing wear, imbalance): vibration first, then current and heat
  kFault,      // tripped or broken: no current, no vibration, the outlet pressure collapses
};

/// "idle", "running", "degrading", "fault".
const char* MachineStateName(MachineState state);

/// Every rate and constant of the model. The defaults describe a 5.5 kW class,
/// 4-pole, 50 Hz pump motor that runs one long shift a day and develops a fault
/// every ~25 days; Demo() compresses that so a one-hour run shows all states.
/// Durations marked "schedule" are in schedule time (see time_scale).
struct MachineSpec {
  /// Schedule seconds per second of At()'s argument: 24 runs a whole day,
  /// with its thermal and degradation dynamics, in one hour. The mechanical
  /// frequencies (mains, shaft speed) are not scaled.
  double time_scale = 1.0;

  // Shifts (schedule hours after midnight). Each day's start and end are drawn
  // uniformly within +-shift_jitter_h of these.
  double shift_start_h = 6.0;
  double shift_end_h = 22.0;
  double shift_jitter_h = 0.5;

  // Degradation episodes. A day starts one with probability
  // shift_hours / mean_running_hours_between_episodes (at most one a day, always
  // within the shift). It lasts degrade_min_h..degrade_max_h and ends in a fault,
  // unless (repair_probability) maintenance catches it at 50..90 % of the way
  // and stops the machine for maintenance_min_h..maintenance_max_h.
  double mean_running_hours_between_episodes = 400.0;
  double degrade_min_h = 3.0;
  double degrade_max_h = 10.0;
  double repair_probability = 0.3;
  double maintenance_min_h = 1.0;
  double maintenance_max_h = 3.0;
  double fault_downtime_min_h = 2.0;
  double fault_downtime_max_h = 6.0;

  // Motor (IEC 60034-1 rating conventions): synchronous speed mains / pole pairs.
  double mains_hz = 50.0;
  int pole_pairs = 2;
  double rated_slip = 0.02;                // 1470 rpm at rated load on 50 Hz
  double rated_current_a = 12.0;           // RMS per phase at rated load
  double no_load_current_fraction = 0.35;  // magnetising current, of rated
  double start_current_multiple = 6.0;     // direct-on-line inrush, of running current
  double run_up_s = 2.0;                   // inrush decay time constant (schedule)
  double nominal_load = 0.75;              // mean shaft load, of rated; each seed +-0.05

  // Process: outlet pressure (gauge) at full load; it follows the load.
  double rated_pressure_bar = 6.5;
  double pressure_rise_s = 3.0;    // after a start (schedule)
  double pressure_decay_s = 30.0;  // after a stop (schedule)

  // Housing temperature: first-order lag toward ambient + rise, rise = k * I^2.
  double thermal_tau_s = 1800.0;        // housing thermal time constant (schedule)
  double rated_housing_rise_c = 30.0;   // steady rise above ambient at rated current
  double fault_friction_rise_c = 15.0;  // extra steady rise from friction just before a fault
  double fault_current_rise = 0.08;     // current +8 % just before a fault

  // Housing vibration, broadband AC RMS in g on the most loaded (radial) axis.
  double running_vibration_g = 0.1;  // healthy; each seed 0.6..1.4x
  double fault_vibration_g = 1.5;    // just before a fault
  double idle_vibration_g = 0.005;   // floor vibration from the neighbourhood while stopped

  /// time_scale 24, an episode most days (mean 24 running hours), 2..5 h long.
  static MachineSpec Demo();
  /// OK, or INVALID_ARGUMENT naming the first field that is out of range.
  Status Validate() const;
};

struct Vec3 {
  double x = 0;
  double y = 0;
  double z = 0;
};

struct MachineSample {
  MachineState state = MachineState::kIdle;
  double health = 1;                  // 1 sound .. 0 broken
  double load = 0;                    // shaft load, fraction of rated; 0 while stopped
  double motor_current_a = 0;         // RMS of one phase; 0 while stopped
  Vec3 gravity_g;                     // DC acceleration on the housing axes (mounting tilt)
  Vec3 vibration_rms_g;               // AC RMS per axis
  double vibration_hz = 0;            // dominant frequency: 1x shaft speed; 0 while stopped
  double housing_celsius = 0;         // motor housing surface
  double outlet_bar = 0;              // outlet pressure, gauge
  double mains_hz = 0;                // supply frequency
  EnvironmentModel::Ambient ambient;  // the room around the machine
};

class MachineModel {
 public:
  /// With the default MachineSpec.
  explicit MachineModel(uint64_t seed);
  /// INVALID_ARGUMENT if spec.Validate() fails.
  static Result<MachineModel> Create(uint64_t seed, const MachineSpec& spec);

  /// The machine `seconds` after local midnight of day 0 (may be negative).
  /// Pure: equal inputs, equal outputs. Costs ~20 closed-form thermal steps
  /// (the housing temperature integrates the last 8 time constants), no
  /// allocation.
  MachineSample At(double seconds) const;
  /// Only the schedule: much cheaper than At(seconds).state.
  MachineState StateAt(double seconds) const;

  const MachineSpec& spec() const { return spec_; }

 private:
  struct DayPlan;
  struct Regime;
  class PlanCache;

  MachineModel(uint64_t seed, const MachineSpec& spec);

  DayPlan Plan(int64_t day) const;
  Regime RegimeAt(double s, PlanCache& plans) const;
  /// The latest instant <= s at which the machine started (stopped == false)
  /// or stopped (stopped == true), if it was within `horizon` schedule seconds.
  bool LastSwitch(double s, bool stopped, double horizon, PlanCache& plans, double& at) const;

  /// Shaft load without the ripple: linear between nodes kLoadNode apart, so
  /// the heat input k * I^2 is exactly quadratic between them.
  double NodeLoad(int64_t node) const;
  double SlowLoad(double s) const;
  double Load(double s) const;
  double RunningCurrent(double load, double wear) const;
  double Heat(double s, const Regime& r, double slow_load) const;
  double HousingRise(double s, PlanCache& plans) const;
  double TargetPressure(double load, double wear) const;
  double Pressure(double s, const Regime& r, PlanCache& plans) const;
  Vec3 Vibration(double s, const Regime& r, double load) const;
  /// Smooth value noise in [-1, 1] (quintic fade) and its piecewise-linear
  /// sibling, one stream per channel.
  double Noise(uint64_t channel, double x) const;
  double LinearNoise(uint64_t channel, double x) const;
  double Lattice(uint64_t channel, int64_t k) const;

  uint64_t seed_;
  MachineSpec spec_;
  EnvironmentModel room_;
  double load_mean_;
  Vec3 gravity_;
  Vec3 running_rms_;  // healthy, per axis
  Vec3 fault_rms_;    // just before a fault, per axis
};

}  // namespace edgeforge
