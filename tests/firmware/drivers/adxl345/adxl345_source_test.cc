#include "firmware/drivers/adxl345/adxl345_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "firmware/telemetry/telemetry.h"
#include "hal/clock.h"
#include "hal/sim/fault.h"
#include "hal/sim/sim_i2c_bus.h"
#include "hal/sim/sim_spi_bus.h"
#include "sim/models/adxl345_model.h"

namespace edgeforge::app {
namespace {

using telemetry::Aggregation;
using telemetry::Reading;
using ::testing::HasSubstr;

constexpr double kSqrt2 = 1.41421356237309504880;
constexpr uint8_t kCs = 1;
// 250 ms at 100 Hz: 25 samples per Sample(), within the 32-deep FIFO.
constexpr Millis kSamplePeriod{250};

class Adxl345SourceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(spi_.Attach(kCs, model_).ok()); }

  Status SampleAfter(Millis gap, std::vector<Reading>& out) {
    clock_.Advance(gap);
    out.clear();
    return source_.Sample(out);
  }

  static void ExpectAllFaulted(const std::vector<Reading>& r, const std::string& text) {
    ASSERT_EQ(r.size(), 5u);
    for (const Reading& reading : r) {
      EXPECT_THAT(reading.fault, HasSubstr("vib0: ")) << reading.name;
      EXPECT_THAT(reading.fault, HasSubstr(text)) << reading.name;
      EXPECT_EQ(reading.value, 0.0);
    }
  }
  static void ExpectHealthy(const std::vector<Reading>& r) {
    ASSERT_EQ(r.size(), 5u);
    for (const Reading& reading : r) EXPECT_EQ(reading.fault, "") << reading.name;
  }

  ManualClock clock_;
  SimSpiBus spi_;
  Adxl345Model model_{clock_};
  Adxl345SpiBus transport_{*spi_.Device(kCs).value(), "spi0.1"};
  Adxl345 sensor_{transport_, clock_, Adxl345Config{100.0}};
  Adxl345Source source_{"vib0", sensor_};
};

TEST_F(Adxl345SourceTest, ChannelsUnitsAggregationAndValues) {
  Adxl345Model::Vibration v;
  v.gravity_g[2] = 1.0;
  v.rms_g[0] = 0.05;
  v.rms_g[1] = 0.1;
  v.rms_g[2] = 0.2;
  v.frequency_hz = 12.5;  // 8 samples per cycle at 100 Hz: a 240 ms window is 3 whole cycles
  model_.SetVibration(v);
  ASSERT_TRUE(source_.Init().ok());
  std::vector<Reading> r;
  ASSERT_TRUE(SampleAfter(Millis(240), r).ok());  // 23 samples after the 1.1 ms turn-on
  ASSERT_TRUE(SampleAfter(Millis(240), r).ok());  // 24
  ExpectHealthy(r);
  const char* names[] = {"vibration_rms_x", "vibration_rms_y", "vibration_rms_z", "vibration_peak", "vibration_crest"};
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(r[i].name, names[i]);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r[i].unit, "[g]");
    EXPECT_EQ(r[i].agg, Aggregation::kRms);
    EXPECT_NEAR(r[i].value, v.rms_g[i], 0.02 * v.rms_g[i] + 0.0005) << names[i];
  }
  EXPECT_EQ(r[3].unit, "[g]");
  EXPECT_EQ(r[3].agg, Aggregation::kMean);
  const double total = std::sqrt(0.05 * 0.05 + 0.1 * 0.1 + 0.2 * 0.2);
  EXPECT_NEAR(r[3].value, kSqrt2 * total, 0.02 * kSqrt2 * total);
  EXPECT_EQ(r[4].unit, "1");
  EXPECT_EQ(r[4].agg, Aggregation::kMean);
  EXPECT_NEAR(r[4].value, kSqrt2, 0.02 * kSqrt2);
  // Rounded to the resolution: 1 mg for g values (one LSB is 3.9 mg), 0.01 for the crest.
  for (size_t i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(r[i].value, std::round(r[i].value * 1000) / 1000) << names[i];
  EXPECT_DOUBLE_EQ(r[4].value, std::round(r[4].value * 100) / 100);
}

TEST_F(Adxl345SourceTest, StillMachineIsZeroVibrationNotAFault) {
  ASSERT_TRUE(source_.Init().ok());
  std::vector<Reading> r;
  ASSERT_TRUE(SampleAfter(kSamplePeriod, r).ok());
  ExpectHealthy(r);
  for (const Reading& reading : r) EXPECT_EQ(reading.value, 0.0) << reading.name;
}

