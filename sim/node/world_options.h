// How a SimWorld runs: its seed, its clock mapping and its physics. Apart
// from sim_world.h so that part models (part_model.h) can read it.
#pragma once

#include <cstdint>

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

}  // namespace edgeforge::sim
