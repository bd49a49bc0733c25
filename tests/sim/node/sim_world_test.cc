// A simulated node end to end: the reference boards' parts as register models
// on SimBuses, driven by the physics, read by the real firmware (BuildNode's
// drivers and sources) through the same bytes as on a gateway.
#include "sim/node/sim_world.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "firmware/app/node.h"
#include "firmware/app/part.h"
#include "firmware/board/board.h"
#include "firmware/telemetry/telemetry.h"
#include "hal/clock.h"
#include "sim/node/part_model.h"
#include "sim/node/sim_buses.h"

namespace edgeforge::sim {
namespace {

using telemetry::Reading;
using ::testing::HasSubstr;

constexpr Micros Ms(int64_t ms) { return Micros(ms * 1000); }
constexpr Micros Sec(int64_t s) { return Micros(s * 1'000'000); }

board::Board Load(const std::string& name) {
  auto b = board::LoadBoard(std::string(EDGEFORGE_SOURCE_DIR) + "/boards/" + name);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? *b : board::Board{};
}

/// The traffic board with its loops sampled every second (the board says
/// 10 s): these tests compare the detector with the road vehicle by vehicle.
board::Board TrafficWithOneSecondLoops() {
  board::Board b = Load("traffic-node.json");
  for (board::Device& d : b.devices) {
    if (d.name == "loop0") d.sample_ms = 1000;
  }
  return b;
}

const Reading* Find(const std::vector<Reading>& rs, const std::string& name) {
  for (const Reading& r : rs) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

/// One simulated device: its clock, buses, world and the firmware's node.
/// Steps the clock, advances the world and samples each part on its period.
class SimNode {
 public:
  SimNode(const board::Board& board, WorldOptions options, bool world_first = true) {
    if (!world_first) BuildFirmware(board);
    auto w = SimWorld::Create(board, buses_, clock_, std::move(options));
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    if (w.ok()) world_ = std::move(*w);
    if (world_first) BuildFirmware(board);
  }

  bool ok() const { return world_ != nullptr && node_ != nullptr; }
  void InitAll() {
    for (const app::NodePart& p : node_->parts()) {
      Status s = p.source->Init();
      EXPECT_TRUE(s.ok()) << p.device->name << ": " << s.ToString();
      next_[p.device->name] = clock_.Monotonic() + Millis(p.device->sample_ms);
    }
  }

  /// Runs until `end`, advancing the world every `step`; calls
  /// on_sample(device name, sample instant, readings, status) per sample.
  template <typename F>
  void RunUntil(Micros end, Micros step, F on_sample) {
    while (clock_.Monotonic() < end) {
      clock_.AdvanceTo(clock_.Monotonic() + step);
      world_->Advance(clock_.Monotonic());
      for (const app::NodePart& p : node_->parts()) {
        Micros& next = next_[p.device->name];
        if (clock_.Monotonic() < next) continue;
        const Micros at = clock_.Monotonic();
        std::vector<Reading> out;
        Status s = p.source->Sample(out);
        on_sample(p.device->name, at, out, s);
        next += Millis(p.device->sample_ms);
        if (next <= clock_.Monotonic()) next = clock_.Monotonic() + Millis(p.device->sample_ms);
      }
    }
  }

  ManualClock& clock() { return clock_; }
  SimBuses& buses() { return buses_; }
  SimWorld& world() { return *world_; }

 private:
  void BuildFirmware(const board::Board& board) {
    auto n = app::BuildNode(board, buses_, clock_);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    if (n.ok()) node_ = std::move(*n);
  }

  ManualClock clock_;
  SimBuses buses_{clock_};
  std::unique_ptr<SimWorld> world_;  // after buses_: destroyed before them
  std::unique_ptr<app::Node> node_;  // after world_: destroyed first
  std::map<std::string, Micros> next_;
};

/// The first physics instant (on a 60 s grid from `from`) that starts
/// `span_s` seconds of the machine in `state` (or running/degrading when
/// `running`), per the machine's own schedule.
double FindMachineSpan(const MachineModel& m, double from, double span_s, bool running) {
  for (double t = from; t < from + 7 * 86400.0; t += 60) {
    bool all = true;
    for (double u = t; u <= t + span_s && all; u += 5) {
      const MachineState s = m.StateAt(u);
      all = running ? (s == MachineState::kRunning || s == MachineState::kDegrading) : s == MachineState::kIdle;
    }
    if (all) return t;
  }
  ADD_FAILURE() << "no such span in a week";
  return from;
}

WorldOptions FactoryOptions(bool running) {
  WorldOptions o;
  o.seed = 7;
  auto m = MachineModel::Create(o.seed, o.machine);
  EXPECT_TRUE(m.ok());
  // 30 s of margin before the span: the pressure and the inrush settle.
  o.start_seconds = FindMachineSpan(*m, 0, 630, running) + 30;
  return o;
}

// ---------------------------------------------------------------------------
// Factory node.

TEST(SimWorldFactory, ReadingsTrackTheRunningMachine) {
  SimNode n(Load("factory-node.json"), FactoryOptions(/*running=*/true));
  ASSERT_TRUE(n.ok());
  n.InitAll();
  const SimWorld& w = n.world();
  int temps = 0, currents = 0, pressures = 0, vibs = 0;
  MachineSample previous = w.machine_sample();
  n.RunUntil(Sec(600), Ms(50), [&](const std::string& dev, Micros, const std::vector<Reading>& r, const Status& s) {
    const MachineSample& m = w.machine_sample();
    const bool running = m.state == MachineState::kRunning || m.state == MachineState::kDegrading;
    if (dev == "env0") {
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_NEAR(Find(r, "temperature")->value, m.ambient.celsius, 0.05);
      ++temps;
    } else if (dev == "adc0") {
      ASSERT_TRUE(s.ok()) << s.ToString();
      const double amps = Find(r, "motor_current")->value;
      ASSERT_TRUE(running) << MachineStateName(m.state);
      EXPECT_NEAR(amps, m.motor_current_a, 0.03 * m.motor_current_a);
      ++currents;
      EXPECT_NEAR(Find(r, "line_pressure")->value, std::clamp(m.outlet_bar, 0.0, 10.0), 0.01 * 10);
      ++pressures;
    } else if (dev == "vib0") {
      ASSERT_TRUE(s.ok()) << s.ToString();
      const bool steady = previous.state == m.state;  // the FIFO window saw one regime
      previous = m;
      if (!steady) return;
      const double want[3] = {m.vibration_rms_g.x, m.vibration_rms_g.y, m.vibration_rms_g.z};
      const char* names[3] = {"vibration_rms_x", "vibration_rms_y", "vibration_rms_z"};
      for (int k = 0; k < 3; ++k) {
        EXPECT_NEAR(Find(r, names[k])->value, want[k], 0.1 * want[k] + 0.004) << names[k];
      }
      ++vibs;
    }
  });
  EXPECT_GE(temps, 590);
  EXPECT_GE(currents, 590);
  EXPECT_GE(pressures, 590);
  EXPECT_GE(vibs, 2300);
  EXPECT_GT(w.machine_sample().motor_current_a, 5.0);  // it really ran
}

TEST(SimWorldFactory, IdleMachineDrawsNoCurrent) {
  SimNode n(Load("factory-node.json"), FactoryOptions(/*running=*/false));
  ASSERT_TRUE(n.ok());
  n.InitAll();
  const SimWorld& w = n.world();
  int currents = 0;
  n.RunUntil(Sec(120), Ms(250), [&](const std::string& dev, Micros, const std::vector<Reading>& r, const Status& s) {
    ASSERT_EQ(w.machine_sample().state, MachineState::kIdle);
    if (dev == "adc0") {
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_NEAR(Find(r, "motor_current")->value, 0.0, 0.05);
      EXPECT_NEAR(Find(r, "line_pressure")->value, std::clamp(w.machine_sample().outlet_bar, 0.0, 10.0), 0.1);
      ++currents;
    } else if (dev == "vib0" && s.ok()) {
      EXPECT_LT(Find(r, "vibration_rms_x")->value, 0.02);  // floor vibration plus sensor noise
    }
  });
  EXPECT_GE(currents, 110);
}

TEST(SimWorldFactory, VibrationFaultIsReportedAndRecovers) {
  SimNode n(Load("factory-node.json"), FactoryOptions(/*running=*/true));
  ASSERT_TRUE(n.ok());
  n.InitAll();
  std::vector<std::pair<Status, std::string>> vib;  // status, fault text of vibration_rms_x
  auto record = [&](const std::string& dev, Micros, const std::vector<Reading>& r, const Status& s) {
    if (dev != "vib0") return;
    const Reading* x = Find(r, "vibration_rms_x");
    vib.emplace_back(s, x ? x->fault : "missing");
  };
  n.RunUntil(Sec(2), Ms(50), record);
  ASSERT_FALSE(vib.empty());
  EXPECT_TRUE(vib.back().first.ok()) << vib.back().first.ToString();

  FaultSpec cut;
  cut.kind = FaultKind::kDisconnect;
  ASSERT_TRUE(n.world().InjectFault("vib0", cut).ok());
  vib.clear();
  n.RunUntil(Sec(4), Ms(50), record);
  ASSERT_GE(vib.size(), 4u);
  for (const auto& [s, fault] : vib) {
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(fault, HasSubstr("vib0: "));
  }
  EXPECT_GT(n.buses().SpiSim("spi0").faults_hit(0), 0u);

  ASSERT_TRUE(n.world().ClearFault("vib0").ok());
  vib.clear();
  n.RunUntil(Sec(6), Ms(50), record);
  ASSERT_GE(vib.size(), 4u);
  // The source re-runs Init(); the first read after it may find the FIFO empty.
  EXPECT_TRUE(vib.back().first.ok()) << vib.back().first.ToString();
  EXPECT_EQ(vib.back().second, "");
}

TEST(SimWorldFactory, FaultOnUnknownDeviceIsNotFound) {
  SimNode n(Load("factory-node.json"), FactoryOptions(true));
  ASSERT_TRUE(n.ok());
  Status s = n.world().InjectFault("vib9", FaultSpec{FaultKind::kNack});
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("no device \"vib9\" (devices: env0, vib0, adc0)"));
  EXPECT_EQ(n.world().ClearFault("nope").code(), StatusCode::kNotFound);
}

TEST(SimWorldFactory, FirmwareBuiltBeforeTheWorldWorksToo) {
  SimNode n(Load("factory-node.json"), FactoryOptions(true), /*world_first=*/false);
  ASSERT_TRUE(n.ok());
  n.InitAll();
  int temps = 0;
  n.RunUntil(Sec(5), Ms(250), [&](const std::string& dev, Micros, const std::vector<Reading>& r, const Status& s) {
    if (dev != "env0") return;
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_NEAR(Find(r, "temperature")->value, n.world().ambient().celsius, 0.05);
    ++temps;
  });
  EXPECT_GE(temps, 4);
  EXPECT_NE(n.world().bme280("env0"), nullptr);
  EXPECT_GT(n.world().bme280("env0")->measurements(), 0u);
}

// ---------------------------------------------------------------------------
// Traffic node.

TEST(SimWorldTraffic, LoopsCountAndTimeEveryLaneZeroVehicle) {
  WorldOptions o;
  o.seed = 11;
  o.start_seconds = 17.25 * 3600;  // evening peak
  const board::Board board = TrafficWithOneSecondLoops();
  SimNode n(board, o);
  ASSERT_TRUE(n.ok());
  n.InitAll();
  const SimWorld& w = n.world();
  ASSERT_NE(w.road(), nullptr);
  EXPECT_DOUBLE_EQ(w.road()->spec().loop_length_m, 2.0);  // the board's loops, not the road default 1.8
  EXPECT_EQ(w.loop_lane("loop0"), 0);

  struct LoopSample {
    Micros at{0};
    double count = 0;
    std::vector<double> speeds;
  };
  std::vector<LoopSample> loops;
  std::vector<double> radar;
  n.RunUntil(Sec(610), Ms(250), [&](const std::string& dev, Micros at, const std::vector<Reading>& r, const Status& s) {
    if (dev == "env0") {
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_NEAR(Find(r, "temperature")->value, w.ambient().celsius, 0.05);
    } else if (dev == "loop0") {
      ASSERT_TRUE(s.ok()) << s.ToString();
      LoopSample ls;
      ls.at = at;
      for (const Reading& x : r) {
        EXPECT_EQ(x.fault, "") << x.name;
        if (x.name == "vehicle_count") ls.count = x.value;
        if (x.name == "speed") ls.speeds.push_back(x.value);
      }
      loops.push_back(ls);
    } else if (dev == "radar0") {
      ASSERT_TRUE(s.ok()) << s.ToString();
      for (const Reading& x : r) {
        EXPECT_EQ(x.fault, "");
        radar.push_back(x.value);
      }
    }
  });
  EXPECT_GT(w.traffic().flow_veh_per_h, 1000);
  ASSERT_GE(loops.size(), 600u);

  // The span: ten minutes of loop samples, after the first few seconds.
  const size_t first = 5;
  const size_t last = first + 600;
  ASSERT_LT(last, loops.size());
  const Micros from = loops[first].at;  // exclusive
  const Micros to = loops[last].at;     // inclusive
  double counted = 0;
  std::vector<double> speeds;
  for (size_t i = first + 1; i <= last; ++i) {
    counted += loops[i].count;
    speeds.insert(speeds.end(), loops[i].speeds.begin(), loops[i].speeds.end());
  }

  // What the road produced: a vehicle completes its record when it clears the
  // downstream loop (LoopDetector: "the downstream loop cleared"), so it is
  // counted in the sample that reads that edge.
  const LoopGeometry g = w.loop_detector("loop0")->geometry();
  std::vector<Vehicle> vehicles;
  w.road()->Vehicles(w.RoadSeconds(from) - 120, w.RoadSeconds(to), vehicles);
  std::vector<const Vehicle*> cleared;
  std::vector<double> expected(last + 1, 0);  // per loop sample
  int arrived = 0;
  for (const Vehicle& v : vehicles) {
    if (v.lane != 0) continue;
    const Micros at = w.MonotonicAt(v.at_s);
    const Micros off = at + Micros(std::llround(g.spacing_m / v.speed_mps * 1e6)) +
                       Micros(std::llround((v.length_m + g.loop_length_m) / v.speed_mps * 1e6));
    if (off > from && off <= to) {
      cleared.push_back(&v);
      size_t k = first + 1;
      while (loops[k].at < off) ++k;
      expected[k] += 1;
    }
    if (at > from && at <= to) ++arrived;
  }
  EXPECT_EQ(w.loop_detector("loop0")->merged(), 0u);
  EXPECT_GT(cleared.size(), 100u);
  EXPECT_EQ(counted, static_cast<double>(cleared.size()));
  // Sample by sample too: every edge was scheduled before the firmware read past it.
  for (size_t k = first + 1; k <= last; ++k) EXPECT_EQ(loops[k].count, expected[k]) << "sample " << k;
  // By arrival instead: only the vehicles on the trap at either end of the
  // span differ (a few seconds each side).
  EXPECT_NEAR(counted, arrived, 2);

  ASSERT_EQ(speeds.size(), cleared.size());
  for (size_t i = 0; i < speeds.size(); ++i) {
    EXPECT_NEAR(speeds[i], cleared[i]->speed_mps * 3.6, 2.0) << "vehicle " << i;
  }

  // The radar reports the same lane-0 vehicles while they are in its beam.
  ASSERT_GT(radar.size(), cleared.size());
  for (double kmh : radar) {
    const bool matches = std::any_of(vehicles.begin(), vehicles.end(), [&](const Vehicle& v) {
      return v.lane == 0 && std::fabs(v.speed_mps * 3.6 - kmh) <= 1.0;
    });
    EXPECT_TRUE(matches) << kmh << " km/h";
  }
  EXPECT_EQ(w.traffic_counters().rejected, 0u);
  EXPECT_EQ(w.traffic_counters().skipped, 0u);
}

TEST(SimWorldTraffic, RadarRecoversFromAPowerCycleWhileTrafficFlows) {
  WorldOptions o;
  o.seed = 3;
  o.start_seconds = 8 * 3600;  // morning peak
  SimNode n(TrafficWithOneSecondLoops(), o);
  ASSERT_TRUE(n.ok());
  n.InitAll();
  std::vector<Status> radar;
  size_t readings = 0;
  auto record = [&](const std::string& dev, Micros, const std::vector<Reading>& r, const Status& s) {
    if (dev != "radar0") return;
    radar.push_back(s);
    readings += r.size();
  };
  n.RunUntil(Sec(60), Ms(250), record);
  for (const Status& s : radar) EXPECT_TRUE(s.ok()) << s.ToString();
  // Back to m/s plain output: the source notices and configures it again,
  // although reports keep coming (the world feeds them only just ahead).
  n.world().ops243("radar0")->PowerCycle();
  radar.clear();
  readings = 0;
  n.RunUntil(Sec(120), Ms(250), record);
  ASSERT_GE(radar.size(), 50u);
  for (size_t i = 5; i < radar.size(); ++i) EXPECT_TRUE(radar[i].ok()) << i << ": " << radar[i].ToString();
  EXPECT_GT(readings, 50u);
  EXPECT_EQ(n.world().ops243("radar0")->unit(), Ops243Unit::kKilometersPerHour);
}

// Loops read once a minute (a common traffic-count bin): the node asks for an
// event buffer that holds a period of edges, so rush hour loses none. With the
// kernel's default of 16 per line, ~8 vehicles a minute would overflow it (the
// detector would then report DATA_LOSS). time_scale speeds up the machine,
// never the road.
TEST(SimWorldTraffic, MinuteLoopSamplesLoseNoEdgesAtRushHour) {
  WorldOptions o;
  o.seed = 3;
  o.start_seconds = 17.25 * 3600;
  o.time_scale = 60;
  board::Board b = Load("traffic-node.json");
  for (board::Device& d : b.devices) {
    if (d.name == "loop0") d.sample_ms = 60'000;
  }
  SimNode n(b, o);
  ASSERT_TRUE(n.ok());
  n.InitAll();
  double count = 0;
  int samples = 0;
  auto record = [&](const std::string& dev, Micros, const std::vector<Reading>& r, const Status& s) {
    if (dev != "loop0") return;
    ++samples;
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (const Reading* c = Find(r, "vehicle_count"); c != nullptr && c->fault.empty()) count += c->value;
  };
  n.RunUntil(Sec(600), Ms(250), record);
  EXPECT_EQ(samples, 10);
  EXPECT_GT(count, 100) << "ten minutes of rush-hour traffic on one lane";
  EXPECT_EQ(n.buses().GpioSim("gpio0", 17).dropped_events(), 0u);
  EXPECT_EQ(n.buses().GpioSim("gpio0", 27).dropped_events(), 0u);
  EXPECT_EQ(n.world().traffic_counters().rejected, 0u);
}

TEST(SimWorldTraffic, CutLoopWiresCountNothingThenRecover) {
  WorldOptions o;
  o.seed = 5;
  o.start_seconds = 17.5 * 3600;
  SimNode n(TrafficWithOneSecondLoops(), o);
  ASSERT_TRUE(n.ok());
  n.InitAll();
  std::vector<Status> loop;
  double count = 0;
  auto record = [&](const std::string& dev, Micros, const std::vector<Reading>& r, const Status& s) {
    if (dev != "loop0") return;
    loop.push_back(s);
    if (const Reading* c = Find(r, "vehicle_count"); c != nullptr && c->fault.empty()) count += c->value;
  };
  n.RunUntil(Sec(30), Ms(250), record);
  EXPECT_GT(count, 3);
  FaultSpec cut;
  cut.kind = FaultKind::kDisconnect;
  ASSERT_TRUE(n.world().InjectFault("loop0", cut).ok());
  count = 0;
  n.RunUntil(Sec(90), Ms(250), record);
  EXPECT_LE(count, 1);  // at most the vehicle on the trap when the wires were cut
  EXPECT_GT(n.buses().GpioSim("gpio0", 17).faults_hit(), 10u);
  EXPECT_GT(n.buses().GpioSim("gpio0", 27).faults_hit(), 10u);
  ASSERT_TRUE(n.world().ClearFault("loop0").ok());
  loop.clear();
  count = 0;
  n.RunUntil(Sec(150), Ms(250), record);
  ASSERT_GE(loop.size(), 50u);
  for (size_t i = 10; i < loop.size(); ++i) EXPECT_TRUE(loop[i].ok()) << i << ": " << loop[i].ToString();
  EXPECT_GT(count, 3);  // seed 5 at 17:30 has an incident: a queue over the loops, ~7 vehicles a minute
  EXPECT_EQ(n.world().traffic_counters().rejected, 0u);
}

std::string ReadBoardText(const std::string& name) {
  std::ifstream in(std::string(EDGEFORGE_SOURCE_DIR) + "/boards/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(SimWorldTraffic, NodeBuildsTheTrafficPartsWithTheirChannels) {
  const board::Board b = Load("traffic-node.json");
  ManualClock clock;
  SimBuses buses(clock);
  auto node = app::BuildNode(b, buses, clock);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  std::map<std::string, std::vector<std::string>> channels;
  for (const app::NodePart& p : (*node)->parts()) channels[p.device->name] = p.channels;
  EXPECT_EQ(channels["loop0"], (std::vector<std::string>{"vehicle_count", "occupancy", "speed", "vehicles_short",
                                                         "vehicles_medium", "vehicles_long"}));
  EXPECT_EQ(channels["radar0"], (std::vector<std::string>{"radar_speed"}));
  EXPECT_EQ((*node)->alarm_rules().size(), 3u);  // occupancy and speed alarms resolve to these parts

  std::string text = ReadBoardText("traffic-node.json");
  text.replace(text.find("\"spacing_m\": 4.0, "), 18, "");
  auto no_spacing = board::ParseBoard(text, "t.json");
  ASSERT_TRUE(no_spacing.ok()) << no_spacing.status().ToString();
  auto bad = app::BuildNode(*no_spacing, buses, clock);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("t.json: devices[1].params.spacing_m"));

  text = ReadBoardText("traffic-node.json");
  text.replace(text.find("\"km/h\""), 6, "\"furlong/fortnight\"");
  auto units = board::ParseBoard(text, "t.json");
  ASSERT_TRUE(units.ok()) << units.status().ToString();
  bad = app::BuildNode(*units, buses, clock);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("t.json: devices[2].params.units"));
}

// ---------------------------------------------------------------------------
// Other kinds, neutral knobs, errors.

constexpr const char* kLabBoard = R"({
  "board": "lab-bench",
  "kind": "lab",
  "buses": {"i2c1": {"type": "i2c", "linux": {"device": "/dev/i2c-1"}}},
  "devices": [
    {"name": "env0", "compatible": "bosch,bme280", "bus": "i2c1", "address": "0x77", "sample_ms": 1000},
    {"name": "vib0", "compatible": "adi,adxl345", "bus": "i2c1", "address": "0x53", "sample_ms": 250},
    {"name": "adc0", "compatible": "ti,ads1115", "bus": "i2c1", "address": "0x49", "sample_ms": 1000,
     "params": {"channels": [
       {"name": "motor_current", "input": "ain0-ain1", "pga_v": 1.024, "transducer": "current_transformer",
        "turns_ratio": 2000, "burden_ohm": 33, "cycles": 2},
       {"name": "tank_level", "input": "ain2-ain3", "pga_v": 4.096, "transducer": "loop_4_20ma",
        "shunt_ohm": 165, "range": [20, 120], "unit": "cm"}]}}
  ],
  "report_ms": 10000
})";

