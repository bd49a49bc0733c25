#include "firmware/drivers/loop_detector/loop_detector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "hal/clock.h"
#include "hal/sim/fault.h"
#include "hal/sim/sim_gpio.h"
#include "sim/models/loop_detector_model.h"

namespace edgeforge {
namespace {

using ::testing::HasSubstr;

constexpr Micros Us(int64_t us) { return Micros(us); }
constexpr Micros Ms(int64_t ms) { return Micros(ms * 1000); }

// Hand-computed vectors use spacing 4.0 m and loop length 2.0 m (the config
// defaults). A 4.5 m car at 20 m/s occupies each loop (4.5 + 2) / 20 = 0.325 s
// and reaches the downstream loop 4 / 20 = 0.2 s after the upstream one.
LoopConfig Config() {
  LoopConfig c;
  c.name = "loop0";
  return c;
}

// Feeds edges with consecutive per-line seqnos, like the kernel.
class Feeder {
 public:
  explicit Feeder(LoopPairTracker& t) : t_(t) {}
  Status On(LoopLine line, Micros at) { return Edge(line, GpioEdge::kRising, at); }
  Status Off(LoopLine line, Micros at) { return Edge(line, GpioEdge::kFalling, at); }
  Status Edge(LoopLine line, GpioEdge edge, Micros at) {
    return t_.OnEvent(line, {edge, at, ++seq_[static_cast<size_t>(line)]});
  }
  // One vehicle: the four edges in time order.
  void Vehicle(Micros up_on, Micros up_off, Micros down_on, Micros down_off) {
    struct E {
      LoopLine line;
      GpioEdge edge;
      Micros at;
    };
    std::vector<E> es = {{LoopLine::kUpstream, GpioEdge::kRising, up_on},
                         {LoopLine::kUpstream, GpioEdge::kFalling, up_off},
                         {LoopLine::kDownstream, GpioEdge::kRising, down_on},
                         {LoopLine::kDownstream, GpioEdge::kFalling, down_off}};
    std::stable_sort(es.begin(), es.end(), [](const E& a, const E& b) { return a.at < b.at; });
    for (const E& e : es) ASSERT_TRUE(Edge(e.line, e.edge, e.at).ok());
  }