TEST_F(Adxl345SourceTest, SampleRightAfterInitIsAFaultButStaysReady) {
  ASSERT_TRUE(source_.Init().ok());
  std::vector<Reading> r;
  Status s = source_.Sample(r);  // nothing due yet
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  ExpectAllFaulted(r, "FIFO empty");
  // Not re-initialised: the FIFO keeps filling and the next sample has data.
  ASSERT_TRUE(SampleAfter(kSamplePeriod, r).ok());
  ExpectHealthy(r);
}

TEST_F(Adxl345SourceTest, MissingChipThenPluggedIn) {
  spi_.Detach(kCs);
  EXPECT_EQ(source_.Init().code(), StatusCode::kUnavailable);
  std::vector<Reading> r;
  Status s = SampleAfter(kSamplePeriod, r);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  ExpectAllFaulted(r, "adxl345@spi0.1: device id 0xff");
  EXPECT_EQ(r[0].agg, Aggregation::kRms);
  EXPECT_EQ(r[4].unit, "1");
  ASSERT_TRUE(spi_.Attach(kCs, model_).ok());
  EXPECT_EQ(SampleAfter(kSamplePeriod, r).code(), StatusCode::kUnavailable);  // re-Init; FIFO just started
  ExpectAllFaulted(r, "FIFO empty");
  EXPECT_TRUE(SampleAfter(kSamplePeriod, r).ok());
  ExpectHealthy(r);
}

TEST_F(Adxl345SourceTest, SpiDisconnectFaultsThenRecoversWhenCleared) {
  ASSERT_TRUE(source_.Init().ok());
  std::vector<Reading> r;
  ASSERT_TRUE(SampleAfter(kSamplePeriod, r).ok());
  spi_.InjectFault(kCs, FaultSpec{FaultKind::kDisconnect});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(SampleAfter(kSamplePeriod, r).code(), StatusCode::kUnavailable);
    ExpectAllFaulted(r, "adxl345@spi0.1: ");
  }
  spi_.ClearFault(kCs);
  EXPECT_EQ(SampleAfter(kSamplePeriod, r).code(), StatusCode::kUnavailable);  // re-Init
  EXPECT_TRUE(SampleAfter(kSamplePeriod, r).ok());
  ExpectHealthy(r);
}

TEST_F(Adxl345SourceTest, PowerCycledChipIsDetectedAndReinitialised) {
  ASSERT_TRUE(source_.Init().ok());
  std::vector<Reading> r;
  ASSERT_TRUE(SampleAfter(kSamplePeriod, r).ok());
  model_.PowerCycle();  // standby, registers at reset values
  EXPECT_EQ(SampleAfter(kSamplePeriod, r).code(), StatusCode::kUnavailable);
  ExpectAllFaulted(r, "no samples: chip not measuring?");
  EXPECT_EQ(SampleAfter(kSamplePeriod, r).code(), StatusCode::kUnavailable);  // re-Init
  EXPECT_TRUE(SampleAfter(kSamplePeriod, r).ok());
  ExpectHealthy(r);
  EXPECT_EQ(model_.Register(adxl345_reg::kDataFormat), 0x0B);
}

// The same over I2C, with a NACK burst of a few transactions.
TEST(Adxl345SourceI2cTest, NackBurstFaultsThenRecovers) {
  ManualClock clock;
  SimI2cBus bus;
  Adxl345Model model(clock);
  ASSERT_TRUE(bus.Attach(0x1D, model).ok());
  Adxl345I2cBus transport(bus, Adxl345I2cBus::kAddressAltHigh);
  Adxl345 sensor(transport, clock, Adxl345Config{100.0});
  Adxl345Source source("vib1", sensor);
  ASSERT_TRUE(source.Init().ok());
  std::vector<Reading> r;
  clock.Advance(kSamplePeriod);
  ASSERT_TRUE(source.Sample(r).ok());
  bus.InjectFault(0x1D, FaultSpec{FaultKind::kNack, 2});
  r.clear();
  clock.Advance(kSamplePeriod);
  Status s = source.Sample(r);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_THAT(r[0].fault, HasSubstr("vib1: UNAVAILABLE: adxl345@0x1d: reading INT_SOURCE: i2c: no ACK from 0x1d"));
  // One more NACK: the re-Init fails once (DEVID), then the fault is spent.
  r.clear();
  clock.Advance(kSamplePeriod);
  EXPECT_EQ(source.Sample(r).code(), StatusCode::kUnavailable);
  r.clear();
  clock.Advance(kSamplePeriod);
  EXPECT_EQ(source.Sample(r).code(), StatusCode::kUnavailable);  // re-Init worked, FIFO just started
  r.clear();
  clock.Advance(kSamplePeriod);
  EXPECT_TRUE(source.Sample(r).ok());
  EXPECT_EQ(bus.faults_hit(0x1D), 2u);
}

}  // namespace
}  // namespace edgeforge::app