TEST(SimWorldOtherKinds, EnvironmentForBme280AndNeutralKnobsForTheRest) {
  auto board = board::ParseBoard(kLabBoard, "lab.json");
  ASSERT_TRUE(board.ok()) << board.status().ToString();
  WorldOptions o;
  o.seed = 2;
  o.start_seconds = 15 * 3600;
  SimNode n(*board, o);
  ASSERT_TRUE(n.ok());
  n.InitAll();
  ASSERT_EQ(n.world().machine(), nullptr);
  ASSERT_EQ(n.world().road(), nullptr);
  ASSERT_NE(n.world().environment(), nullptr);
  int adc = 0, vib = 0;
  n.RunUntil(Sec(10), Ms(250), [&](const std::string& dev, Micros at, const std::vector<Reading>& r, const Status& s) {
    if (dev == "env0") {
      ASSERT_TRUE(s.ok()) << s.ToString();
      const double t = n.world().environment()->At(n.world().PhysicsSeconds(at)).celsius;
      EXPECT_NEAR(Find(r, "temperature")->value, t, 0.05);
    } else if (dev == "adc0") {
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_NEAR(Find(r, "motor_current")->value, 0.0, 0.05);
      EXPECT_NEAR(Find(r, "tank_level")->value, 20.0, 0.1);  // 4 mA: the range's low end
      ++adc;
    } else if (dev == "vib0" && s.ok()) {
      EXPECT_LT(Find(r, "vibration_rms_z")->value, 0.01);  // at rest: sensor noise only
      ++vib;
    }
  });
  EXPECT_GE(adc, 9);
  EXPECT_GE(vib, 30);
}

