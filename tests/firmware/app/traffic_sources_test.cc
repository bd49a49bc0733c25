// The traffic node's sources over their simulated hardware: a dual-loop
// detector on two GPIO lines and an OPS243-A radar on a UART.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "firmware/drivers/loop_detector/loop_detector_source.h"
#include "firmware/drivers/ops243/radar_source.h"
#include "firmware/telemetry/telemetry.h"
#include "hal/clock.h"
#include "hal/sim/sim_gpio.h"
#include "hal/sim/sim_uart.h"
#include "sim/models/loop_detector_model.h"
#include "sim/models/ops243_model.h"

namespace edgeforge::app {
namespace {

using telemetry::Aggregation;
using telemetry::Reading;
using ::testing::HasSubstr;

constexpr Micros Ms(int64_t ms) { return Micros(ms * 1000); }

std::vector<const Reading*> Named(const std::vector<Reading>& rs, const std::string& name) {
  std::vector<const Reading*> out;
  for (const Reading& r : rs) {
    if (r.name == name) out.push_back(&r);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Loop detector.

class LoopDetectorSourceTest : public ::testing::Test {
 protected:
  static LoopConfig Config() {
    LoopConfig c;
    c.name = "loop0@gpio0";
    return c;
  }
  ManualClock clock_;
  SimGpioLine up_{clock_, SimGpioLine::Direction::kInput};
  SimGpioLine down_{clock_, SimGpioLine::Direction::kInput};
  LoopDetectorModel model_{up_, down_, LoopGeometry{4.0, 2.0}};
  LoopDetector detector_{up_, down_, clock_, Config()};
  LoopDetectorSource source_{"loop0", detector_};
};

TEST_F(LoopDetectorSourceTest, ReadingsOfOnePeriod) {
  ASSERT_TRUE(source_.Init().ok());
  ASSERT_TRUE(model_.AddVehicle(Ms(1000), 20.0, 4.5).ok());   // 72 km/h car
  ASSERT_TRUE(model_.AddVehicle(Ms(3000), 25.0, 16.5).ok());  // 90 km/h truck
  ASSERT_TRUE(model_.AddVehicle(Ms(6000), 15.0, 4.0).ok());   // 54 km/h car
  ASSERT_TRUE(model_.Flush().ok());
  clock_.Advance(Ms(10'000));
  std::vector<Reading> r;
  ASSERT_TRUE(source_.Sample(r).ok());
  ASSERT_EQ(r.size(), 8u);  // count, occupancy, 3 speeds, 3 classes
  EXPECT_EQ(r[0].name, "vehicle_count");
  EXPECT_EQ(r[0].unit, "{vehicle}");
  EXPECT_EQ(r[0].agg, Aggregation::kSum);
  EXPECT_DOUBLE_EQ(r[0].value, 3);
  EXPECT_EQ(r[1].name, "occupancy");
  EXPECT_EQ(r[1].unit, "%");
  EXPECT_EQ(r[1].agg, Aggregation::kMean);
  EXPECT_NEAR(r[1].value, 100.0 * (0.325 + 0.74 + 0.4) / 10.0, 0.051);  // 0.1 % resolution
  const std::vector<const Reading*> speeds = Named(r, "speed");
  ASSERT_EQ(speeds.size(), 3u);
  const double kmh[] = {72.0, 90.0, 54.0};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_DOUBLE_EQ(speeds[i]->value, kmh[i]) << i;  // rounded to 0.1 km/h
    EXPECT_EQ(speeds[i]->unit, "km/h");
    EXPECT_EQ(speeds[i]->agg, Aggregation::kMean);
    EXPECT_TRUE(speeds[i]->fault.empty());
  }
  EXPECT_DOUBLE_EQ(Named(r, "vehicles_short")[0]->value, 2);
  EXPECT_DOUBLE_EQ(Named(r, "vehicles_medium")[0]->value, 0);
  EXPECT_DOUBLE_EQ(Named(r, "vehicles_long")[0]->value, 1);
  EXPECT_EQ(Named(r, "vehicles_long")[0]->agg, Aggregation::kSum);
}

TEST_F(LoopDetectorSourceTest, NoTrafficIsNotAFault) {
  ASSERT_TRUE(source_.Init().ok());
  clock_.Advance(Ms(1000));
  std::vector<Reading> r;
  ASSERT_TRUE(source_.Sample(r).ok());
  EXPECT_EQ(r.size(), 5u);  // no speed readings
  EXPECT_TRUE(Named(r, "speed").empty());
  EXPECT_DOUBLE_EQ(Named(r, "vehicle_count")[0]->value, 0);
  EXPECT_DOUBLE_EQ(Named(r, "occupancy")[0]->value, 0);
  for (const Reading& x : r) EXPECT_TRUE(x.fault.empty()) << x.name;
}

TEST_F(LoopDetectorSourceTest, StuckDetectorFaultsEveryChannel) {
  ASSERT_TRUE(source_.Init().ok());
  ASSERT_TRUE(down_.Drive(true, Ms(500)).ok());
  clock_.Advance(Ms(130'000));
  std::vector<Reading> r;
  Status s = source_.Sample(r);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  ASSERT_EQ(r.size(), 6u);
  for (const Reading& x : r) {
    EXPECT_THAT(x.fault, HasSubstr("loop0: UNAVAILABLE: loop0@gpio0 downstream: occupied for 129.5 s")) << x.name;
    EXPECT_THAT(x.fault, HasSubstr("stuck detector"));
  }
  // It clears: the next period is good again.
  ASSERT_TRUE(down_.Drive(false, Ms(131'000)).ok());
  clock_.Advance(Ms(2000));
  r.clear();
  EXPECT_TRUE(source_.Sample(r).ok());
}

TEST_F(LoopDetectorSourceTest, LostEdgesFaultThePeriod) {
  ASSERT_TRUE(source_.Init().ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(model_.AddVehicle(Ms(1000 + 2000 * i), 20.0, 4.5).ok());
  ASSERT_TRUE(model_.Flush().ok());
  clock_.Advance(Ms(30'000));  // 20 edges per line, the backend buffers 16
  std::vector<Reading> r;
  Status s = source_.Sample(r);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  ASSERT_EQ(r.size(), 6u);
  EXPECT_THAT(r[0].fault, HasSubstr("edge(s) lost"));
}

// ---------------------------------------------------------------------------
// Radar.

class RadarSourceTest : public ::testing::Test {
 protected:
  static Ops243Config Config() {
    Ops243Config c;
    c.name = "radar0@uart0";
    return c;
  }
  ManualClock clock_;
  SimUart uart_{clock_};
  Ops243 radar_{uart_, clock_, Config()};
  RadarSource source_{"radar0", radar_};
};

TEST_F(RadarSourceTest, OneReadingPerReport) {
  Ops243Model model(uart_, clock_);
  ASSERT_TRUE(source_.Init().ok());
  const Micros t = clock_.Monotonic();
  ASSERT_TRUE(model.AddDetection(t + Ms(100), 20.0, true).ok());
  ASSERT_TRUE(model.AddDetection(t + Ms(200), 13.9, false).ok());
  clock_.Advance(Ms(1000));
  std::vector<Reading> r;
  ASSERT_TRUE(source_.Sample(r).ok());
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].name, "radar_speed");
  EXPECT_EQ(r[0].unit, "km/h");
  EXPECT_EQ(r[0].agg, Aggregation::kMean);
  EXPECT_DOUBLE_EQ(r[0].value, 72.0);
  EXPECT_DOUBLE_EQ(r[1].value, 50.0);  // direction is not part of the channel
}

TEST_F(RadarSourceTest, NoTrafficGivesNoReadingsAndNoFault) {
  Ops243Model model(uart_, clock_);
  ASSERT_TRUE(source_.Init().ok());
  clock_.Advance(Ms(1000));
  std::vector<Reading> r;
  EXPECT_TRUE(source_.Sample(r).ok());
  EXPECT_TRUE(r.empty());
}

TEST_F(RadarSourceTest, SilentModuleFaultsThenRecoversWhenItAnswers) {
  std::vector<Reading> r;
  Status s = source_.Sample(r);  // nothing on the port
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].name, "radar_speed");
  EXPECT_EQ(r[0].fault, "radar0: DEADLINE_EXCEEDED: radar0@uart0: no answer to ??");
  Ops243Model model(uart_, clock_);  // plugged in
  r.clear();
  ASSERT_TRUE(source_.Sample(r).ok());  // re-runs Init()
  EXPECT_TRUE(model.json());
  ASSERT_TRUE(model.AddDetection(clock_.Monotonic() + Ms(10), 20.0, true).ok());
  clock_.Advance(Ms(100));
  r.clear();
  ASSERT_TRUE(source_.Sample(r).ok());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_DOUBLE_EQ(r[0].value, 72.0);
}

TEST_F(RadarSourceTest, BadLineKeepsGoodReportsAndAddsAFault) {
  Ops243Model model(uart_, clock_);
  ASSERT_TRUE(source_.Init().ok());
  const uint64_t commands = model.commands();
  const Micros t = clock_.Monotonic();
  ASSERT_TRUE(model.AddDetection(t + Ms(10), 20.0, true).ok());
  ASSERT_TRUE(uart_.Feed(AsBytes("{\"speed\":12.3.4}\r\n"), t + Ms(20)).ok());
  clock_.Advance(Ms(100));
  std::vector<Reading> r;
  Status s = source_.Sample(r);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(r[0].fault.empty());
  EXPECT_DOUBLE_EQ(r[0].value, 72.0);
  EXPECT_THAT(r[1].fault, HasSubstr("radar0: DATA_LOSS: 1 bad and 0 over-long line(s)"));
  EXPECT_THAT(r[1].fault, HasSubstr("12.3.4"));
  // A corrupt line is no reason to reconfigure the module.
  clock_.Advance(Ms(1000));
  r.clear();
  EXPECT_TRUE(source_.Sample(r).ok());
  EXPECT_EQ(model.commands(), commands);
}

TEST_F(RadarSourceTest, PowerCycledModuleIsReconfigured) {
  Ops243Model model(uart_, clock_);
  ASSERT_TRUE(source_.Init().ok());
  model.PowerCycle();
  ASSERT_TRUE(model.AddDetection(clock_.Monotonic() + Ms(10), 20.0, true).ok());  // "20.00" m/s, plain
  clock_.Advance(Ms(100));
  std::vector<Reading> r;
  EXPECT_EQ(source_.Sample(r).code(), StatusCode::kDataLoss);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_THAT(r[0].fault, HasSubstr("lost its settings"));
  r.clear();
  ASSERT_TRUE(source_.Sample(r).ok());  // Init() again
  EXPECT_TRUE(model.json());
  EXPECT_EQ(model.unit(), Ops243Unit::kKilometersPerHour);
}

}  // namespace
}  // namespace edgeforge::app