 private:
  LoopPairTracker& t_;
  uint64_t seq_[2] = {0, 0};
};

// ---------------------------------------------------------------------------
// Pure functions.

TEST(LoopFormulas, TrapSpeedAndEffectiveLength) {
  EXPECT_DOUBLE_EQ(*TrapSpeedMps(4.0, Ms(200)), 20.0);
  EXPECT_FALSE(TrapSpeedMps(4.0, Us(0)).has_value());
  EXPECT_FALSE(TrapSpeedMps(4.0, Us(-5)).has_value());
  // 20 m/s * 0.325 s - 2.0 m = 4.5 m
  EXPECT_DOUBLE_EQ(EffectiveLengthM(20.0, Us(325'000), 2.0), 4.5);
  EXPECT_DOUBLE_EQ(EffectiveLengthM(20.0, Us(50'000), 2.0), 0.0);  // never negative
}

TEST(LoopFormulas, LengthClassBoundaries) {
  const LoopConfig c = Config();
  EXPECT_EQ(ClassifyLength(4.5, c), LengthClass::kShort);
  EXPECT_EQ(ClassifyLength(5.59, c), LengthClass::kShort);
  EXPECT_EQ(ClassifyLength(5.6, c), LengthClass::kMedium);
  EXPECT_EQ(ClassifyLength(12.2, c), LengthClass::kMedium);
  EXPECT_EQ(ClassifyLength(12.21, c), LengthClass::kLong);
  EXPECT_EQ(ClassifyLength(-1, c), LengthClass::kUnknown);
}

TEST(LoopFormulas, ConfigValidationNamesTheField) {
  LoopConfig c = Config();
  EXPECT_TRUE(ValidateLoopConfig(c).ok());
  c.spacing_m = 0;
  Status s = ValidateLoopConfig(c);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("loop0: spacing_m"));
  c = Config();
  c.min_speed_kmh = 300;
  EXPECT_THAT(ValidateLoopConfig(c).message(), HasSubstr("min_speed_kmh < max_speed_kmh"));
}

// ---------------------------------------------------------------------------
// Tracker vectors.

TEST(LoopPairTracker, SingleVehicleSpeedAndLengthExact) {
  LoopPairTracker t(Config(), Us(0));
  Feeder f(t);
  f.Vehicle(Ms(1000), Ms(1325), Ms(1200), Ms(1525));
  LoopPeriod p = t.TakePeriod(Ms(2000));
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  ASSERT_EQ(p.count(), 1u);
  const LoopVehicle& v = p.vehicles[0];
  EXPECT_EQ(v.flag, VehicleFlag::kOk);
  EXPECT_EQ(v.detected, Ms(1000));
  EXPECT_EQ(v.on_time, Ms(325));
  EXPECT_DOUBLE_EQ(*v.speed_mps, 20.0);  // both edge pairs: 4 m / 0.2 s
  EXPECT_DOUBLE_EQ(*v.length_m, 4.5);
  EXPECT_EQ(v.length_class, LengthClass::kShort);
  EXPECT_EQ(p.errors, 0u);
  EXPECT_DOUBLE_EQ(p.occupancy_pct, 100.0 * 0.325 / 2.0);  // 16.25 %
}

TEST(LoopPairTracker, LeadingAndTrailingEstimatesAreAveraged) {
  LoopPairTracker t(Config(), Us(0));
  Feeder f(t);
  // Leading: 4 / 0.2 = 20 m/s. Trailing: 4 / 0.19 = 21.0526 m/s (accelerating).
  f.Vehicle(Ms(0), Ms(325), Ms(200), Ms(515));
  LoopPeriod p = t.TakePeriod(Ms(1000));
  ASSERT_EQ(p.count(), 1u);
  const double expected = (20.0 + 4.0 / 0.19) / 2;
  EXPECT_NEAR(*p.vehicles[0].speed_mps, expected, 1e-9);
  EXPECT_NEAR(*p.vehicles[0].length_m, expected * 0.325 - 2.0, 1e-9);
}

TEST(LoopPairTracker, OnePlausibleEstimateIsUsedAlone) {
  LoopPairTracker t(Config(), Us(0));
  Feeder f(t);
  // Trailing edges 1 ms apart: 4000 m/s, implausible; leading 20 m/s stands.
  f.Vehicle(Ms(0), Ms(325), Ms(200), Ms(326));
  LoopPeriod p = t.TakePeriod(Ms(1000));
  ASSERT_EQ(p.count(), 1u);
  EXPECT_DOUBLE_EQ(*p.vehicles[0].speed_mps, 20.0);
}

TEST(LoopPairTracker, TwoVehiclesShortAndLong) {
  LoopPairTracker t(Config(), Us(0));
  Feeder f(t);
  f.Vehicle(Ms(1000), Ms(1325), Ms(1200), Ms(1525));  // 4.5 m car, 20 m/s
  // 16.5 m truck at 25 m/s: on (16.5 + 2) / 25 = 0.74 s, 4 / 25 = 0.16 s between loops.
  f.Vehicle(Ms(3000), Ms(3740), Ms(3160), Ms(3900));
  LoopPeriod p = t.TakePeriod(Ms(10'000));
  ASSERT_TRUE(p.status.ok());
  ASSERT_EQ(p.count(), 2u);
  EXPECT_DOUBLE_EQ(*p.vehicles[0].speed_mps, 20.0);
  EXPECT_EQ(p.vehicles[0].length_class, LengthClass::kShort);
  EXPECT_DOUBLE_EQ(*p.vehicles[1].speed_mps, 25.0);
  EXPECT_NEAR(*p.vehicles[1].length_m, 16.5, 1e-9);
  EXPECT_EQ(p.vehicles[1].length_class, LengthClass::kLong);
  EXPECT_NEAR(p.occupancy_pct, 100.0 * (0.325 + 0.74) / 10.0, 1e-9);
  // The next period starts empty.
  LoopPeriod q = t.TakePeriod(Ms(11'000));
  EXPECT_EQ(q.count(), 0u);
  EXPECT_EQ(q.start, Ms(10'000));
  EXPECT_DOUBLE_EQ(q.occupancy_pct, 0.0);
}

TEST(LoopPairTracker, OccupancyOfAVehicleStraddlingThePeriodBoundary) {
  LoopPairTracker t(Config(), Us(0));
  Feeder f(t);
  ASSERT_TRUE(f.On(LoopLine::kUpstream, Ms(900)).ok());
  LoopPeriod p1 = t.TakePeriod(Ms(1000));
  EXPECT_NEAR(p1.occupancy_pct, 10.0, 1e-9);  // 0.9..1.0 of 0..1 s
  ASSERT_TRUE(f.On(LoopLine::kDownstream, Ms(1100)).ok());
  ASSERT_TRUE(f.Off(LoopLine::kUpstream, Ms(1300)).ok());
  ASSERT_TRUE(f.Off(LoopLine::kDownstream, Ms(1500)).ok());
  LoopPeriod p2 = t.TakePeriod(Ms(2000));
  EXPECT_NEAR(p2.occupancy_pct, 30.0, 1e-9);  // 1.0..1.3 of 1..2 s
  ASSERT_EQ(p2.count(), 1u);                  // counted when its record completes
  EXPECT_EQ(p2.vehicles[0].on_time, Ms(400));
  EXPECT_DOUBLE_EQ(*p2.vehicles[0].speed_mps, 20.0);
}

TEST(LoopPairTracker, SeqnoGapIsDataLossSayingHowMany) {
  LoopPairTracker t(Config(), Us(0));
  ASSERT_TRUE(t.OnEvent(LoopLine::kUpstream, {GpioEdge::kRising, Ms(100), 1}).ok());
  Status s = t.OnEvent(LoopLine::kUpstream, {GpioEdge::kFalling, Ms(900), 4});
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("2 edge(s) lost on upstream (seqno 4 after 1)"));
  LoopPeriod p = t.TakePeriod(Ms(1000));
  EXPECT_EQ(p.status.code(), StatusCode::kDataLoss);
  EXPECT_EQ(p.lost_events, 2u);
  EXPECT_THAT(p.status.message(), HasSubstr("loop0: 2 edge(s) lost"));
  // The vehicle waiting for the downstream loop is counted, without speed.
  ASSERT_EQ(p.count(), 1u);
  EXPECT_EQ(p.vehicles[0].flag, VehicleFlag::kEventsLost);
  EXPECT_FALSE(p.vehicles[0].speed_mps.has_value());
  // The next period is clean again.
  EXPECT_TRUE(t.TakePeriod(Ms(2000)).status.ok());
}

TEST(LoopPairTracker, StuckDetectorUntilItClears) {
  LoopPairTracker t(Config(), Us(0));
  Feeder f(t);
  ASSERT_TRUE(f.On(LoopLine::kUpstream, Ms(1000)).ok());
  EXPECT_TRUE(t.TakePeriod(Ms(60'000)).status.ok());
  EXPECT_TRUE(t.Health(Ms(121'000)).ok());  // 120 s exactly is still allowed
  LoopPeriod p = t.TakePeriod(Ms(122'000));
  EXPECT_EQ(p.status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(p.status.message(), HasSubstr("loop0 upstream: occupied for 121.0 s"));
  EXPECT_THAT(p.status.message(), HasSubstr("stuck detector"));
  EXPECT_DOUBLE_EQ(p.occupancy_pct, 100.0);
  ASSERT_TRUE(f.Off(LoopLine::kUpstream, Ms(125'000)).ok());
  LoopPeriod q = t.TakePeriod(Ms(130'000));
  EXPECT_TRUE(q.status.ok()) << q.status.ToString();
  // The 124 s pulse never reached the downstream loop: one vehicle, no speed.
  ASSERT_EQ(q.count(), 1u);
  EXPECT_EQ(q.vehicles[0].flag, VehicleFlag::kNoDownstream);
}

TEST(LoopPairTracker, ImplausibleSpeedIsCountedWithoutSpeed) {
  LoopPairTracker t(Config(), Us(0));
  Feeder f(t);
  // 5 ms between the loops both ways: 800 m/s.
  f.Vehicle(Ms(0), Ms(325), Ms(5), Ms(330));
  // 2 s between the loops both ways: 2 m/s = 7.2 km/h, slow but plausible.
  f.Vehicle(Ms(1000), Ms(1325), Ms(3000), Ms(3325));
  LoopPeriod p = t.TakePeriod(Ms(4000));
  ASSERT_EQ(p.count(), 2u);
  EXPECT_EQ(p.vehicles[0].flag, VehicleFlag::kImplausibleSpeed);
  EXPECT_FALSE(p.vehicles[0].speed_mps.has_value());
  EXPECT_EQ(p.vehicles[0].length_class, LengthClass::kUnknown);
  EXPECT_EQ(p.vehicles[1].flag, VehicleFlag::kOk);
  EXPECT_DOUBLE_EQ(*p.vehicles[1].speed_mps, 2.0);
  EXPECT_EQ(p.errors, 1u);
}

TEST(LoopPairTracker, InconsistentEdgeSpeedsAreRejected) {
  LoopPairTracker t(Config(), Us(0));
  Feeder f(t);
  // Leading 20 m/s, trailing 10 m/s: both plausible, 50 % apart.
  f.Vehicle(Ms(0), Ms(325), Ms(200), Ms(725));
  LoopPeriod p = t.TakePeriod(Ms(1000));
  ASSERT_EQ(p.count(), 1u);
  EXPECT_EQ(p.vehicles[0].flag, VehicleFlag::kInconsistent);
  EXPECT_EQ(p.errors, 1u);
}

TEST(LoopPairTracker, DownstreamWithoutUpstream) {
  LoopPairTracker t(Config(), Us(0));
  Feeder f(t);
  ASSERT_TRUE(f.On(LoopLine::kDownstream, Ms(100)).ok());
  ASSERT_TRUE(f.Off(LoopLine::kDownstream, Ms(400)).ok());
  LoopPeriod p = t.TakePeriod(Ms(1000));
  ASSERT_EQ(p.count(), 1u);
  EXPECT_EQ(p.vehicles[0].flag, VehicleFlag::kNoUpstream);
  EXPECT_EQ(p.vehicles[0].detected, Ms(100));
  EXPECT_EQ(p.errors, 1u);
  EXPECT_DOUBLE_EQ(p.occupancy_pct, 0.0);  // occupancy is the upstream loop's
}

TEST(LoopPairTracker, UpstreamWithoutDownstreamIsGivenUpAfterThePairingWindow) {
  LoopPairTracker t(Config(), Us(0));
  Feeder f(t);
  ASSERT_TRUE(f.On(LoopLine::kUpstream, Ms(0)).ok());
  ASSERT_TRUE(f.Off(LoopLine::kUpstream, Ms(325)).ok());
  EXPECT_EQ(t.TakePeriod(Ms(4000)).count(), 0u);  // a 3 km/h vehicle could still arrive
  LoopPeriod p = t.TakePeriod(Ms(5000));          // 4 m at 3 km/h: 4.8 s
  ASSERT_EQ(p.count(), 1u);
  EXPECT_EQ(p.vehicles[0].flag, VehicleFlag::kNoDownstream);
}

TEST(LoopPairTracker, RetriggerWhileOccupiedIsAnError) {
  LoopPairTracker t(Config(), Us(0));
  Feeder f(t);
  ASSERT_TRUE(f.On(LoopLine::kUpstream, Ms(0)).ok());
  ASSERT_TRUE(f.On(LoopLine::kUpstream, Ms(100)).ok());  // on-edge on an occupied loop
  ASSERT_TRUE(f.On(LoopLine::kDownstream, Ms(300)).ok());
  ASSERT_TRUE(f.Off(LoopLine::kUpstream, Ms(425)).ok());
  ASSERT_TRUE(f.Off(LoopLine::kDownstream, Ms(625)).ok());
  ASSERT_TRUE(f.Off(LoopLine::kDownstream, Ms(700)).ok());  // off-edge on a free loop
  LoopPeriod p = t.TakePeriod(Ms(6000));
  ASSERT_EQ(p.count(), 2u);
  // Pairing is FIFO: the first upstream presence (cut short at 100 ms by the
  // re-trigger) takes the downstream one: leading 4 / 0.3 = 13.3 m/s,
  // trailing 4 / 0.525 = 7.6 m/s, inconsistent. The second never pairs.
  EXPECT_EQ(p.vehicles[0].detected, Ms(0));
  EXPECT_EQ(p.vehicles[0].flag, VehicleFlag::kInconsistent);
  EXPECT_EQ(p.vehicles[1].detected, Ms(100));
  EXPECT_EQ(p.vehicles[1].flag, VehicleFlag::kNoDownstream);
  EXPECT_EQ(p.errors, 4u);  // two edge-sequence errors + two vehicles without speed
  EXPECT_NEAR(p.occupancy_pct, 100.0 * 0.425 / 6.0, 1e-9);
}

TEST(LoopPairTracker, VehicleStandingOnTheLoopAtStart) {
  LoopPairTracker t(Config(), Ms(0));
  t.SetLevels(true, false, Ms(0));
  Feeder f(t);
  ASSERT_TRUE(f.Off(LoopLine::kUpstream, Ms(500)).ok());
  LoopPeriod p = t.TakePeriod(Ms(1000));
  EXPECT_EQ(p.errors, 0u);  // the off-edge matches the level read at start
  EXPECT_NEAR(p.occupancy_pct, 50.0, 1e-9);
}

// ---------------------------------------------------------------------------
// Driver + model over simulated GPIO lines.

class LoopDetectorTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  SimGpioLine up_{clock_, SimGpioLine::Direction::kInput};
  SimGpioLine down_{clock_, SimGpioLine::Direction::kInput};
  LoopDetectorModel model_{up_, down_, LoopGeometry{4.0, 2.0}};
  LoopDetector detector_{up_, down_, clock_, Config()};
};

TEST_F(LoopDetectorTest, VehiclesAtKnownSpeedAndLength) {
  ASSERT_TRUE(detector_.Init().ok());
  ASSERT_TRUE(model_.AddVehicle(Ms(1000), 20.0, 4.5).ok());   // car
  ASSERT_TRUE(model_.AddVehicle(Ms(3000), 25.0, 16.5).ok());  // articulated truck
  ASSERT_TRUE(model_.AddVehicle(Ms(5000), 16.0, 10.0).ok());  // bus
  ASSERT_TRUE(model_.Flush().ok());
  clock_.Advance(Ms(10'000));
  ASSERT_TRUE(detector_.Poll().ok());
  LoopPeriod p = detector_.TakePeriod();
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  ASSERT_EQ(p.count(), 3u);
  const double speeds[] = {20.0, 25.0, 16.0};
  const double lengths[] = {4.5, 16.5, 10.0};
  const LengthClass classes[] = {LengthClass::kShort, LengthClass::kLong, LengthClass::kMedium};
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(p.vehicles[i].speed_mps.has_value()) << i;
    EXPECT_NEAR(*p.vehicles[i].speed_mps, speeds[i], 1e-3) << i;  // edges rounded to 1 us
    EXPECT_NEAR(*p.vehicles[i].length_m, lengths[i], 1e-3) << i;
    EXPECT_EQ(p.vehicles[i].length_class, classes[i]) << i;
  }
  EXPECT_NEAR(p.occupancy_pct, 100.0 * (0.325 + 0.74 + 0.75) / 10.0, 1e-3);
}

TEST_F(LoopDetectorTest, EdgesAreOnlySeenOnceTheClockReachesThem) {
  ASSERT_TRUE(detector_.Init().ok());
  ASSERT_TRUE(model_.AddVehicle(Ms(1000), 20.0, 4.5).ok());
  ASSERT_TRUE(model_.Flush().ok());
  clock_.Advance(Ms(1250));  // up on, down on; nobody has left
  ASSERT_TRUE(detector_.Poll().ok());
  LoopPeriod p1 = detector_.TakePeriod();
  EXPECT_EQ(p1.count(), 0u);
  EXPECT_NEAR(p1.occupancy_pct, 100.0 * 0.25 / 1.25, 1e-6);
  clock_.Advance(Ms(750));
  ASSERT_TRUE(detector_.Poll().ok());
  LoopPeriod p2 = detector_.TakePeriod();
  ASSERT_EQ(p2.count(), 1u);
  EXPECT_NEAR(*p2.vehicles[0].speed_mps, 20.0, 1e-3);
}

TEST_F(LoopDetectorTest, BackendBufferOverflowIsDataLoss) {
  ASSERT_TRUE(detector_.Init().ok());
  // 10 vehicles = 20 edges per line, the backend buffers 16: 4 lost per line.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(model_.AddVehicle(Ms(1000 + 2000 * i), 20.0, 4.5).ok());
  ASSERT_TRUE(model_.Flush().ok());
  clock_.Advance(Ms(30'000));
  ASSERT_TRUE(detector_.Poll().ok());
  LoopPeriod p = detector_.TakePeriod();
  EXPECT_EQ(up_.dropped_events(), 4u);
  EXPECT_EQ(p.status.code(), StatusCode::kDataLoss);
  EXPECT_EQ(p.lost_events, 8u);
  EXPECT_THAT(p.status.message(), HasSubstr("edge(s) lost"));
}

TEST_F(LoopDetectorTest, StuckDetectorThroughTheLines) {
  ASSERT_TRUE(detector_.Init().ok());
  ASSERT_TRUE(up_.Drive(true, Ms(1000)).ok());  // the card's output latches on
  clock_.Advance(Ms(200'000));
  ASSERT_TRUE(detector_.Poll().ok());
  LoopPeriod p = detector_.TakePeriod();
  EXPECT_EQ(p.status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(p.status.message(), HasSubstr("loop0 upstream: occupied for 199.0 s"));
}

TEST_F(LoopDetectorTest, InitSeedsALoopThatIsAlreadyOccupied) {
  ASSERT_TRUE(up_.Drive(true, Us(0)).ok());
  ASSERT_TRUE(detector_.Init().ok());  // reads the level: occupied
  ASSERT_TRUE(up_.Drive(false, Ms(400)).ok());
  clock_.Advance(Ms(1000));
  ASSERT_TRUE(detector_.Poll().ok());
  LoopPeriod p = detector_.TakePeriod();
  EXPECT_EQ(p.errors, 0u);
  EXPECT_NEAR(p.occupancy_pct, 40.0, 1e-6);
}

TEST_F(LoopDetectorTest, DisconnectedUpstreamLineGivesVehiclesWithoutSpeed) {
  ASSERT_TRUE(detector_.Init().ok());
  up_.InjectFault(FaultSpec{FaultKind::kDisconnect});
  ASSERT_TRUE(model_.AddVehicle(Ms(1000), 20.0, 4.5).ok());
  ASSERT_TRUE(model_.AddVehicle(Ms(3000), 20.0, 4.5).ok());
  ASSERT_TRUE(model_.Flush().ok());
  clock_.Advance(Ms(5000));
  ASSERT_TRUE(detector_.Poll().ok());
  LoopPeriod p = detector_.TakePeriod();
  // The cut wire loses the upstream edges (the kernel never saw them): the
  // downstream loop still counts the vehicles, but no speed can be measured.
  EXPECT_TRUE(p.status.ok()) << p.status.ToString();
  ASSERT_EQ(p.count(), 2u);
  for (const LoopVehicle& v : p.vehicles) {
    EXPECT_EQ(v.flag, VehicleFlag::kNoUpstream);
    EXPECT_FALSE(v.speed_mps.has_value());
  }
  EXPECT_EQ(p.errors, 2u);
  EXPECT_DOUBLE_EQ(p.occupancy_pct, 0.0);
  // Repaired: the next vehicle is measured again.
  up_.ClearFault();
  ASSERT_TRUE(model_.AddVehicle(Ms(6000), 20.0, 4.5).ok());
  ASSERT_TRUE(model_.Flush().ok());
  clock_.Advance(Ms(2000));
  ASSERT_TRUE(detector_.Poll().ok());
  LoopPeriod q = detector_.TakePeriod();
  ASSERT_EQ(q.count(), 1u);
  ASSERT_TRUE(q.vehicles[0].speed_mps.has_value());
  EXPECT_NEAR(*q.vehicles[0].speed_mps, 20.0, 1e-3);
}

}  // namespace
}  // namespace edgeforge