// One line in firmware/drivers/parts.h registers a part in both worlds: every
// part the board parser knows has a driver factory and a simulator model.
TEST(PartRegistry, EveryPartHasItsFactoryAndItsModel) {
  ASSERT_EQ(board::Compatibles().size(), app::Parts().size());
  for (const board::Compatible* c : board::Compatibles()) {
    const app::Part* part = app::FindPart(c->name);
    ASSERT_NE(part, nullptr) << c->name;
    EXPECT_EQ(&part->facts, c);
    EXPECT_NE(part->build, nullptr) << c->name;
    const PartModelEntry* model = FindPartModel(c->name);
    ASSERT_NE(model, nullptr) << c->name;
    EXPECT_EQ(model->compatible, c->name);
    EXPECT_NE(model->attach, nullptr) << c->name;
  }
  EXPECT_EQ(app::FindPart("acme,widget"), nullptr);
  EXPECT_EQ(FindPartModel("acme,widget"), nullptr);
}

TEST(SimWorldErrors, UnknownPartIsUnimplementedNamingBoardAndDevice) {
  auto parsed = board::ParseBoard(kLabBoard, "lab.json");
  ASSERT_TRUE(parsed.ok());
  board::Board b = *parsed;
  b.devices[1].compatible = "acme,widget";  // a part the table may know but the simulator does not
  ManualClock clock;
  SimBuses buses(clock);
  auto w = SimWorld::Create(b, buses, clock, WorldOptions{});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kUnimplemented);
  EXPECT_THAT(w.status().message(), HasSubstr("lab.json: devices[1] (vib0): no simulator model for \"acme,widget\""));
}

TEST(SimWorldErrors, ClashingAdcWiringIsRejected) {
  // The loop's signal on AIN1, where the current transformer's bias sits.
  std::string json = kLabBoard;
  json.replace(json.find("\"ain2-ain3\""), 11, "\"ain1-ain3\"");
  auto board = board::ParseBoard(json, "lab.json");
  ASSERT_TRUE(board.ok()) << board.status().ToString();
  ManualClock clock;
  SimBuses buses(clock);
  auto w = SimWorld::Create(*board, buses, clock, WorldOptions{});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr("channel tank_level wires AIN1, already wired by channel motor_current"));
}

TEST(SimWorldErrors, BadOptionsAndTakenPlaces) {
  const board::Board b = Load("factory-node.json");
  ManualClock clock;
  SimBuses buses(clock);
  WorldOptions bad;
  bad.time_scale = 0;
  EXPECT_EQ(SimWorld::Create(b, buses, clock, bad).status().code(), StatusCode::kInvalidArgument);
  auto first = SimWorld::Create(b, buses, clock, WorldOptions{});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = SimWorld::Create(b, buses, clock, WorldOptions{});
  EXPECT_EQ(second.status().code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(second.status().message(), HasSubstr("devices[0] (env0)"));
  // The failed world released what it had attached: once the first is gone, a
  // new one fits.
  first->reset();
  EXPECT_TRUE(SimWorld::Create(b, buses, clock, WorldOptions{}).ok());
}

TEST(SimBuses, HandsOutOneObjectPerPlaceAndChecksTypes) {
  const board::Board b = Load("traffic-node.json");
  ManualClock clock;
  SimBuses buses(clock);
  const board::Bus& i2c = *b.FindBus("i2c1");
  const board::Bus& gpio = *b.FindBus("gpio0");
  const board::Bus& uart = *b.FindBus("uart0");
  auto a = buses.I2c(i2c);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, &buses.I2cSim("i2c1"));
  auto l17 = buses.GpioInput(gpio, 17, true, "loop0", 16);
  auto l27 = buses.GpioInput(gpio, 27, true, "loop0", 16);
  ASSERT_TRUE(l17.ok() && l27.ok());
  EXPECT_EQ(*l17, &buses.GpioSim("gpio0", 17));
  EXPECT_NE(*l17, *l27);
  auto u = buses.UartPort(uart);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(*u, &buses.UartSim("uart0"));
  auto wrong = buses.I2c(uart);
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong.status().message(), HasSubstr("uart0 is uart, not i2c"));
  board::Bus spi;
  spi.name = "spi0";
  spi.type = board::BusType::kSpi;
  EXPECT_TRUE(buses.Spi(spi, 3).ok());
  EXPECT_EQ(buses.Spi(spi, 4).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgeforge::sim
